package jobs_test

import (
	"context"
	"testing"
	"time"

	"github.com/redifx/redifx/modules/jobs"
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
