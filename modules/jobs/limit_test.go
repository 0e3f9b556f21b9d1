package jobs_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/redifx/redifx/modules/jobs"
	"github.com/redifx/redifx/modules/redis"
	"github.com/redifx/redifx/modules/redis/redistest"
)

// A tight jobs.max_pending_per_tenant holds exactly under concurrent
// creates, retries and Go API enqueues: no overshoot, and every
// refused create (keyed or not) leaves nothing behind — no job, no index
// entry, no counted pending job, no idempotency record.
func TestTightPendingLimitUnderConcurrency(t *testing.T) {
	srv := redistest.Start(t)
	const limit = 3
	in := startInstance(t, srv.URL(), &counters{}, nil, noWorkers, func(c *jobs.Config, _ *redis.Config) { c.MaxPendingPerTenant = limit })
	tok := token(t, "acme", allPerms...)
	ctx := context.Background()
	// A cancelled job to retry concurrently with the creates.
	old := create(t, in, tok, map[string]any{"job_type": "noop"})["id"].(string)
	call(t, "POST", in.base+"/api/v1/jobs/"+old+"/cancel", tok, nil)

	var mu sync.Mutex
	codes := map[int]int{}
	var keyed []string // keys of refused creates
	var wg sync.WaitGroup
	for i := range 30 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var code int
			key := fmt.Sprintf("key-%d", i)
			switch i % 3 {
			case 0:
				code, _ = call(t, "POST", in.base+"/api/v1/jobs", tok, map[string]any{"job_type": "noop", "title": "t"}, "Idempotency-Key", key)
			case 1:
				code, _ = call(t, "POST", in.base+"/api/v1/jobs/"+old+"/retry", tok, nil)
			default:
				_, _, err := in.q.Enqueue(ctx, "acme", "go", jobs.CreateRequest{JobType: "noop", Title: "t"}, "")
				switch {
				case err == nil:
					code = 201
				case errors.Is(err, jobs.ErrTenantFull):
					code = 429
				default:
					t.Errorf("Go API: %v", err)
				}
			}
			mu.Lock()
			defer mu.Unlock()
			codes[code]++
			if code != 201 && i%3 == 0 {
				keyed = append(keyed, key)
			}
		}()
	}
	wg.Wait()
	if codes[201] != limit || codes[429] != 30-limit {
		t.Fatalf("answers %v, want %d created and the rest 429", codes, limit)
	}
	st, err := in.q.Statistics(ctx, "acme")
	if err != nil {
		t.Fatal(err)
	}
	if st.ByStatus[jobs.StatusPending] != limit {
		t.Errorf("pending count %d, want %d", st.ByStatus[jobs.StatusPending], limit)
	}
	if list, total, err := in.q.List(ctx, "acme", jobs.Filter{Status: jobs.StatusPending}, 1, 100); err != nil || total != limit || len(list) != limit {
		t.Errorf("pending jobs listed: %d %v", total, err)
	}
	if _, total, _ := in.q.List(ctx, "acme", jobs.Filter{}, 1, 100); total != limit+1 {
		t.Errorf("jobs in the index: %d, want %d (and the cancelled one)", total, limit+1)
	}
	// A refused keyed create stored no record: once there is room, the same
	// key creates a job (it would answer the stored one otherwise).
	call(t, "POST", in.base+"/api/v1/jobs/"+old+"/cancel", tok, nil)
	list, _, _ := in.q.List(ctx, "acme", jobs.Filter{Status: jobs.StatusPending}, 1, 1)
	call(t, "POST", in.base+"/api/v1/jobs/"+list[0].ID+"/cancel", tok, nil)
	if len(keyed) == 0 {
		t.Fatal("no keyed create was refused")
	}
	code, out := call(t, "POST", in.base+"/api/v1/jobs", tok, map[string]any{"job_type": "noop", "title": "t"}, "Idempotency-Key", keyed[0])
	if code != 201 {
		t.Errorf("a key refused with 429 then used again: %d %v", code, out)
	}
}

// A tenant could create schedules without bound, each stored and looked at
// by every replica's scheduler. jobs.max_schedules_per_tenant bounds them:
// exactly, under concurrent creates; a refused create stores nothing; a
// delete makes room; other tenants are not affected.
func TestMaxSchedulesPerTenant(t *testing.T) {
	srv := redistest.Start(t)
	const limit = 3
	in := startInstance(t, srv.URL(), &counters{}, nil, noWorkers, func(c *jobs.Config, _ *redis.Config) { c.MaxSchedulesPerTenant = limit })
	tok := token(t, "acme", allPerms...)
	const path = "/api/v1/jobs/scheduler/scheduled-jobs"
	body := map[string]any{"name": "n", "job_type": "noop", "interval_seconds": 60}
	var mu sync.Mutex
	codes := map[int]int{}
	var ids []string
	var wg sync.WaitGroup
	for range 12 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			code, out := call(t, "POST", in.base+path, tok, body)
			mu.Lock()
			defer mu.Unlock()
			codes[code]++
			switch code {
			case 201:
				ids = append(ids, out["id"].(string))
			case 429:
				if out["error"] != "too_many_schedules" || !strings.Contains(out["message"].(string), "jobs.max_schedules_per_tenant") {
					t.Errorf("429 answer: %v", out)
				}
			}
		}()
	}
	wg.Wait()
	if codes[201] != limit || codes[429] != 12-limit {
		t.Fatalf("answers %v, want %d created and the rest 429", codes, limit)
	}
	if _, list := call(t, "GET", in.base+path, tok, nil); list["total"] != float64(limit) {
		t.Errorf("listed %v schedules, want %d", list["total"], limit)
	}
	ctx := context.Background()
	name, typ, every := "g", "noop", int64(60)
	if _, err := in.q.CreateSchedule(ctx, "acme", "go", jobs.ScheduleRequest{Name: &name, JobType: &typ, IntervalSeconds: &every}); !errors.Is(err, jobs.ErrTooManySchedules) {
		t.Errorf("Go API over the limit: %v", err)
	}
	if code, out := call(t, "POST", in.base+path, token(t, "initech", allPerms...), body); code != 201 {
		t.Errorf("another tenant: %d %v", code, out)
	}
	if code, _ := call(t, "DELETE", in.base+path+"/"+ids[0], tok, nil); code != 204 {
		t.Fatalf("delete: %d", code)
	}
	if code, out := call(t, "POST", in.base+path, tok, body); code != 201 {
		t.Errorf("after a delete: %d %v", code, out)
	}
}
