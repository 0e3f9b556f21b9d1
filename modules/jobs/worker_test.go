package jobs_test

import (
	"context"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redifx/redifx/modules/jobs"
	"github.com/redifx/redifx/modules/redis"
	"github.com/redifx/redifx/modules/redis/redistest"
	goredis "github.com/redis/go-redis/v9"
)

func concurrency(n int) mutate {
	return func(c *jobs.Config, _ *redis.Config) { c.Concurrency = n }
}

func enqueueN(t *testing.T, in *instance, jobType string, n int) []string {
	t.Helper()
	ids := make([]string, n)
	for i := range ids {
		j, _, err := in.q.Enqueue(context.Background(), "acme", "test", jobs.CreateRequest{JobType: jobType, Title: jobType}, "")
		if err != nil {
			t.Fatal(err)
		}
		ids[i] = j.ID
	}
	return ids
}

func statusOf(t *testing.T, in *instance, id string) *jobs.Job {
	t.Helper()
	j, err := in.q.Get(context.Background(), "acme", id)
	if err != nil {
		t.Fatal(err)
	}
	return j
}

func allStatus(t *testing.T, in *instance, ids []string, st jobs.Status) bool {
	t.Helper()
	for _, id := range ids {
		if statusOf(t, in, id).Status != st {
			return false
		}
	}
	return true
}

// holdBehindBlockers makes worker in (concurrency blockers, counted by c)
// hold short jobs it cannot start: short jobs first show it that jobs are
// short (so it prefetches), then blockers take every slot, then it takes
// the held short jobs, whose ids are returned.
func holdBehindBlockers(t *testing.T, in *instance, c *counters, blockers, held int) []string {
	t.Helper()
	warm := enqueueN(t, in, "noop", 40)
	eventually(t, "the short jobs done", 10*time.Second, func() bool { return allStatus(t, in, warm, jobs.StatusCompleted) })
	enqueueN(t, in, "block", blockers)
	eventually(t, "the blocking jobs running", 5*time.Second, func() bool { return c.live.Load() == int64(blockers) })
	ids := enqueueN(t, in, "noop", held)
	eventually(t, "the short jobs held by the busy worker", 5*time.Second, func() bool { return allStatus(t, in, ids, jobs.StatusRunning) })
	return ids
}

// A worker whose jobs are not known to be short takes no more than it can
// run: the rest stay in the queue for other workers.
func TestLongJobsAreLeftToOtherWorkers(t *testing.T) {
	srv := redistest.Start(t)
	c := &counters{}
	a := startInstance(t, srv.URL(), c, nil, concurrency(2))
	ids := enqueueN(t, a, "block", 4)
	eventually(t, "two jobs running on the first worker", 5*time.Second, func() bool { return c.live.Load() == 2 })
	time.Sleep(300 * time.Millisecond)
	if !allStatus(t, a, ids[2:], jobs.StatusPending) {
		t.Fatalf("jobs beyond the first worker's concurrency were taken: %v %v", statusOf(t, a, ids[2]).Status, statusOf(t, a, ids[3]).Status)
	}
	startInstance(t, srv.URL(), c, nil, concurrency(2))
	eventually(t, "the other two jobs running on the second worker", 5*time.Second, func() bool { return c.live.Load() == 4 })
}

// Once jobs prove short a worker holds more than it runs; a held job whose
// wait for a free slot lasts (the running jobs turned out long) goes back to
// its queue without counting as an attempt or a recovery, and another worker
// runs it.
func TestHeldJobsGoBackWhenTheSlotsStayBusy(t *testing.T) {
	srv := redistest.Start(t)
	c := &counters{}
	a := startInstance(t, srv.URL(), c, nil, concurrency(2))
	held := holdBehindBlockers(t, a, c, 2, 4)
	eventually(t, "the held jobs given back", 5*time.Second, func() bool { return allStatus(t, a, held, jobs.StatusPending) })
	time.Sleep(300 * time.Millisecond)
	if !allStatus(t, a, held, jobs.StatusPending) {
		t.Fatal("the busy worker took the given-back jobs again")
	}

	startInstance(t, srv.URL(), c, nil, concurrency(2))
	eventually(t, "the given-back jobs done by the other worker", 5*time.Second, func() bool { return allStatus(t, a, held, jobs.StatusCompleted) })
	for _, id := range held {
		if j := statusOf(t, a, id); j.Attempts != 0 || j.Recoveries != 0 {
			t.Errorf("job %s: attempts %d, recoveries %d; want 0, 0", id, j.Attempts, j.Recoveries)
		}
	}
}

// Wake-ups left by a burst (one per enqueue) are dropped once the queues are
// drained, so an idle worker blocks instead of dequeuing for nothing once per
// stale wake-up.
func TestNoStaleWakeUpsAfterABurst(t *testing.T) {
	redistest.RequireReal(t) // counts commands with INFO commandstats
	srv := redistest.Start(t)
	producer := startInstance(t, srv.URL(), &counters{}, nil, noWorkers)
	ids := enqueueN(t, producer, "noop", 200)
	ctx := context.Background()
	rdb := producer.mgr.Client()
	if err := rdb.ConfigResetStat(ctx).Err(); err != nil {
		t.Fatal(err)
	}
	worker := startInstance(t, srv.URL(), &counters{}, nil)
	eventually(t, "the burst done", 10*time.Second, func() bool { return allStatus(t, worker, ids, jobs.StatusCompleted) })
	time.Sleep(500 * time.Millisecond)
	info, err := rdb.Info(ctx, "commandstats").Result()
	if err != nil {
		t.Fatal(err)
	}
	blpops := 0
	if _, rest, ok := strings.Cut(info, "cmdstat_blpop:calls="); ok {
		blpops, _ = strconv.Atoi(rest[:strings.IndexByte(rest, ',')])
	}
	if blpops > 5 {
		t.Errorf("the idle worker waited %d times after a 200-job burst; stale wake-ups were not dropped", blpops)
	}
	key := producer.mgr.Prefix(redis.ClientDefault) + "{jobs}:notify"
	if n, err := rdb.LLen(ctx, key).Result(); err != nil || n != 0 {
		t.Errorf("wake-ups left: %d (%v)", n, err)
	}
	// An idle worker still wakes up for the next job at once.
	next := enqueueN(t, producer, "noop", 1)
	eventually(t, "the next job done", 500*time.Millisecond, func() bool { return allStatus(t, worker, next, jobs.StatusCompleted) })
}

// A shutdown puts back the jobs a worker holds but has not started, counted
// as recoveries like every job a shutdown puts back, never as attempts.
func TestShutdownPutsBackHeldJobs(t *testing.T) {
	srv := redistest.Start(t)
	c := &counters{}
	a := startInstance(t, srv.URL(), c, nil, concurrency(1))
	held := holdBehindBlockers(t, a, c, 1, 2)
	a.stop()
	reader := startInstance(t, srv.URL(), c, nil, noWorkers)
	for _, id := range held {
		if j := statusOf(t, reader, id); j.Status != jobs.StatusPending || j.Attempts != 0 || j.Recoveries != 1 {
			t.Errorf("held job %s after shutdown: %s, attempts %d, recoveries %d; want pending, 0, 1", id, j.Status, j.Attempts, j.Recoveries)
		}
	}
}

// A run whose lease expired (its renewal came too late) stops when its job,
// put back by the sweeper, is leased again, also by the same worker: a job
// never runs twice at once in one worker.
func TestExpiredRunStopsWhenItsJobIsLeasedAgain(t *testing.T) {
	srv := redistest.Start(t)
	c := &counters{}
	a := startInstance(t, srv.URL(), c, nil, concurrency(2))
	id := enqueueN(t, a, "block", 1)[0]
	eventually(t, "the job running", 5*time.Second, func() bool { return c.live.Load() == 1 })
	// Make its lease look expired, as if renewal had stalled for a lease.
	leases := a.mgr.Prefix(redis.ClientDefault) + "{jobs}:leases"
	if err := a.mgr.Client().ZAdd(context.Background(), leases, goredis.Z{Score: 0, Member: id}).Err(); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the job leased and started again", 5*time.Second, func() bool { return c.get(id) == 2 })
	eventually(t, "the first run stopped", 2*time.Second, func() bool { return c.live.Load() == 1 })
	time.Sleep(2500 * time.Millisecond) // more than a lease: renewals keep the second run alone
	if n := c.live.Load(); n != 1 {
		t.Errorf("%d handlers of one job run at once", n)
	}
	if j := statusOf(t, a, id); j.Status != jobs.StatusRunning || j.Recoveries != 1 || j.Attempts != 0 {
		t.Errorf("after the lease was taken back: %s, recoveries %d, attempts %d", j.Status, j.Recoveries, j.Attempts)
	}
}
