package jobs_test

import (
	"context"
	"encoding/json"
	"errors"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/redifx/redifx/modules/jobs"
	"github.com/redifx/redifx/modules/redis"
	"github.com/redifx/redifx/modules/redis/redistest"
)

func scheduleJobs(t *testing.T, in *instance, tok, sid string) []map[string]any {
	t.Helper()
	var out []map[string]any
	for p := 1; ; p++ {
		_, page := call(t, "GET", in.base+"/api/v1/jobs?page_size=100&page="+strconv.Itoa(p), tok, nil)
		for _, x := range page["jobs"].([]any) {
			if m := x.(map[string]any); m["scheduled_job_id"] == sid {
				out = append(out, m)
			}
		}
		if page["has_more"] != true {
			return out
		}
	}
}

func TestSchedulerFiresEachSlotOnceAcrossThreeReplicas(t *testing.T) {
	srv := redistest.Start(t)
	c := &counters{}
	a := startInstance(t, srv.URL(), c, nil)
	startInstance(t, srv.URL(), c, nil)
	startInstance(t, srv.URL(), c, nil)
	tok := token(t, "acme", allPerms...)
	code, s := call(t, "POST", a.base+"/api/v1/jobs/scheduler/scheduled-jobs", tok, map[string]any{"name": "tick", "job_type": "noop", "interval_seconds": 1, "max_concurrent_runs": 5})
	if code != 201 {
		t.Fatalf("%d %v", code, s)
	}
	sid := s["id"].(string)
	created, _ := time.Parse(time.RFC3339Nano, s["created_at"].(string))
	eventually(t, "ten runs", 15*time.Second, func() bool {
		_, cur := call(t, "GET", a.base+"/api/v1/jobs/scheduler/scheduled-jobs/"+sid, tok, nil)
		return cur["total_runs"].(float64) >= 10
	})
	call(t, "PATCH", a.base+"/api/v1/jobs/scheduler/scheduled-jobs/"+sid, tok, map[string]any{"is_active": false})
	time.Sleep(300 * time.Millisecond)
	_, cur := call(t, "GET", a.base+"/api/v1/jobs/scheduler/scheduled-jobs/"+sid, tok, nil)
	runs := scheduleJobs(t, a, tok, sid)
	if float64(len(runs)) != cur["total_runs"].(float64) {
		t.Fatalf("%d jobs for total_runs %v", len(runs), cur["total_runs"])
	}
	// One job per slot: slot k is created_at + k seconds, and each job's
	// run_at is its slot; no slot twice.
	seen := map[int64]bool{}
	for _, j := range runs {
		at, _ := time.Parse(time.RFC3339Nano, j["run_at"].(string))
		ms := at.Sub(created).Milliseconds()
		if ms%1000 != 0 {
			t.Errorf("run_at %v is not a slot of the schedule created at %v", at, created)
		}
		if seen[ms/1000] {
			t.Errorf("slot %d fired twice", ms/1000)
		}
		seen[ms/1000] = true
	}
	if len(runs) < 10 || len(runs) > 11 {
		t.Errorf("%d runs", len(runs))
	}
}

func TestIntervalIsAnchoredAndMisfirePolicies(t *testing.T) {
	srv := redistest.Start(t)
	// No workers and no scheduler yet: slots pass unseen (an outage).
	api := startInstance(t, srv.URL(), &counters{}, nil, noWorkers)
	tok := token(t, "acme", allPerms...)
	mk := func(policy string) string {
		code, s := call(t, "POST", api.base+"/api/v1/jobs/scheduler/scheduled-jobs", tok, map[string]any{"name": policy, "job_type": "noop", "interval_seconds": 1, "misfire_policy": policy, "max_concurrent_runs": 10})
		if code != 201 {
			t.Fatalf("%d %v", code, s)
		}
		return s["id"].(string)
	}
	once, skip := mk("fire_once"), mk("skip")
	time.Sleep(3500 * time.Millisecond) // three slots missed
	startInstance(t, srv.URL(), &counters{}, nil)
	time.Sleep(400 * time.Millisecond) // the catch-up tick, before the next slot
	get := func(id string) map[string]any {
		_, s := call(t, "GET", api.base+"/api/v1/jobs/scheduler/scheduled-jobs/"+id, tok, nil)
		return s
	}
	if s := get(once); s["total_runs"] != 1.0 {
		t.Errorf("fire_once after 3 missed slots: %v runs", s["total_runs"])
	}
	if s := get(skip); s["total_runs"] != 0.0 || s["skipped_runs"] != 1.0 {
		t.Errorf("skip after 3 missed slots: %v runs, %v skipped", s["total_runs"], s["skipped_runs"])
	}
	// Next slots stay on the anchor grid (created_at + k s).
	s := get(once)
	created, _ := time.Parse(time.RFC3339Nano, s["created_at"].(string))
	next, _ := time.Parse(time.RFC3339Nano, s["next_run_at"].(string))
	if off := next.Sub(created).Milliseconds() % 1000; off != 0 {
		t.Errorf("next run drifted off the anchor by %dms", off)
	}
}

func TestMaxConcurrentRuns(t *testing.T) {
	srv := redistest.Start(t)
	c := &counters{}
	in := startInstance(t, srv.URL(), c, nil)
	tok := token(t, "acme", allPerms...)
	code, s := call(t, "POST", in.base+"/api/v1/jobs/scheduler/scheduled-jobs", tok, map[string]any{
		"name": "slow", "job_type": "sleep", "interval_seconds": 1, "max_concurrent_runs": 1,
		"parameters": map[string]any{"duration": "2500ms", "steps": 1},
	})
	if code != 201 {
		t.Fatalf("%d %v", code, s)
	}
	sid := s["id"].(string)
	time.Sleep(4500 * time.Millisecond)
	_, s = call(t, "GET", in.base+"/api/v1/jobs/scheduler/scheduled-jobs/"+sid, tok, nil)
	if s["total_runs"].(float64) > 2 || s["skipped_runs"].(float64) < 2 {
		t.Errorf("max_concurrent_runs 1 with 2.5s jobs every 1s over 4.5s: %v runs, %v skipped", s["total_runs"], s["skipped_runs"])
	}
	running := 0
	for _, j := range scheduleJobs(t, in, tok, sid) {
		if j["status"] == "running" || j["status"] == "pending" {
			running++
		}
	}
	if running > 1 {
		t.Errorf("%d runs active at once", running)
	}
	// Toggle off stops it; delete removes it.
	_, s = call(t, "POST", in.base+"/api/v1/jobs/scheduler/scheduled-jobs/"+sid+"/toggle", tok, nil)
	if s["is_active"] != false || s["next_run_at"] != nil {
		t.Errorf("toggled: %v", s)
	}
	if code, _ := call(t, "DELETE", in.base+"/api/v1/jobs/scheduler/scheduled-jobs/"+sid, tok, nil); code != 204 {
		t.Errorf("delete: %d", code)
	}
	if code, _ := call(t, "GET", in.base+"/api/v1/jobs/scheduler/scheduled-jobs/"+sid, tok, nil); code != 404 {
		t.Errorf("after delete: %d", code)
	}
}

func TestOnRedisCluster(t *testing.T) {
	cl := redistest.StartCluster(t)
	c := &counters{}
	in := startInstance(t, "", c, nil, func(_ *jobs.Config, r *redis.Config) { r.Mode, r.Addrs = redis.ModeCluster, cl.Addrs() })
	tok := token(t, "acme", allPerms...)
	ok := create(t, in, tok, map[string]any{"job_type": "noop"})["id"].(string)
	flaky := create(t, in, tok, map[string]any{"job_type": "flaky", "parameters": map[string]any{"succeed_on": 2}})["id"].(string)
	blocked := create(t, in, tok, map[string]any{"job_type": "block"})["id"].(string)
	waitStatus(t, in, tok, ok, "completed", 5*time.Second)
	waitStatus(t, in, tok, flaky, "completed", 5*time.Second)
	waitStatus(t, in, tok, blocked, "running", 5*time.Second)
	if code, _ := call(t, "POST", in.base+"/api/v1/jobs/"+blocked+"/cancel", tok, nil); code != 202 {
		t.Errorf("cancel: %d", code)
	}
	waitStatus(t, in, tok, blocked, "cancelled", 3*time.Second)
	code, s := call(t, "POST", in.base+"/api/v1/jobs/scheduler/scheduled-jobs", tok, map[string]any{"name": "c", "job_type": "noop", "interval_seconds": 1})
	if code != 201 {
		t.Fatalf("%d %v", code, s)
	}
	eventually(t, "a scheduled run on Cluster", 5*time.Second, func() bool {
		_, cur := call(t, "GET", in.base+"/api/v1/jobs/scheduler/scheduled-jobs/"+s["id"].(string), tok, nil)
		return cur["total_runs"].(float64) >= 1
	})
	// Changes are read-modify-write under WATCH, which Cluster serves too.
	code, cur := call(t, "PATCH", in.base+"/api/v1/jobs/scheduler/scheduled-jobs/"+s["id"].(string), tok, map[string]any{"name": "renamed"})
	if code != 200 || cur["name"] != "renamed" {
		t.Errorf("update on Cluster: %d %v", code, cur)
	}
	code, cur = call(t, "POST", in.base+"/api/v1/jobs/scheduler/scheduled-jobs/"+s["id"].(string)+"/toggle", tok, nil)
	if code != 200 || cur["is_active"] != false {
		t.Errorf("toggle on Cluster: %d %v", code, cur)
	}
}

// Concurrent changes to one schedule are each applied: updates of different
// fields all land, every toggle flips, and a schedule deleted while updates
// run stays deleted.
func TestConcurrentScheduleChangesAreNotLost(t *testing.T) {
	srv := redistest.Start(t)
	in := startInstance(t, srv.URL(), &counters{}, nil, noWorkers)
	ctx := context.Background()
	str := func(s string) *string { return &s }
	num := func(n int) *int { return &n }
	var hour int64 = 3600
	sc, err := in.q.CreateSchedule(ctx, "acme", "test", jobs.ScheduleRequest{Name: str("s"), JobType: str("noop"), IntervalSeconds: &hour})
	if err != nil {
		t.Fatal(err)
	}
	params := json.RawMessage(`{"k":1}`)
	changes := []jobs.ScheduleRequest{
		{Name: str("renamed")}, {Priority: str("high")}, {MaxRetries: num(7)}, {TimeoutSeconds: num(42)},
		{MaxConcurrentRuns: num(3)}, {MisfirePolicy: str("skip")}, {Parameters: &params},
	}
	var wg sync.WaitGroup
	for _, r := range changes {
		wg.Go(func() {
			if _, err := in.q.UpdateSchedule(ctx, "acme", sc.ID, r); err != nil {
				t.Error(err)
			}
		})
	}
	for range 10 { // an even number of toggles leaves it active
		wg.Go(func() {
			if _, err := in.q.ToggleSchedule(ctx, "acme", sc.ID); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	got, err := in.q.GetSchedule(ctx, "acme", sc.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.Name != "renamed" || got.Priority != "high" || got.MaxRetries != 7 || got.TimeoutSeconds != 42 ||
		got.MaxConcurrentRuns != 3 || got.MisfirePolicy != "skip" || string(got.Parameters) != `{"k":1}` || !got.IsActive || got.NextRunAt == nil {
		t.Errorf("after concurrent changes: %+v", got)
	}

	// Updates racing a delete never bring the schedule back.
	for range 5 {
		sc, err := in.q.CreateSchedule(ctx, "acme", "test", jobs.ScheduleRequest{Name: str("doomed"), JobType: str("noop"), IntervalSeconds: &hour})
		if err != nil {
			t.Fatal(err)
		}
		for i := range 10 {
			wg.Go(func() {
				_, err := in.q.UpdateSchedule(ctx, "acme", sc.ID, jobs.ScheduleRequest{MaxRetries: num(i)})
				if err != nil && !errors.Is(err, jobs.ErrNotFound) {
					t.Error(err)
				}
			})
		}
		wg.Go(func() {
			if err := in.q.DeleteSchedule(ctx, "acme", sc.ID); err != nil {
				t.Error(err)
			}
		})
		wg.Wait()
		if _, err := in.q.GetSchedule(ctx, "acme", sc.ID); !errors.Is(err, jobs.ErrNotFound) {
			t.Errorf("a deleted schedule came back: %v", err)
		}
	}
	list, err := in.q.ListSchedules(ctx, "acme")
	if err != nil || len(list) != 1 {
		t.Errorf("schedules left: %d (%v), want 1", len(list), err)
	}
}
