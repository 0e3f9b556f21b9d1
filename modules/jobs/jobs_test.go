package jobs_test

import (
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/redifx/redifx/modules/jobs"
	"github.com/redifx/redifx/modules/redis"
	"github.com/redifx/redifx/modules/redis/redistest"
)

func TestLifecycleOfAJobAndItsEvents(t *testing.T) {
	srv := redistest.Start(t)
	rec := &recorder{}
	in := startInstance(t, srv.URL(), &counters{}, rec)
	tok := token(t, "acme", allPerms...)
	created := time.Now()
	j := create(t, in, tok, map[string]any{"job_type": "sleep", "title": "nap", "parameters": map[string]any{"duration": "300ms", "steps": 3}, "items_total": 3, "priority": "high"})
	id := j["id"].(string)
	if (j["status"] != "pending" && j["status"] != "running") || j["tenant_id"] != "acme" || j["created_by"] != "user-acme" || j["priority"] != "high" {
		t.Errorf("created: %v", j)
	}
	done := waitStatus(t, in, tok, id, "completed", 5*time.Second)
	if done["progress_percent"] != 100.0 || done["items_processed"] != 3.0 || done["result"].(map[string]any)["steps"] != 3.0 {
		t.Errorf("completed job: %v", done)
	}
	for _, f := range []string{"created_at", "started_at", "completed_at"} {
		if _, err := time.Parse(time.RFC3339, done[f].(string)); err != nil {
			t.Errorf("%s not RFC 3339: %v", f, done[f])
		}
	}
	started, _ := time.Parse(time.RFC3339Nano, done["started_at"].(string))
	if pickup := started.Sub(created); pickup > time.Second {
		t.Errorf("pickup took %s on an idle queue", pickup)
	}
	got := strings.Join(rec.types(id), ",")
	for _, want := range []string{"job.created", "job.started", "job.progress", "job.completed"} {
		if !strings.Contains(got, want) {
			t.Errorf("events %s lack %s", got, want)
		}
	}
	// Listing and statistics.
	code, list := call(t, "GET", in.base+"/api/v1/jobs?job_type=sleep&status=completed&page=1&page_size=10", tok, nil)
	if code != 200 || list["total"] != 1.0 || list["has_more"] != false || len(list["jobs"].([]any)) != 1 {
		t.Errorf("list: %d %v", code, list)
	}
	code, stats := call(t, "GET", in.base+"/api/v1/jobs/statistics", tok, nil)
	if code != 200 || stats["by_status"].(map[string]any)["completed"] != 1.0 || stats["success_rate"] != 1.0 || stats["avg_duration_seconds"] == nil {
		t.Errorf("statistics: %d %v", code, stats)
	}
}

func TestIdempotencyKey(t *testing.T) {
	srv := redistest.Start(t)
	in := startInstance(t, srv.URL(), &counters{}, nil, noWorkers)
	tok := token(t, "acme", allPerms...)
	body := map[string]any{"job_type": "noop", "title": "once"}
	code, first := call(t, "POST", in.base+"/api/v1/jobs", tok, body, "Idempotency-Key", "k-1")
	if code != 201 {
		t.Fatalf("%d %v", code, first)
	}
	code, again := call(t, "POST", in.base+"/api/v1/jobs", tok, body, "Idempotency-Key", "k-1")
	if code != 200 || again["id"] != first["id"] {
		t.Errorf("same key and body: %d %v", code, again)
	}
	code, other := call(t, "POST", in.base+"/api/v1/jobs", tok, map[string]any{"job_type": "noop", "title": "different"}, "Idempotency-Key", "k-1")
	if code != 422 {
		t.Errorf("same key, other body: %d %v", code, other)
	}
	// Another tenant's key is its own.
	code, theirs := call(t, "POST", in.base+"/api/v1/jobs", token(t, "globex", allPerms...), body, "Idempotency-Key", "k-1")
	if code != 201 || theirs["id"] == first["id"] {
		t.Errorf("other tenant, same key: %d %v", code, theirs)
	}
	_, list := call(t, "GET", in.base+"/api/v1/jobs", tok, nil)
	if list["total"] != 1.0 {
		t.Errorf("acme has %v jobs", list["total"])
	}
}

func TestPermissionsAndTenantIsolationOnEveryEndpoint(t *testing.T) {
	srv := redistest.Start(t)
	in := startInstance(t, srv.URL(), &counters{}, nil, noWorkers)
	acme := token(t, "acme", allPerms...)
	job := create(t, in, acme, map[string]any{"job_type": "noop"})["id"].(string)
	code, sched := call(t, "POST", in.base+"/api/v1/jobs/scheduler/scheduled-jobs", acme, map[string]any{"name": "n", "job_type": "noop", "interval_seconds": 3600})
	if code != 201 {
		t.Fatalf("schedule: %d %v", code, sched)
	}
	sid := sched["id"].(string)
	endpoints := []struct {
		method, path, perm string
		body               any
	}{
		{"POST", "/api/v1/jobs", "jobs.write", map[string]any{"job_type": "noop", "title": "x"}},
		{"GET", "/api/v1/jobs", "jobs.read", nil},
		{"GET", "/api/v1/jobs/statistics", "jobs.read", nil},
		{"GET", "/api/v1/jobs/" + job, "jobs.read", nil},
		{"POST", "/api/v1/jobs/" + job + "/cancel", "jobs.cancel", nil},
		{"POST", "/api/v1/jobs/" + job + "/retry", "jobs.write", nil},
		{"POST", "/api/v1/jobs/scheduler/scheduled-jobs", "jobs.schedule", map[string]any{"name": "n", "job_type": "noop", "interval_seconds": 60}},
		{"GET", "/api/v1/jobs/scheduler/scheduled-jobs", "jobs.read", nil},
		{"GET", "/api/v1/jobs/scheduler/scheduled-jobs/" + sid, "jobs.read", nil},
		{"PATCH", "/api/v1/jobs/scheduler/scheduled-jobs/" + sid, "jobs.schedule", map[string]any{"name": "m"}},
		{"POST", "/api/v1/jobs/scheduler/scheduled-jobs/" + sid + "/toggle", "jobs.schedule", nil},
		{"DELETE", "/api/v1/jobs/scheduler/scheduled-jobs/" + sid, "jobs.schedule", nil},
	}
	for _, e := range endpoints {
		name := e.method + " " + e.path
		if code, _ := call(t, e.method, in.base+e.path, "", e.body); code != 401 {
			t.Errorf("%s without token: %d", name, code)
		}
		var others []string
		for _, p := range allPerms {
			if p != e.perm {
				others = append(others, p)
			}
		}
		if code, _ := call(t, e.method, in.base+e.path, token(t, "acme", others...), e.body); code != 403 {
			t.Errorf("%s without %s: %d", name, e.perm, code)
		}
		// Another tenant, even an admin, never sees acme's job or schedule.
		if strings.Contains(e.path, job) || strings.Contains(e.path, sid) {
			if code, _ := call(t, e.method, in.base+e.path, token(t, "globex", allPerms...), e.body); code != 404 {
				t.Errorf("%s as another tenant: %d", name, code)
			}
		}
	}
	_, list := call(t, "GET", in.base+"/api/v1/jobs", token(t, "globex", allPerms...), nil)
	if list["total"] != 0.0 {
		t.Errorf("globex lists acme's jobs: %v", list)
	}
}

func TestBadInputIs400(t *testing.T) {
	srv := redistest.Start(t)
	in := startInstance(t, srv.URL(), &counters{}, nil, noWorkers)
	tok := token(t, "acme", allPerms...)
	cases := []struct {
		method, path string
		body         any
		field        string
	}{
		{"POST", "/api/v1/jobs", `{"job_type": "noop",`, ""},
		{"POST", "/api/v1/jobs", map[string]any{"job_type": "mystery", "title": "x"}, "job_type"},
		{"POST", "/api/v1/jobs", map[string]any{"job_type": "noop"}, "title"},
		{"POST", "/api/v1/jobs", map[string]any{"job_type": "noop", "title": "x", "priority": "urgent"}, "priority"},
		{"POST", "/api/v1/jobs", map[string]any{"job_type": "noop", "title": "x", "parameters": []int{1}}, "parameters"},
		{"POST", "/api/v1/jobs", map[string]any{"job_type": "noop", "title": "x", "timeout_seconds": 0}, "timeout_seconds"},
		{"GET", "/api/v1/jobs?page_size=101", nil, ""},
		{"GET", "/api/v1/jobs?page=0", nil, ""},
		{"GET", "/api/v1/jobs?status=done", nil, ""},
		{"POST", "/api/v1/jobs/scheduler/scheduled-jobs", map[string]any{"name": "n", "job_type": "noop", "cron_expression": "61 * * * *"}, "cron_expression"},
		{"POST", "/api/v1/jobs/scheduler/scheduled-jobs", map[string]any{"name": "n", "job_type": "noop", "cron_expression": "@hourly", "timezone": "Mars/Olympus"}, "timezone"},
		{"POST", "/api/v1/jobs/scheduler/scheduled-jobs", map[string]any{"name": "n", "job_type": "noop", "cron_expression": "@hourly", "interval_seconds": 5}, "cron_expression"},
		{"POST", "/api/v1/jobs/scheduler/scheduled-jobs", map[string]any{"name": "n", "job_type": "noop"}, "cron_expression"},
		{"POST", "/api/v1/jobs/scheduler/scheduled-jobs", map[string]any{"name": "n", "job_type": "noop", "interval_seconds": 0}, "interval_seconds"},
		{"POST", "/api/v1/jobs/scheduler/scheduled-jobs", map[string]any{"name": "n", "job_type": "noop", "interval_seconds": 1e10}, "interval_seconds"},
		{"POST", "/api/v1/jobs/scheduler/scheduled-jobs", map[string]any{"name": "n", "job_type": "noop", "cron_expression": "@hourly", "timezone": "Local"}, "timezone"},
		{"POST", "/api/v1/jobs/scheduler/scheduled-jobs", map[string]any{"name": "n", "job_type": "noop", "interval_seconds": 5, "misfire_policy": "later"}, "misfire_policy"},
	}
	for _, tc := range cases {
		code, body := call(t, tc.method, in.base+tc.path, tok, tc.body)
		if code != 400 || (tc.field != "" && body["field"] != tc.field) {
			t.Errorf("%s %s %v: %d %v", tc.method, tc.path, tc.body, code, body)
		}
	}
	_, body := call(t, "POST", in.base+"/api/v1/jobs", tok, map[string]any{"job_type": "mystery", "title": "x"})
	if !strings.Contains(fmt.Sprint(body["registered_types"]), "noop") {
		t.Errorf("unknown job_type must list the registered types: %v", body)
	}
	code, ok := call(t, "POST", in.base+"/api/v1/jobs/scheduler/scheduled-jobs", tok, map[string]any{"name": "n", "job_type": "noop", "cron_expression": "*/5 * * * *", "timezone": "Europe/Berlin"})
	if code != 201 || ok["next_run_at"] == nil {
		t.Errorf("valid cron schedule: %d %v", code, ok)
	}
}

func TestRetriesWithBackoffThenSuccessOrFailure(t *testing.T) {
	srv := redistest.Start(t)
	c := &counters{}
	in := startInstance(t, srv.URL(), c, nil)
	tok := token(t, "acme", allPerms...)
	flaky := create(t, in, tok, map[string]any{"job_type": "flaky", "max_retries": 3, "parameters": map[string]any{"succeed_on": 3}})["id"].(string)
	failing := create(t, in, tok, map[string]any{"job_type": "flaky", "max_retries": 1})["id"].(string)
	perm := create(t, in, tok, map[string]any{"job_type": "permanent", "max_retries": 5})["id"].(string)
	boom := create(t, in, tok, map[string]any{"job_type": "panic", "max_retries": 5})["id"].(string)

	j := waitStatus(t, in, tok, flaky, "completed", 5*time.Second)
	if j["attempts"] != 2.0 || c.get(flaky) != 3 {
		t.Errorf("flaky: attempts %v calls %d", j["attempts"], c.get(flaky))
	}
	j = waitStatus(t, in, tok, failing, "failed", 5*time.Second)
	if j["attempts"] != 2.0 || c.get(failing) != 2 || !strings.Contains(j["error_message"].(string), "attempt 2 failed") || j["error_details"] == nil {
		t.Errorf("failing: %v calls %d", j, c.get(failing))
	}
	waitStatus(t, in, tok, perm, "failed", 5*time.Second)
	if c.get(perm) != 1 {
		t.Errorf("a permanent error must not retry: %d calls", c.get(perm))
	}
	j = waitStatus(t, in, tok, boom, "failed", 5*time.Second)
	if !strings.Contains(j["error_message"].(string), "panicked") {
		t.Errorf("panic: %v", j["error_message"])
	}
	// Retry creates a new job pointing at the old one; a completed job cannot be retried.
	code, again := call(t, "POST", in.base+"/api/v1/jobs/"+failing+"/retry", tok, nil)
	if code != 201 || again["retry_of"] != failing || again["id"] == failing {
		t.Errorf("retry: %d %v", code, again)
	}
	if code, _ := call(t, "POST", in.base+"/api/v1/jobs/"+flaky+"/retry", tok, nil); code != 409 {
		t.Errorf("retry of a completed job: %d", code)
	}
}

func TestTimeoutCountsAsAFailedAttempt(t *testing.T) {
	srv := redistest.Start(t)
	c := &counters{}
	in := startInstance(t, srv.URL(), c, nil)
	tok := token(t, "acme", allPerms...)
	id := create(t, in, tok, map[string]any{"job_type": "block", "timeout_seconds": 1, "max_retries": 1})["id"].(string)
	j := waitStatus(t, in, tok, id, "timeout", 8*time.Second)
	if j["attempts"] != 2.0 || c.get(id) != 2 || !strings.Contains(j["error_message"].(string), "timed out") {
		t.Errorf("timeout: %v calls %d", j, c.get(id))
	}
}

func TestCancelPendingRunningAndTerminal(t *testing.T) {
	srv := redistest.Start(t)
	c := &counters{}
	api := startInstance(t, srv.URL(), c, nil, noWorkers)
	tok := token(t, "acme", allPerms...)
	pending := create(t, api, tok, map[string]any{"job_type": "noop"})["id"].(string)
	code, j := call(t, "POST", api.base+"/api/v1/jobs/"+pending+"/cancel", tok, nil)
	if code != 200 || j["status"] != "cancelled" || j["cancelled_at"] == nil {
		t.Errorf("cancel pending: %d %v", code, j)
	}
	if code, _ := call(t, "POST", api.base+"/api/v1/jobs/"+pending+"/cancel", tok, nil); code != 409 {
		t.Errorf("cancel terminal: %d", code)
	}
	// A job running on another process's worker.
	startInstance(t, srv.URL(), c, nil)
	running := create(t, api, tok, map[string]any{"job_type": "block", "max_retries": 3})["id"].(string)
	waitStatus(t, api, tok, running, "running", 5*time.Second)
	start := time.Now()
	code, j = call(t, "POST", api.base+"/api/v1/jobs/"+running+"/cancel", tok, nil)
	if code != 202 {
		t.Errorf("cancel running: %d %v", code, j)
	}
	j = waitStatus(t, api, tok, running, "cancelled", 3*time.Second)
	if took := time.Since(start); took > time.Second+200*time.Millisecond {
		t.Errorf("cancelling a running job took %s", took)
	}
	if j["attempts"] != 0.0 || c.get(running) != 1 {
		t.Errorf("cancel must not retry: %v calls %d", j, c.get(running))
	}
	if pending == running {
		t.Fatal("ids")
	}
}

func TestGracefulShutdownPutsRunningJobsBackWithoutARetry(t *testing.T) {
	srv := redistest.Start(t)
	c := &counters{}
	a := startInstance(t, srv.URL(), c, nil)
	tok := token(t, "acme", allPerms...)
	id := create(t, a, tok, map[string]any{"job_type": "sleep", "max_retries": 0, "parameters": map[string]any{"duration": "1500ms", "steps": 3}})["id"].(string)
	waitStatus(t, a, tok, id, "running", 5*time.Second)
	eventually(t, "the handler reporting progress", 5*time.Second, func() bool { return getJob(t, a, tok, id)["items_processed"] == 1.0 })
	a.stop() // grace 300ms < the 1s left: cancelled and put back
	if n := recoveredSeries(t, a, "sleep"); n != 1 {
		t.Errorf("redifx_jobs_recovered_total{job_type=sleep} of the stopped worker: %v, want 1", n)
	}
	b := startInstance(t, srv.URL(), c, nil)
	j := waitStatus(t, b, tok, id, "completed", 5*time.Second)
	if j["attempts"] != 0.0 || j["recoveries"] != 1.0 {
		t.Errorf("after shutdown requeue: %v", j)
	}
}

func TestMaxPendingPerTenantAndRetention(t *testing.T) {
	srv := redistest.Start(t)
	in := startInstance(t, srv.URL(), &counters{}, nil, noWorkers, func(c *jobs.Config, _ *redis.Config) { c.MaxPendingPerTenant = 2 })
	tok := token(t, "acme", allPerms...)
	create(t, in, tok, map[string]any{"job_type": "noop"})
	second := create(t, in, tok, map[string]any{"job_type": "noop"})["id"].(string)
	req, _ := http.NewRequest("POST", in.base+"/api/v1/jobs", strings.NewReader(`{"job_type":"noop","title":"x"}`))
	req.Header.Set("Authorization", "Bearer "+tok)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 429 || resp.Header.Get("Retry-After") == "" {
		t.Errorf("over the limit: %d", resp.StatusCode)
	}
	// Cancelling frees a place.
	call(t, "POST", in.base+"/api/v1/jobs/"+second+"/cancel", tok, nil)
	create(t, in, tok, map[string]any{"job_type": "noop"})

	// Retention: finished jobs expire with their index entries.
	short := startInstance(t, srv.URL(), &counters{}, nil, func(c *jobs.Config, _ *redis.Config) { c.Retention = 300 * time.Millisecond })
	other := token(t, "initech", allPerms...)
	code, first := call(t, "POST", short.base+"/api/v1/jobs", other, map[string]any{"job_type": "noop", "title": "t"}, "Idempotency-Key", "kept-longer")
	if code != 201 {
		t.Fatalf("%d %v", code, first)
	}
	id := first["id"].(string)
	waitStatus(t, short, other, id, "completed", 5*time.Second)
	eventually(t, "expiry", 5*time.Second, func() bool {
		code, _ := call(t, "GET", short.base+"/api/v1/jobs/"+id, other, nil)
		return code == 404
	})
	_, list := call(t, "GET", short.base+"/api/v1/jobs", other, nil)
	if list["total"] != 0.0 {
		t.Errorf("expired job still listed: %v", list)
	}
	// The idempotency key outlived its job: the same request makes a new one.
	code, again := call(t, "POST", short.base+"/api/v1/jobs", other, map[string]any{"job_type": "noop", "title": "t"}, "Idempotency-Key", "kept-longer")
	if code != 201 || again["id"] == id {
		t.Errorf("key of an expired job: %d %v", code, again)
	}
}

func TestLowPriorityProgressesUnderLoad(t *testing.T) {
	srv := redistest.Start(t)
	in := startInstance(t, srv.URL(), &counters{}, nil, noWorkers)
	tok := token(t, "acme", allPerms...)
	for range 150 {
		create(t, in, tok, map[string]any{"job_type": "noop", "priority": "critical"})
	}
	low := create(t, in, tok, map[string]any{"job_type": "noop", "priority": "low"})["id"].(string)
	for range 150 {
		create(t, in, tok, map[string]any{"job_type": "noop", "priority": "critical"})
	}
	startInstance(t, srv.URL(), &counters{}, nil, func(c *jobs.Config, _ *redis.Config) { c.Concurrency = 1 })
	j := waitStatus(t, in, tok, low, "completed", 20*time.Second)
	lowDone, _ := time.Parse(time.RFC3339Nano, j["completed_at"].(string))
	eventually(t, "all done", 30*time.Second, func() bool {
		_, l := call(t, "GET", in.base+"/api/v1/jobs?status=completed&page_size=1", tok, nil)
		return l["total"] == 301.0
	})
	// Some critical job finished after the low one: it was not starved.
	later := 0
	for p := 1; p <= 4; p++ {
		_, page := call(t, "GET", fmt.Sprintf("%s/api/v1/jobs?page=%d&page_size=100", in.base, p), tok, nil)
		for _, x := range page["jobs"].([]any) {
			m := x.(map[string]any)
			if done, _ := time.Parse(time.RFC3339Nano, m["completed_at"].(string)); m["priority"] == "critical" && done.After(lowDone) {
				later++
			}
		}
	}
	if later == 0 {
		t.Error("the low-priority job ran only after every critical one: starved")
	}
}

func TestRedisRestartLosesNoAcknowledgedJob(t *testing.T) {
	srv := redistest.Start(t, redistest.WithArgs("--appendonly", "yes", "--appendfsync", "always"))
	c := &counters{}
	in := startInstance(t, srv.URL(), c, nil)
	tok := token(t, "acme", allPerms...)
	var ids []string
	for range 20 {
		ids = append(ids, create(t, in, tok, map[string]any{"job_type": "sleep", "parameters": map[string]any{"duration": "100ms", "steps": 1}})["id"].(string))
	}
	srv.Kill()
	eventually(t, "degraded", 3*time.Second, func() bool { return !in.mgr.Available() })
	if code, body := call(t, "POST", in.base+"/api/v1/jobs", tok, map[string]any{"job_type": "noop", "title": "x"}); code != 503 || body["error"] != "unavailable" {
		t.Errorf("API while Redis is down: %d %v", code, body)
	}
	srv.Restart()
	eventually(t, "ready", 5*time.Second, in.mgr.Available)
	for _, id := range ids {
		waitStatus(t, in, tok, id, "completed", 15*time.Second)
	}
}

func TestConcurrentCreatesUnderOneIdempotencyKey(t *testing.T) {
	srv := redistest.Start(t)
	in := startInstance(t, srv.URL(), &counters{}, nil, noWorkers)
	tok := token(t, "acme", allPerms...)
	var wg sync.WaitGroup
	codes := make(chan int, 20)
	for range 20 {
		wg.Go(func() {
			code, _ := call(t, "POST", in.base+"/api/v1/jobs", tok, map[string]any{"job_type": "noop", "title": "same"}, "Idempotency-Key", "race")
			codes <- code
		})
	}
	wg.Wait()
	close(codes)
	created := 0
	for c := range codes {
		if c == 201 {
			created++
		}
	}
	if created != 1 {
		t.Errorf("%d jobs created under one key", created)
	}
}

// recoveredSeries reads redifx_jobs_recovered_total{job_type} from in's
// metrics.
func recoveredSeries(t *testing.T, in *instance, jobType string) float64 {
	t.Helper()
	reg := prometheus.NewRegistry()
	reg.MustRegister(in.q.Metrics())
	fams, _ := reg.Gather() // the queue-depth part needs Redis; the rest is there
	for _, f := range fams {
		if f.GetName() != "redifx_jobs_recovered_total" {
			continue
		}
		for _, m := range f.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "job_type" && l.GetValue() == jobType {
					return m.GetCounter().GetValue()
				}
			}
		}
	}
	return -1
}
