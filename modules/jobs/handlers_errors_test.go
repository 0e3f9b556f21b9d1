package jobs_test

import (
	"context"
	"errors"
	"fmt"
	"github.com/redifx/redifx/internal/testutil"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redifx/redifx/modules/jobs"
	"github.com/redifx/redifx/modules/redis"
	"github.com/redifx/redifx/modules/redis/redistest"
	goredis "github.com/redis/go-redis/v9"
)

// dumpAll is every key of the test server with its type and content.
func dumpAll(t *testing.T, rdb *goredis.Client) map[string]string { return redistest.Snapshot(t, rdb) }

func sameKeys(t *testing.T, what string, before, after map[string]string) {
	t.Helper()
	if !maps.Equal(before, after) {
		var changed []string
		for k := range after {
			if before[k] != after[k] {
				changed = append(changed, k)
			}
		}
		for k := range before {
			if _, ok := after[k]; !ok {
				changed = append(changed, k+" (deleted)")
			}
		}
		slices.Sort(changed)
		t.Errorf("%s changed Redis: %v", what, changed)
	}
}

func jobsKey(in *instance, name string) string {
	return in.mgr.Prefix(redis.ClientDefault) + "{jobs}:" + name
}

// Issue 11, defect 2: numbers out of range are refused before anything is
// written, with 400 naming the field — items_total near 2^63 first of all.
func TestOutOfRangeNumbersAre400AndWriteNothing(t *testing.T) {
	srv := redistest.Start(t)
	in := startInstance(t, srv.URL(), &counters{}, nil, noWorkers)
	rdb := srv.Client(t)
	tok := token(t, "acme", allPerms...)
	create(t, in, tok, map[string]any{"job_type": "noop", "items_total": 7})
	far := time.Now().Add(jobs.MaxRunAhead + 24*time.Hour).UTC().Format(time.RFC3339)
	cases := []struct {
		field string
		value any
	}{
		{"items_total", int64(9223372036854775000)},
		{"items_total", int64(jobs.MaxItems + 1)},
		{"items_total", -1},
		{"max_retries", 101},
		{"max_retries", -1},
		{"max_retries", int64(1) << 40},
		{"timeout_seconds", 0},
		{"timeout_seconds", 604801},
		{"timeout_seconds", int64(1) << 40},
		{"run_at", "9999-12-31T23:59:59Z"},
		{"run_at", far},
		{"run_at", "1969-12-31T23:59:59Z"},
		{"run_at", "0001-01-01T00:00:00Z"},
	}
	for _, c := range cases {
		before := dumpAll(t, rdb)
		code, out := call(t, "POST", in.base+"/api/v1/jobs", tok, map[string]any{"job_type": "noop", "title": "x", c.field: c.value},
			"Idempotency-Key", "k-"+c.field)
		if code != 400 || out["field"] != c.field {
			t.Errorf("%s=%v: %d %v", c.field, c.value, code, out)
		}
		sameKeys(t, fmt.Sprintf("%s=%v", c.field, c.value), before, dumpAll(t, rdb))
	}
	// The Go API refuses the same values.
	big := int64(9223372036854775000)
	_, _, err := in.q.Enqueue(context.Background(), "acme", "test", jobs.CreateRequest{JobType: "noop", Title: "x", ItemsTotal: &big}, "")
	var fe *jobs.FieldError
	if !errors.As(err, &fe) || fe.Field != "items_total" {
		t.Errorf("Go API, items_total near 2^63: %v", err)
	}
	// The bound itself is accepted, and the statistics add it up.
	create(t, in, tok, map[string]any{"job_type": "noop", "items_total": int64(jobs.MaxItems)})
	_, stats := call(t, "GET", in.base+"/api/v1/jobs/statistics", tok, nil)
	if stats["items_total"] != float64(jobs.MaxItems+7) || stats["by_status"].(map[string]any)["pending"] != 2.0 {
		t.Errorf("statistics: %v", stats)
	}
}

// A script's own error (here WRONGTYPE and an overflow, from corrupted
// statistics) is a 500 logged with the request id, not "Redis is down"; and
// it writes nothing: no ghost job.
func TestScriptLogicErrorIs500AndWritesNothing(t *testing.T) {
	srv := redistest.Start(t)
	redistest.RequireReal(t)
	in := startInstance(t, srv.URL(), &counters{}, nil, noWorkers)
	rdb := srv.Client(t)
	tok := token(t, "acme", allPerms...)
	ctx := context.Background()
	for name, corrupt := range map[string]func(){
		"statistics of the wrong type": func() { rdb.Set(ctx, jobsKey(in, "st:acme"), "x", 0) },
		"item sum about to overflow":   func() { rdb.HSet(ctx, jobsKey(in, "st:acme"), "items_total", "8999999999999999999") },
		"queue of the wrong type":      func() { rdb.Set(ctx, jobsKey(in, "q:normal"), "x", 0) },
	} {
		srv.Flush(t)
		corrupt()
		before := dumpAll(t, rdb)
		code, out := call(t, "POST", in.base+"/api/v1/jobs", tok, map[string]any{"job_type": "noop", "title": "x", "items_total": 5})
		msg, _ := out["message"].(string)
		if code != 500 || out["error"] != "internal_error" || !strings.Contains(msg, "request ID") {
			t.Errorf("%s: %d %v", name, code, out)
		}
		sameKeys(t, name, before, dumpAll(t, rdb))
	}
}

// A Redis condition is a 503 with Retry-After naming it (never "Redis is
// down" when Redis answered), and writes nothing.
func TestRedisConditionIs503NamingIt(t *testing.T) {
	srv := redistest.Start(t)
	redistest.RequireReal(t)
	in := startInstance(t, srv.URL(), &counters{}, nil, noWorkers)
	rdb := srv.Client(t)
	tok := token(t, "acme", allPerms...)
	_, sched := call(t, "POST", in.base+"/api/v1/jobs/scheduler/scheduled-jobs", tok, map[string]any{"name": "n", "job_type": "noop", "interval_seconds": 3600})
	sid, _ := sched["id"].(string)
	ctx := context.Background()
	if err := rdb.ConfigSet(ctx, "maxmemory-policy", "noeviction").Err(); err != nil {
		t.Fatal(err)
	}
	if err := rdb.ConfigSet(ctx, "maxmemory", "1").Err(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { rdb.ConfigSet(context.Background(), "maxmemory", "0") })
	before := dumpAll(t, rdb)
	for _, req := range [][3]string{
		{"POST", "/api/v1/jobs", `{"job_type":"noop","title":"x"}`},
		{"POST", "/api/v1/jobs/scheduler/scheduled-jobs", `{"name":"n","job_type":"noop","interval_seconds":60}`},
		{"PATCH", "/api/v1/jobs/scheduler/scheduled-jobs/" + sid, `{"name":"m"}`},
	} {
		req, err := http.NewRequest(req[0], in.base+req[1], strings.NewReader(req[2]))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Authorization", "Bearer "+tok)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body := make([]byte, 4096)
		n, _ := resp.Body.Read(body)
		resp.Body.Close()
		text := string(body[:n])
		if resp.StatusCode != 503 || resp.Header.Get("Retry-After") == "" || !strings.Contains(text, "OOM") || strings.Contains(text, "down") {
			t.Errorf("%s under OOM: %d %q (Retry-After %q)", req.URL.Path, resp.StatusCode, text, resp.Header.Get("Retry-After"))
		}
	}
	sameKeys(t, "requests under OOM", before, dumpAll(t, rdb))
}

// Issue 11, defect 3: keys are injective. A tenant id that a key cannot carry
// is refused naming tenant_id (so tenant x:y with key z can no longer meet
// tenant x with key y:z), and a path id that cannot name a job or a schedule
// — or names another key of the module — is simply 404.
func TestKeysCannotCollide(t *testing.T) {
	srv := redistest.Start(t)
	in := startInstance(t, srv.URL(), &counters{}, nil, noWorkers)
	ctx := context.Background()
	r := jobs.CreateRequest{JobType: "noop", Title: "x"}
	if _, _, err := in.q.Enqueue(ctx, "x", "test", r, "y:z"); err != nil {
		t.Fatal(err)
	}
	for _, tenant := range []string{"x:y", "", "a{b}", "a b", strings.Repeat("t", 129)} {
		_, _, err := in.q.Enqueue(ctx, tenant, "test", jobs.CreateRequest{JobType: "noop", Title: "other"}, "z")
		var fe *jobs.FieldError
		if !errors.As(err, &fe) || fe.Field != "tenant_id" {
			t.Errorf("tenant %q: %v", tenant, err)
		}
		if _, err := in.q.Statistics(ctx, tenant); !errors.As(err, &fe) || fe.Field != "tenant_id" {
			t.Errorf("statistics of tenant %q: %v", tenant, err)
		}
	}
	// Over HTTP: a genuine token for tenant x:y (auth.Mint refuses to make
	// one) is refused by auth with 401 naming tenant_id.
	code, out := call(t, "POST", in.base+"/api/v1/jobs", testutil.UncheckedToken(t, secret, "x:y", allPerms...), map[string]any{"job_type": "noop", "title": "x"}, "Idempotency-Key", "z")
	if code != 401 || out["field"] != "tenant_id" {
		t.Errorf("tenant x:y over HTTP: %d %v", code, out)
	}
	// The same idempotency key in x stays x's own: a retry answers the first job.
	code, out = call(t, "POST", in.base+"/api/v1/jobs", token(t, "x", allPerms...), map[string]any{"job_type": "noop", "title": "x"}, "Idempotency-Key", "y:z")
	if code != 200 {
		t.Errorf("retry of x's request: %d %v", code, out)
	}
	tok := token(t, "acme", allPerms...)
	code, _ = call(t, "POST", in.base+"/api/v1/jobs/scheduler/scheduled-jobs", tok, map[string]any{"name": "n", "job_type": "noop", "interval_seconds": 3600})
	if code != 201 {
		t.Fatal(code)
	}
	for _, id := range []string{"due", "sched-due", "meta", "notify", "leases", "a:b", "x{y}", "..", "%20", strings.Repeat("i", 129)} {
		for _, e := range [][2]string{
			{"GET", "/api/v1/jobs/"}, {"POST", "/api/v1/jobs/%s/cancel"}, {"POST", "/api/v1/jobs/%s/retry"},
			{"GET", "/api/v1/jobs/scheduler/scheduled-jobs/"}, {"PATCH", "/api/v1/jobs/scheduler/scheduled-jobs/"},
			{"POST", "/api/v1/jobs/scheduler/scheduled-jobs/%s/toggle"}, {"DELETE", "/api/v1/jobs/scheduler/scheduled-jobs/"},
		} {
			path := e[1] + url.PathEscape(id)
			if strings.Contains(e[1], "%s") {
				path = fmt.Sprintf(e[1], url.PathEscape(id))
			}
			var body any
			if e[0] == "PATCH" {
				body = map[string]any{"name": "m"}
			}
			if code, out := call(t, e[0], in.base+path, tok, body); code != 404 {
				t.Errorf("%s %s: %d %v", e[0], path, code, out)
			}
		}
	}
}

// Issue 11, defect 4: page is bounded; beyond it, 400 naming page.
func TestPageBeyondTheMaximumIs400(t *testing.T) {
	srv := redistest.Start(t)
	in := startInstance(t, srv.URL(), &counters{}, nil, noWorkers)
	tok := token(t, "acme", allPerms...)
	for range 3 {
		create(t, in, tok, map[string]any{"job_type": "noop"})
	}
	for _, p := range []string{"9223372036854775807", "9223372036854775808", strconv.Itoa(jobs.MaxPage + 1), "99999999999999999999"} {
		for _, filter := range []string{"", "&status=pending"} {
			code, out := call(t, "GET", in.base+"/api/v1/jobs?page_size=100&page="+p+filter, tok, nil)
			if code != 400 || out["field"] != "page" {
				t.Errorf("page=%s%s: %d %v", p, filter, code, out)
			}
		}
	}
	code, out := call(t, "GET", in.base+"/api/v1/jobs?page_size=100&page="+strconv.Itoa(jobs.MaxPage), tok, nil)
	if code != 200 || len(out["jobs"].([]any)) != 0 || out["has_more"] != false || out["total"] != 3.0 {
		t.Errorf("the last page: %d %v", code, out)
	}
	// The Go API bounds page and page_size too.
	var fe *jobs.FieldError
	if _, _, err := in.q.List(context.Background(), "acme", jobs.Filter{}, 1<<62, 1<<62); !errors.As(err, &fe) || fe.Field != "page" {
		t.Errorf("List(1<<62, 1<<62): %v", err)
	}
	if _, _, err := in.q.List(context.Background(), "acme", jobs.Filter{}, 1, jobs.MaxPageSize+1); !errors.As(err, &fe) || fe.Field != "page_size" {
		t.Errorf("List(1, MaxPageSize+1): %v", err)
	}
}

// Statistics add counters without wrapping, whatever Redis holds.
func TestStatisticsDoNotWrap(t *testing.T) {
	srv := redistest.Start(t)
	in := startInstance(t, srv.URL(), &counters{}, nil, noWorkers)
	rdb := srv.Client(t)
	tok := token(t, "acme", allPerms...)
	rdb.HSet(context.Background(), jobsKey(in, "st:acme"), "pending", "8999999999999999999", "completed", "8999999999999999999",
		"failed", "8999999999999999999", "durations", "1", "duration_ms", "8999999999999999999")
	code, s := call(t, "GET", in.base+"/api/v1/jobs/statistics", tok, nil)
	rate, _ := s["success_rate"].(float64)
	if code != 200 || s["total"].(float64) < 9e18 || rate < 0 || rate > 1 {
		t.Errorf("statistics: %d %v", code, s)
	}
}

// checkAnswer: 2xx, or 4xx with a JSON error naming one of fields; never 5xx.
func checkAnswer(t *testing.T, what string, code int, out map[string]any, fields ...string) {
	t.Helper()
	switch {
	case code >= 200 && code < 300:
	case code >= 400 && code < 500 && slices.Contains(fields, fmt.Sprint(out["field"])) && out["message"] != nil:
	default:
		t.Errorf("%s: %d %v", what, code, out)
	}
}

var querySeeds = []string{"", "0", "-1", "1", "2", "100", "101", "abc", "1e3", "1.5", " 1", "+1", "0x10",
	"9223372036854775807", "-9223372036854775808", "99999999999999999999", "pending", "completed", "PENDING",
	"noop", "x:y", "{jobs}", "\x00", "é", strings.Repeat("9", 400)}

func listQuery(t *testing.T, in *instance, tok string, k, v string) {
	q := url.Values{k: {v}}
	code, out := call(t, "GET", in.base+"/api/v1/jobs?"+q.Encode(), tok, nil)
	checkAnswer(t, k+"="+strconv.Quote(v), code, out, k)
}

// validHeader: the HTTP client can send v as a header value.
func validHeader(v string) bool {
	for i := 0; i < len(v); i++ {
		if b := v[i]; (b < 0x20 && b != '\t') || b == 0x7f {
			return false
		}
	}
	return true
}

func createWithKey(t *testing.T, in *instance, tok, key string) {
	code, out := call(t, "POST", in.base+"/api/v1/jobs", tok, map[string]any{"job_type": "noop", "title": "x"}, "Idempotency-Key", key)
	checkAnswer(t, "Idempotency-Key "+strconv.Quote(key), code, out, "Idempotency-Key")
}

// Issue 11, class: every query parameter of the list and the Idempotency-Key
// header answer 2xx or 4xx naming the field, never 5xx.
func TestJobsQueryParametersAndIdempotencyKey(t *testing.T) {
	srv := redistest.Start(t)
	in := startInstance(t, srv.URL(), &counters{}, nil, noWorkers)
	tok := token(t, "acme", allPerms...)
	create(t, in, tok, map[string]any{"job_type": "noop"})
	for _, k := range []string{"page", "page_size", "status", "job_type"} {
		for _, v := range querySeeds {
			listQuery(t, in, tok, k, v)
		}
	}
	for _, v := range append(querySeeds, strings.Repeat("k", 255), strings.Repeat("k", 256), "a:b:c", "x}y{", "5:hello") {
		if validHeader(v) {
			createWithKey(t, in, tok, v)
		}
	}
	code, out := call(t, "POST", in.base+"/api/v1/jobs", tok, map[string]any{"job_type": "noop", "title": "x"}, "Idempotency-Key", strings.Repeat("k", 256))
	if code != 400 || out["field"] != "Idempotency-Key" {
		t.Errorf("a 256-byte key: %d %v", code, out)
	}
}

// A schedule's max_concurrent_runs reaches the fire script: it is bounded on
// create and update, and a refused value writes nothing.
func TestScheduleNumbersAreBounded(t *testing.T) {
	srv := redistest.Start(t)
	in := startInstance(t, srv.URL(), &counters{}, nil, noWorkers)
	rdb := srv.Client(t)
	tok := token(t, "acme", allPerms...)
	path := in.base + "/api/v1/jobs/scheduler/scheduled-jobs"
	code, s := call(t, "POST", path, tok, map[string]any{"name": "n", "job_type": "noop", "interval_seconds": 60, "max_concurrent_runs": jobs.MaxConcurrentRuns})
	if code != 201 {
		t.Fatalf("%d %v", code, s)
	}
	for _, v := range []int64{jobs.MaxConcurrentRuns + 1, 9223372036854775807} {
		before := dumpAll(t, rdb)
		code, out := call(t, "POST", path, tok, map[string]any{"name": "n", "job_type": "noop", "interval_seconds": 60, "max_concurrent_runs": v})
		if code != 400 || out["field"] != "max_concurrent_runs" {
			t.Errorf("create with max_concurrent_runs %d: %d %v", v, code, out)
		}
		code, out = call(t, "PATCH", path+"/"+s["id"].(string), tok, map[string]any{"max_concurrent_runs": v})
		if code != 400 || out["field"] != "max_concurrent_runs" {
			t.Errorf("update with max_concurrent_runs %d: %d %v", v, code, out)
		}
		sameKeys(t, fmt.Sprint("max_concurrent_runs ", v), before, dumpAll(t, rdb))
	}
}

// FuzzJobsListQuery: any value of a list parameter or of Idempotency-Key
// answers 2xx or 4xx naming the field (seeds: querySeeds; run with
// go test -fuzz FuzzJobsListQuery ./modules/jobs).
func FuzzJobsListQuery(f *testing.F) {
	for i, v := range querySeeds {
		f.Add(i%4, v)
	}
	srv := redistest.Start(f)
	f.Fuzz(func(t *testing.T, which int, v string) {
		in := startInstance(t, srv.URL(), &counters{}, nil, noWorkers)
		tok := token(t, "acme", allPerms...)
		params := []string{"page", "page_size", "status", "job_type"}
		listQuery(t, in, tok, params[(which%4+4)%4], v)
		if validHeader(v) {
			createWithKey(t, in, tok, v)
		}
	})
}
