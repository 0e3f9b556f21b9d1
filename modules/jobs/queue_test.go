package jobs_test

import (
	"context"
	"errors"
	"strconv"
	"testing"
	"time"

	"github.com/redifx/redifx/modules/jobs"
	"github.com/redifx/redifx/modules/redis"
	"github.com/redifx/redifx/modules/redis/redistest"
)

// Listing without a filter reads one page of the index; with a filter it
// scans the tenant's jobs. Both give the same jobs in the same order, newest
// first, and only the tenant's own.
func TestListPagesNewestFirstWithAndWithoutFilter(t *testing.T) {
	srv := redistest.Start(t)
	in := startInstance(t, srv.URL(), &counters{}, nil, noWorkers)
	ctx := context.Background()
	for i := range 25 {
		if _, _, err := in.q.Enqueue(ctx, "acme", "test", jobs.CreateRequest{JobType: "noop", Title: "noop"}, ""); err != nil {
			t.Fatal(err)
		}
		if i%5 == 0 {
			time.Sleep(2 * time.Millisecond) // distinct creation times, and ties
		}
	}
	if _, _, err := in.q.Enqueue(ctx, "initech", "test", jobs.CreateRequest{JobType: "noop", Title: "other"}, ""); err != nil {
		t.Fatal(err)
	}
	pages := func(f jobs.Filter) []*jobs.Job {
		var all []*jobs.Job
		for page := 1; page <= 4; page++ {
			got, total, err := in.q.List(ctx, "acme", f, page, 10)
			if err != nil {
				t.Fatal(err)
			}
			if total != 25 {
				t.Fatalf("filter %+v page %d: total %d, want 25", f, page, total)
			}
			if want := max(0, min(10, 25-(page-1)*10)); len(got) != want {
				t.Fatalf("filter %+v page %d: %d jobs, want %d", f, page, len(got), want)
			}
			all = append(all, got...)
		}
		return all
	}
	for _, bad := range [][2]int{{0, 10}, {1, 0}} {
		var fe *jobs.FieldError
		if _, _, err := in.q.List(ctx, "acme", jobs.Filter{}, bad[0], bad[1]); !errors.As(err, &fe) {
			t.Errorf("page %d, page size %d: %v, want a field error", bad[0], bad[1], err)
		}
	}
	plain, filtered := pages(jobs.Filter{}), pages(jobs.Filter{JobType: "noop"})
	seen := map[string]bool{}
	for i := range plain {
		if plain[i].ID != filtered[i].ID {
			t.Fatalf("position %d: %s without filter, %s with", i, plain[i].ID, filtered[i].ID)
		}
		if plain[i].TenantID != "acme" || seen[plain[i].ID] {
			t.Fatalf("position %d: %+v (repeated: %v)", i, plain[i], seen[plain[i].ID])
		}
		seen[plain[i].ID] = true
		if i > 0 && plain[i].CreatedAt.After(*plain[i-1].CreatedAt) {
			t.Fatalf("position %d is newer than %d", i, i-1)
		}
	}
}

// recount computes what Statistics should say from the jobs themselves.
func recount(t *testing.T, in *instance, tenant string) jobs.Statistics {
	t.Helper()
	s := jobs.Statistics{ByStatus: map[jobs.Status]int{}}
	for _, st := range jobs.Statuses {
		s.ByStatus[st] = 0
	}
	var durSum float64
	var durN int
	for page := 1; ; page++ {
		got, total, err := in.q.List(context.Background(), tenant, jobs.Filter{}, page, 100)
		if err != nil {
			t.Fatal(err)
		}
		for _, j := range got {
			s.Total++
			s.ByStatus[j.Status]++
			s.ItemsTotal += j.ItemsTotal
			s.ItemsProcessed += j.ItemsProcessed
			s.ItemsSucceeded += j.ItemsSucceeded
			s.ItemsFailed += j.ItemsFailed
			if d, ok := j.Duration(); ok && j.Status == jobs.StatusCompleted {
				durSum += d.Seconds()
				durN++
			}
		}
		if page*100 >= total {
			break
		}
	}
	if durN > 0 {
		avg := durSum / float64(durN)
		s.AvgDurationSeconds = &avg
	}
	return s
}

func sameStatistics(t *testing.T, got, want jobs.Statistics) {
	t.Helper()
	avg := func(p *float64) string {
		if p == nil {
			return "none"
		}
		return strconv.FormatFloat(*p, 'f', 6, 64)
	}
	if got.Total != want.Total || got.ItemsTotal != want.ItemsTotal || got.ItemsProcessed != want.ItemsProcessed ||
		got.ItemsSucceeded != want.ItemsSucceeded || got.ItemsFailed != want.ItemsFailed || avg(got.AvgDurationSeconds) != avg(want.AvgDurationSeconds) {
		t.Errorf("statistics %+v (avg %s), the jobs say %+v (avg %s)", got, avg(got.AvgDurationSeconds), want, avg(want.AvgDurationSeconds))
	}
	for _, st := range jobs.Statuses {
		if got.ByStatus[st] != want.ByStatus[st] {
			t.Errorf("%s: statistics say %d, the jobs %d", st, got.ByStatus[st], want.ByStatus[st])
		}
	}
}

// Statistics are counters the scripts keep; after every kind of transition
// they agree with the jobs themselves.
func TestStatisticsAgreeWithTheJobs(t *testing.T) {
	srv := redistest.Start(t)
	c := &counters{}
	in := startInstance(t, srv.URL(), c, nil)
	ctx := context.Background()
	create := func(r jobs.CreateRequest) string {
		t.Helper()
		if r.Title == "" {
			r.Title = r.JobType
		}
		j, _, err := in.q.Enqueue(ctx, "acme", "test", r, "")
		if err != nil {
			t.Fatal(err)
		}
		return j.ID
	}
	n := func(v int) *int { return &v }
	var items int64 = 3
	later := time.Now().Add(time.Hour)
	var ids []string
	for range 4 {
		ids = append(ids, create(jobs.CreateRequest{JobType: "noop", ItemsTotal: &items}))
	}
	ids = append(ids,
		create(jobs.CreateRequest{JobType: "flaky", Parameters: []byte(`{"succeed_on":2}`)}),                                                     // retried, then completed
		create(jobs.CreateRequest{JobType: "permanent"}),                                                                                         // failed
		create(jobs.CreateRequest{JobType: "sleep", Parameters: []byte(`{"duration":"300ms","steps":3}`)}),                                       // progress, completed
		create(jobs.CreateRequest{JobType: "sleep", TimeoutSeconds: n(1), MaxRetries: n(0), Parameters: []byte(`{"duration":"5s","steps":10}`)}), // timeout
	)
	cancelledPending := create(jobs.CreateRequest{JobType: "noop", RunAt: &later, ItemsTotal: &items})
	if _, _, err := in.q.Cancel(ctx, "acme", cancelledPending); err != nil {
		t.Fatal(err)
	}
	stillPending := create(jobs.CreateRequest{JobType: "noop", RunAt: &later, ItemsTotal: &items})
	cancelledRunning := create(jobs.CreateRequest{JobType: "sleep", Parameters: []byte(`{"duration":"5s","steps":20}`)})
	running := create(jobs.CreateRequest{JobType: "block"})
	eventually(t, "the cancellable job reporting progress", 5*time.Second, func() bool {
		return statusOf(t, in, cancelledRunning).ItemsProcessed > 0
	})
	if _, _, err := in.q.Cancel(ctx, "acme", cancelledRunning); err != nil {
		t.Fatal(err)
	}
	eventually(t, "every job settled", 10*time.Second, func() bool {
		for _, id := range ids {
			if !statusOf(t, in, id).Status.Terminal() {
				return false
			}
		}
		return statusOf(t, in, cancelledRunning).Status == jobs.StatusCancelled && statusOf(t, in, running).Status == jobs.StatusRunning
	})
	if st := statusOf(t, in, stillPending).Status; st != jobs.StatusPending {
		t.Fatalf("the delayed job is %s", st)
	}
	got, err := in.q.Statistics(ctx, "acme")
	if err != nil {
		t.Fatal(err)
	}
	want := recount(t, in, "acme")
	sameStatistics(t, got, want)
	if want.ByStatus[jobs.StatusCompleted] != 6 || want.ByStatus[jobs.StatusTimeout] != 1 || want.ByStatus[jobs.StatusCancelled] != 2 ||
		want.ByStatus[jobs.StatusFailed] != 1 || want.ByStatus[jobs.StatusRunning] != 1 || want.ByStatus[jobs.StatusPending] != 1 || want.ItemsProcessed == 0 {
		t.Errorf("the workload did not end as planned: %+v", want)
	}
	if other, err := in.q.Statistics(ctx, "initech"); err != nil || other.Total != 0 {
		t.Errorf("another tenant: %+v %v", other, err)
	}
}

// Jobs that expire leave the statistics with them.
func TestStatisticsForgetExpiredJobs(t *testing.T) {
	srv := redistest.Start(t)
	in := startInstance(t, srv.URL(), &counters{}, nil, func(c *jobs.Config, _ *redis.Config) { c.Retention = 300 * time.Millisecond })
	ctx := context.Background()
	var items int64 = 2
	later := time.Now().Add(time.Hour)
	var done []string
	for range 3 {
		j, _, err := in.q.Enqueue(ctx, "acme", "test", jobs.CreateRequest{JobType: "sleep", Title: "s", ItemsTotal: &items, Parameters: []byte(`{"duration":"20ms","steps":2}`)}, "")
		if err != nil {
			t.Fatal(err)
		}
		done = append(done, j.ID)
	}
	if _, _, err := in.q.Enqueue(ctx, "acme", "test", jobs.CreateRequest{JobType: "noop", Title: "later", ItemsTotal: &items, RunAt: &later}, ""); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the finished jobs expired", 5*time.Second, func() bool {
		for _, id := range done {
			if _, err := in.q.Get(ctx, "acme", id); !errors.Is(err, jobs.ErrNotFound) {
				return false
			}
		}
		return true
	})
	got, err := in.q.Statistics(ctx, "acme")
	if err != nil {
		t.Fatal(err)
	}
	sameStatistics(t, got, recount(t, in, "acme"))
	if got.Total != 1 || got.ByStatus[jobs.StatusPending] != 1 || got.ItemsTotal != 2 || got.ItemsProcessed != 0 || got.AvgDurationSeconds != nil {
		t.Errorf("after expiry: %+v", got)
	}
}
