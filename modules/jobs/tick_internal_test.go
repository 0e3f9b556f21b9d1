package jobs

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/redifx/redifx/modules/redis/redistest"
	goredis "github.com/redis/go-redis/v9"
)

// A tick read at most 100 due schedules: one tenant's 250 schedules due at
// once took three ticks, delaying every other tenant's by two. One tick now
// fires every due schedule (in batches).
func TestOneTickFiresEveryDueSchedule(t *testing.T) {
	srv := redistest.Start(t)
	mgr := StartManagerForTest(t, srv.URL(), "")
	ctx := context.Background()
	q := NewQueue(DefaultConfig(), mgr, func() []string { return []string{"noop"} }, nil, nil)
	const n = 250
	name, typ, every := "s", "noop", int64(3600)
	due := time.Now().Add(-time.Second)
	for i := range n {
		s, err := q.CreateSchedule(ctx, "acme", "me", ScheduleRequest{Name: &name, JobType: &typ, IntervalSeconds: &every})
		if err != nil {
			t.Fatal(err)
		}
		// Due a second ago (its anchor too, so its slots are on the hour from then).
		slot := due.Add(-time.Duration(i) * time.Millisecond).UnixMilli()
		if err := q.rdb.HSet(ctx, q.k.sched(s.ID), "next_run_at", slot, "anchor", slot).Err(); err != nil {
			t.Fatal(err)
		}
		if err := q.rdb.ZAdd(ctx, q.k.schedDue(), goredis.Z{Score: float64(slot), Member: s.ID}).Err(); err != nil {
			t.Fatal(err)
		}
	}
	NewScheduler(q).tick(ctx)
	list, err := q.ListSchedules(ctx, "acme")
	if err != nil {
		t.Fatal(err)
	}
	fired := 0
	for _, s := range list {
		if s.TotalRuns == 1 {
			fired++
		}
	}
	if fired != n {
		t.Fatalf("one tick fired %d of %d due schedules", fired, n)
	}
	if left := q.rdb.ZCount(ctx, q.k.schedDue(), "-inf", fmt.Sprint(time.Now().UnixMilli())).Val(); left != 0 {
		t.Errorf("%d schedules still due", left)
	}
}
