package jobs

import (
	"context"
	"slices"
	"testing"

	"github.com/redifx/redifx/modules/redis/redistest"
)

// A damaged record (a job whose key is not a hash, a corrupt priority, a
// tenant's counter that is not an integer or would overflow) must not make
// dequeue or sweep fail on every call: that stalls every worker of every
// tenant. Each script skips it, takes it off the list it was on, reports it,
// leaves its keys as they were, and does the rest of its work.

type poisonCase struct {
	name    string
	prepare func(f *scriptFixture)
	poison  string   // the job reported
	also    []string // other jobs reported with it (the same damaged counter)
	keep    []string // keys that must be left exactly as they were
}

// poisonOf decodes a flat {id, reason, ...} list.
func poisonOf(t *testing.T, v any) map[string]string {
	t.Helper()
	flat, ok := v.([]any)
	if !ok {
		t.Fatalf("poison list is %T", v)
	}
	out := map[string]string{}
	for i := 0; i+1 < len(flat); i += 2 {
		out[flat[i].(string)] = flat[i+1].(string)
	}
	return out
}

func checkPoison(t *testing.T, c poisonCase, got map[string]string, before, after map[string]string) {
	t.Helper()
	want := append([]string{c.poison}, c.also...)
	if len(got) != len(want) {
		t.Fatalf("reported poison %v, want %v", got, want)
	}
	for _, id := range want {
		if got[id] == "" {
			t.Fatalf("reported poison %v, want %v", got, want)
		}
	}
	for _, k := range c.keep {
		if before[k] != after[k] {
			t.Errorf("key %s changed: %s -> %s", k, before[k], after[k])
		}
	}
}

func TestDequeueSkipsPoisonJobs(t *testing.T) {
	srv := redistest.Start(t)
	redistest.RequireReal(t)
	rdb := srv.Client(t)
	ctx := context.Background()
	cases := []poisonCase{
		{name: "queued job is a list", prepare: wrongType(func(f *scriptFixture) string { return f.k.job("j1") }, "list"), poison: "j1"},
		{name: "queued job is a string", prepare: wrongType(func(f *scriptFixture) string { return f.k.job("j1") }, "string"), poison: "j1"},
		{name: "tenant's pending count not an integer", prepare: hset(stats, "pending", ""), poison: "j1"},
		{name: "tenant's running count overflows", prepare: hset(stats, "running", nearMax), poison: "j1"},
		{name: "tenant's statistics are a list", prepare: wrongType(stats, "list"), poison: "j1"},
		{name: "tenant id cannot name a key", prepare: hset(func(f *scriptFixture) string { return f.k.job("j1") }, "tenant_id", "a:b"), poison: "j1"},
		{name: "no tenant id", prepare: func(f *scriptFixture) { f.rdb.HDel(context.Background(), f.k.job("j1"), "tenant_id") }, poison: "j1"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f := newFixture(t, srv, rdb)
			c.keep = []string{f.k.job("j1"), stats(f)}
			// A healthy job of another tenant queued behind the poison one.
			if err := f.run(enqueueScript, nil, enqArgs("j6", "beta", 0)...).Err(); err != nil {
				t.Fatal(err)
			}
			c.prepare(f)
			before := snapshot(t, rdb)
			reply, err := f.run(dequeueScript, nil, tNow, tNow+5000, "w2", 4, "tok2:", "normal", "high", "critical", "low").Slice()
			if err != nil {
				t.Fatalf("dequeue failed (every worker would stall): %v", err)
			}
			checkPoison(t, c, poisonOf(t, reply[1]), before, snapshot(t, rdb))
			leased := reply[0].([]any)
			if len(leased) != 3 || leased[0] != "j6" {
				t.Fatalf("leased %v, want j6 only", leased)
			}
			if st := rdb.HGet(ctx, f.k.job("j6"), "status").Val(); st != "running" {
				t.Errorf("j6 is %s, want running", st)
			}
			if n := rdb.LLen(ctx, f.k.queue("normal")).Val(); n != 0 {
				t.Errorf("%d ids left in the queue: the poison job would be met again", n)
			}
		})
	}
}

func TestSweepSkipsPoisonJobs(t *testing.T) {
	srv := redistest.Start(t)
	redistest.RequireReal(t)
	rdb := srv.Client(t)
	ctx := context.Background()
	job := func(id string) func(f *scriptFixture) string {
		return func(f *scriptFixture) string { return f.k.job(id) }
	}
	// At tNow+10s: j2's lease has expired, j3 is due, j4 is due for deletion.
	cases := []poisonCase{
		{name: "leased job is a string", prepare: wrongType(job("j2"), "string"), poison: "j2"},
		{name: "leased job's priority corrupt", prepare: hset(job("j2"), "priority", "urgent"), poison: "j2"},
		{name: "recovered job's recoveries overflow", prepare: hset(job("j2"), "recoveries", maxI64), poison: "j2"},
		{name: "cancelled count overflows", prepare: func(f *scriptFixture) {
			f.rdb.HSet(context.Background(), f.k.job("j2"), "cancel_requested", "1")
			f.rdb.HSet(context.Background(), stats(f), "cancelled", nearMax)
		}, poison: "j2", also: []string{"j4"}},
		{name: "leased job's schedule id cannot name a key", prepare: func(f *scriptFixture) {
			f.rdb.HSet(context.Background(), f.k.job("j2"), "cancel_requested", "1", "scheduled_job_id", "x:y")
		}, poison: "j2"},
		{name: "delayed job is a set", prepare: wrongType(job("j3"), "set"), poison: "j3"},
		{name: "delayed job priority corrupt", prepare: hset(job("j3"), "priority", ""), poison: "j3"},
		{name: "expired job is a list", prepare: wrongType(job("j4"), "list"), poison: "j4"},
		{name: "expired job's items make the sum overflow", prepare: func(f *scriptFixture) {
			f.rdb.HSet(context.Background(), f.k.job("j4"), "items_total", nearMax)
			f.rdb.HSet(context.Background(), stats(f), "items_total", "-"+nearMax)
		}, poison: "j4"},
		{name: "expired job's tenant id cannot name a key", prepare: hset(job("j4"), "tenant_id", "a{b"), poison: "j4"},
		{name: "expired job's tenant index is a set", prepare: wrongType(func(f *scriptFixture) string { return f.k.tenantJobs("acme") }, "set"), poison: "j4"},
	}
	lists := map[string]func(k keys) string{"j2": keys.leases, "j3": keys.delayed, "j4": keys.expire, "j5": keys.delayed}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f := newFixture(t, srv, rdb)
			c.keep = []string{f.k.job(c.poison)}
			c.prepare(f)
			before := snapshot(t, rdb)
			res, err := f.run(sweepScript, nil, tNow+10_000, 200, 60_000).Slice()
			if err != nil {
				t.Fatalf("sweep failed (no lease would ever be reclaimed again): %v", err)
			}
			checkPoison(t, c, poisonOf(t, res[3]), before, snapshot(t, rdb))
			if rdb.ZScore(ctx, lists[c.poison](f.k), c.poison).Err() == nil {
				t.Errorf("%s is still listed: it would be met on every sweep", c.poison)
			}
			// The healthy records (of j2 reclaimed, j3 and j5 promoted, j4
			// deleted) were handled.
			done := res[0].(int64) + res[1].(int64) + res[2].(int64)
			if want := int64(4 - 1 - len(c.also)); done != want {
				t.Errorf("reclaimed+promoted+expired = %d, want %d (the healthy records): %v", done, want, res)
			}
			for _, id := range []string{"j2", "j3", "j4", "j5"} {
				if id != c.poison && !slices.Contains(c.also, id) && rdb.ZScore(ctx, lists[id](f.k), id).Err() == nil {
					t.Errorf("healthy %s still waits on its list", id)
				}
			}
		})
	}
}

// A renewal carries every job a worker runs: a damaged one is a lost lease,
// not an error that lets every other lease expire (and its job run twice).
func TestRenewTreatsAPoisonJobAsLost(t *testing.T) {
	srv := redistest.Start(t)
	redistest.RequireReal(t)
	rdb := srv.Client(t)
	f := newFixture(t, srv, rdb)
	wrongType(func(f *scriptFixture) string { return f.k.job("j1") }, "string")(f)
	res, err := f.run(renewScript, nil, tNow, 6000, "j1", "tok", "j2", f.token).StringSlice()
	if err != nil {
		t.Fatalf("renew failed for every job: %v", err)
	}
	if want := []string{"j1", "lost", "j2", "ok"}; !slices.Equal(res, want) {
		t.Fatalf("renew answered %v, want %v", res, want)
	}
	if s := rdb.ZScore(context.Background(), f.k.leases(), "j2").Val(); s != float64(tNow+6000) {
		t.Errorf("j2's lease is %v, want renewed to %d", s, tNow+6000)
	}
}

// A batch of outcomes the finish script refuses because of one damaged job
// was lost whole: every other job's lease expired and it ran again. Now each
// outcome is recorded alone, and only the damaged one fails.
func TestFinishBatchWithAPoisonJobRecordsTheOthers(t *testing.T) {
	srv := redistest.Start(t)
	redistest.RequireReal(t)
	rdb := srv.Client(t)
	f := newFixture(t, srv, rdb)
	wrongType(func(f *scriptFixture) string { return f.k.job("jx") }, "string")(f)
	mgr := StartManagerForTest(t, srv.URL(), "test:")
	ctx := context.Background()
	q := NewQueue(DefaultConfig(), mgr, func() []string { return []string{"noop"} }, nil, nil)
	w := NewWorker(q, nil)
	// Both outcomes wait before the finisher starts: it takes them as one batch.
	w.finishCh = make(chan finishReq, 2)
	poison := finishReq{group: []any{"jx", "tok", "completed", "0", 0}, done: make(chan finishRes, 1)}
	healthy := finishReq{group: []any{"j2", f.token, "completed", "0", 0}, done: make(chan finishRes, 1)}
	w.finishCh <- poison
	w.finishCh <- healthy
	fctx, stop := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { defer close(done); w.finisher(fctx) }()
	defer func() { stop(); <-done }()
	if r := <-healthy.done; r.err != nil || r.res != "ok" {
		t.Errorf("the healthy job's outcome: %q %v, want ok", r.res, r.err)
	}
	if r := <-poison.done; r.err == nil {
		t.Errorf("the damaged job's outcome was recorded: %q", r.res)
	}
	if st := rdb.HGet(ctx, f.k.job("j2"), "status").Val(); st != "completed" {
		t.Errorf("j2 is %s, want completed", st)
	}
}
