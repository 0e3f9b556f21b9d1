package jobs

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/redifx/redifx/modules/redis"
	"github.com/redifx/redifx/modules/redis/redistest"
	goredis "github.com/redis/go-redis/v9"
)

// Per-script boundary tests: each script gets empty, huge, negative,
// non-numeric and max-int64 arguments, keys of the wrong type and counters on
// the edge of overflowing. Every such call must fail with the script's own
// error (not a Redis condition) and leave every key exactly as it was.

const (
	tNow    = int64(1_700_000_000_000)
	maxI64  = "9223372036854775807"
	nearMax = "8999999999999999999" // a counter one step from the scripts' limit
)

type scriptFixture struct {
	rdb   *goredis.Client
	k     keys
	token string // the lease token of the running job j2
}

func (f *scriptFixture) run(s *goredis.Script, keys []string, args ...any) *goredis.Cmd {
	if keys == nil {
		keys = []string{f.k.meta()}
	}
	return s.Run(context.Background(), f.rdb, keys, append([]any{f.k.base}, args...)...)
}

// enqArgs are valid enqueue arguments (after the base) for job id of tenant.
func enqArgs(id, tenant string, runAt int64, extra ...any) []any {
	a := []any{id, tenant, tNow, 1000, "h", 86_400_000, runAt, "normal",
		"id", id, "tenant_id", tenant, "job_type", "noop", "status", "pending", "priority", "normal", "items_total", 5}
	return append(a, extra...)
}

// newFixture empties Redis and builds a small world: j1 pending, j2 running
// (its lease expired by tNow+10s), j3 delayed until tNow+1000, j4 completed and
// due for deletion, and schedule s1 due at 1000 with one unfinished run (j5).
func newFixture(t *testing.T, srv *redistest.Server, rdb *goredis.Client) *scriptFixture {
	t.Helper()
	srv.Flush(t)
	f := &scriptFixture{rdb: rdb, k: newKeys("test:")}
	must := func(c *goredis.Cmd) {
		t.Helper()
		if err := c.Err(); err != nil {
			t.Fatal(err)
		}
	}
	must(f.run(enqueueScript, nil, enqArgs("j2", "acme", 0)...))
	reply, err := f.run(dequeueScript, nil, tNow, tNow+5000, "w1", 1, "tok:", "normal", "high", "critical", "low").Slice()
	if err != nil || len(reply) != 2 || len(reply[0].([]any)) != 3 {
		t.Fatalf("dequeue: %v %v", reply, err)
	}
	f.token = reply[0].([]any)[1].(string)
	must(f.run(enqueueScript, nil, enqArgs("j1", "acme", 0)...))
	must(f.run(enqueueScript, nil, enqArgs("j3", "acme", tNow+1000)...))
	must(f.run(enqueueScript, nil, enqArgs("j4", "acme", tNow+1000)...))
	must(f.run(cancelScript, nil, "j4", "acme", tNow, 0))
	must(f.run(enqueueScript, nil, enqArgs("j5", "acme", tNow+1000, "scheduled_job_id", "s1")...))
	ctx := context.Background()
	if err := rdb.HSet(ctx, f.k.sched("s1"), "id", "s1", "tenant_id", "acme", "next_run_at", "1000", "is_active", "1",
		"max_concurrent_runs", "2").Err(); err != nil {
		t.Fatal(err)
	}
	rdb.ZAdd(ctx, f.k.schedDue(), goredis.Z{Score: 1000, Member: "s1"})
	rdb.SAdd(ctx, f.k.schedRuns("s1"), "j5")
	return f
}

// snapshot and diff compare the whole database (redistest.Snapshot).
func snapshot(t *testing.T, rdb *goredis.Client) map[string]string { return redistest.Snapshot(t, rdb) }

func diff(a, b map[string]string) []string { return redistest.Changed(a, b) }

type scriptCase struct {
	name    string
	prepare func(f *scriptFixture) // corrupts the world before the call
	keys    func(f *scriptFixture) []string
	args    func(f *scriptFixture) []any
}

// set replaces args[i].
func set(args []any, i int, v any) []any {
	a := slices.Clone(args)
	a[i] = v
	return a
}

// wrongType replaces key k with a value of another type.
func wrongType(k func(f *scriptFixture) string, as string) func(f *scriptFixture) {
	return func(f *scriptFixture) {
		ctx := context.Background()
		key := k(f)
		f.rdb.Del(ctx, key)
		switch as {
		case "string":
			f.rdb.Set(ctx, key, "x", 0)
		case "set":
			f.rdb.SAdd(ctx, key, "x")
		case "list":
			f.rdb.RPush(ctx, key, "x")
		}
	}
}

func hset(k func(f *scriptFixture) string, field, v string) func(f *scriptFixture) {
	return func(f *scriptFixture) { f.rdb.HSet(context.Background(), k(f), field, v) }
}

func stats(f *scriptFixture) string { return f.k.stats("acme") }

// testScript runs the valid call (it must write) and then every case (each
// must fail as a logic error and write nothing).
func testScript(t *testing.T, s *goredis.Script, valid func(f *scriptFixture) []any, validKeys func(f *scriptFixture) []string, cases []scriptCase) {
	srv := redistest.Start(t)
	redistest.RequireReal(t)
	rdb := srv.Client(t)
	keysOf := func(c func(f *scriptFixture) []string, f *scriptFixture) []string {
		if c == nil {
			if validKeys == nil {
				return nil
			}
			return validKeys(f)
		}
		return c(f)
	}
	t.Run("valid", func(t *testing.T) {
		f := newFixture(t, srv, rdb)
		before := snapshot(t, rdb)
		if err := f.run(s, keysOf(nil, f), valid(f)...).Err(); err != nil {
			t.Fatalf("valid call: %v", err)
		}
		if len(diff(before, snapshot(t, rdb))) == 0 {
			t.Fatal("the valid call wrote nothing: the cases below prove nothing")
		}
	})
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f := newFixture(t, srv, rdb)
			if c.prepare != nil {
				c.prepare(f)
			}
			args := valid(f)
			if c.args != nil {
				args = c.args(f)
			}
			before := snapshot(t, rdb)
			err := f.run(s, keysOf(c.keys, f), args...).Err()
			if err == nil {
				t.Fatal("the call succeeded")
			}
			if cond, ok := redis.Condition(err); ok {
				t.Errorf("a logic error reads as the Redis condition %s: %v", cond, err)
			}
			if d := diff(before, snapshot(t, rdb)); len(d) > 0 {
				t.Errorf("error %q left partial writes in %s", err, strings.Join(d, ", "))
			}
		})
	}
}

// argCases makes one case per (argument index, bad value).
func argCases(valid func(f *scriptFixture) []any, bad map[int][]any, names map[int]string) []scriptCase {
	var out []scriptCase
	for _, i := range slices.Sorted(maps.Keys(bad)) {
		for _, v := range bad[i] {
			out = append(out, scriptCase{
				name: fmt.Sprintf("%s=%q", names[i], v),
				args: func(f *scriptFixture) []any { return set(valid(f), i, v) },
			})
		}
	}
	return out
}

var numBad = []any{"", "abc", "1e3", "-", maxI64, "99999999999999999999999", "1.5"}

func TestEnqueueScriptBoundaries(t *testing.T) {
	valid := func(*scriptFixture) []any { return enqArgs("n1", "acme", 0) }
	idemKeys := func(f *scriptFixture) []string { return []string{f.k.meta(), f.k.idem("acme", "key")} }
	cases := argCases(valid, map[int][]any{
		0: {"", "a:b", "a{b}", strings.Repeat("x", 129)},
		1: {"", "x:y", "acme}"},
		2: numBad,
		3: {"", "abc", maxI64},
		6: numBad,
		7: {"", "urgent", "NORMAL"},
	}, map[int]string{0: "id", 1: "tenant", 2: "now", 3: "max_pending", 6: "run_at", 7: "priority"})
	cases = append(cases,
		scriptCase{name: "no fields", args: func(*scriptFixture) []any { return enqArgs("n1", "acme", 0)[:8] }},
		scriptCase{name: "odd fields", args: func(*scriptFixture) []any { return append(enqArgs("n1", "acme", 0), "dangling") }},
		scriptCase{name: "items_total non-numeric", args: func(*scriptFixture) []any { return set(enqArgs("n1", "acme", 0), 19, "many") }},
		scriptCase{name: "items_total negative zero", args: func(*scriptFixture) []any { return set(enqArgs("n1", "acme", 0), 19, "-0") }},
		scriptCase{name: "items_total max int64", args: func(*scriptFixture) []any { return set(enqArgs("n1", "acme", 0), 19, maxI64) }},
		scriptCase{name: "items_total sum overflows", prepare: hset(stats, "items_total", nearMax),
			args: func(*scriptFixture) []any { return set(enqArgs("n1", "acme", 0), 19, "1000000000000") }},
		scriptCase{name: "pending count overflows", prepare: hset(stats, "pending", "-"+nearMax)},
		scriptCase{name: "stats counter not an integer", prepare: hset(stats, "items_total", "12abc")},
		scriptCase{name: "stats is a string", prepare: wrongType(stats, "string")},
		scriptCase{name: "tenant index is a list", prepare: wrongType(func(f *scriptFixture) string { return f.k.tenantJobs("acme") }, "list")},
		scriptCase{name: "queue is a set", prepare: wrongType(func(f *scriptFixture) string { return f.k.queue("normal") }, "set")},
		scriptCase{name: "notify is a string", prepare: wrongType(func(f *scriptFixture) string { return f.k.notify() }, "string")},
		scriptCase{name: "delayed is a list", prepare: wrongType(func(f *scriptFixture) string { return f.k.delayed() }, "list"),
			args: func(*scriptFixture) []any { return enqArgs("n1", "acme", tNow+1) }},
		scriptCase{name: "idempotency record is a string", keys: idemKeys,
			prepare: wrongType(func(f *scriptFixture) string { return f.k.idem("acme", "key") }, "string")},
		scriptCase{name: "idempotency ttl non-numeric", keys: idemKeys, args: func(*scriptFixture) []any { return set(valid(nil), 5, "day") }},
		scriptCase{name: "idempotency ttl negative", keys: idemKeys, args: func(*scriptFixture) []any { return set(valid(nil), 5, "-1") }},
		scriptCase{name: "idempotency ttl zero", keys: idemKeys, args: func(*scriptFixture) []any { return set(valid(nil), 5, "0") }},
	)
	testScript(t, enqueueScript, valid, nil, cases)
}

func TestDequeueScriptBoundaries(t *testing.T) {
	valid := func(*scriptFixture) []any {
		return []any{tNow, tNow + 5000, "w2", 4, "tok2:", "normal", "high", "critical", "low"}
	}
	cases := argCases(valid, map[int][]any{
		0: numBad, 1: numBad,
		3: {"", "0", "-1", "abc", maxI64, "10001"},
		5: {"", "bogus"},
		8: {"LOW"},
	}, map[int]string{0: "now", 1: "expiry", 3: "count", 5: "first priority", 8: "last priority"})
	cases = append(cases,
		scriptCase{name: "leases is a string", prepare: wrongType(func(f *scriptFixture) string { return f.k.leases() }, "string")},
		scriptCase{name: "queue is a string", prepare: wrongType(func(f *scriptFixture) string { return f.k.queue("high") }, "string")},
	)
	testScript(t, dequeueScript, valid, nil, cases)
}

func TestRenewScriptBoundaries(t *testing.T) {
	valid := func(f *scriptFixture) []any { return []any{tNow, 6000, "j2", f.token, "j1", "not-mine"} }
	cases := argCases(valid, map[int][]any{0: numBad, 1: numBad}, map[int]string{0: "now", 1: "lease"})
	cases = append(cases,
		scriptCase{name: "id without token", args: func(f *scriptFixture) []any { return valid(f)[:5] }},
		scriptCase{name: "leases is a hash", prepare: wrongType(func(f *scriptFixture) string { return f.k.leases() }, "set")},
	)
	testScript(t, renewScript, valid, nil, cases)
}

func TestFinishScriptBoundaries(t *testing.T) {
	group := func(f *scriptFixture, outcome string, fields ...any) []any {
		return append([]any{"j2", f.token, outcome, tNow + 100, len(fields)}, fields...)
	}
	valid := func(f *scriptFixture) []any {
		return append([]any{tNow + 10, tNow + 1000}, group(f, "completed", "items_processed", 3, "result", "{}")...)
	}
	cases := argCases(valid, map[int][]any{
		0: numBad, 1: numBad,
		4: {"", "bogus", "running"},
		6: {"", "abc", "-2", "3", "99", maxI64},
		8: {"", "abc", "-", maxI64, "1e3"},
	}, map[int]string{0: "now", 1: "expire_at", 4: "outcome", 6: "field count", 8: "items_processed"})
	cases = append(cases,
		scriptCase{name: "retry_at non-numeric", args: func(f *scriptFixture) []any {
			return set(append([]any{tNow, tNow + 1000}, group(f, "retry")...), 5, "soon")
		}},
		scriptCase{name: "incomplete group", args: func(f *scriptFixture) []any { return valid(f)[:5] }},
		scriptCase{name: "a good job then a bad one", prepare: func(f *scriptFixture) {
			// j1 runs too, under the token tok:j1.
			if err := f.run(dequeueScript, nil, tNow, tNow+5000, "w1", 1, "tok:", "normal").Err(); err != nil {
				t.Fatal(err)
			}
		}, args: func(f *scriptFixture) []any {
			return append(valid(f), "j1", "tok:j1", "completed", 0, 2, "items_failed", "x")
		}},
		scriptCase{name: "items sum overflows", prepare: hset(stats, "items_processed", nearMax)},
		scriptCase{name: "duration sum overflows", prepare: hset(stats, "duration_ms", nearMax),
			args: func(f *scriptFixture) []any {
				return append([]any{tNow + 9_000_000_000_000, tNow + 1000}, group(f, "completed")...)
			}},
		scriptCase{name: "completed count not an integer", prepare: hset(stats, "completed", "1.5")},
		scriptCase{name: "expire is a list", prepare: wrongType(func(f *scriptFixture) string { return f.k.expire() }, "list")},
		scriptCase{name: "delayed is a set (retry)", prepare: wrongType(func(f *scriptFixture) string { return f.k.delayed() }, "set"),
			args: func(f *scriptFixture) []any { return append([]any{tNow, tNow + 1000}, group(f, "retry")...) }},
		scriptCase{name: "schedule's runs are a string", prepare: func(f *scriptFixture) {
			f.rdb.HSet(context.Background(), f.k.job("j2"), "scheduled_job_id", "s1")
			wrongType(func(f *scriptFixture) string { return f.k.schedRuns("s1") }, "string")(f)
		}},
		scriptCase{name: "schedule's run count overflows", prepare: func(f *scriptFixture) {
			f.rdb.HSet(context.Background(), f.k.job("j2"), "scheduled_job_id", "s1")
			f.rdb.HSet(context.Background(), f.k.sched("s1"), "successful_runs", maxI64)
		}},
	)
	testScript(t, finishScript, valid, nil, cases)
}

func TestRequeueScriptBoundaries(t *testing.T) {
	valid := func(f *scriptFixture) []any { return []any{"j2", f.token, "1"} }
	cases := []scriptCase{
		{name: "no token", args: func(*scriptFixture) []any { return []any{"j2"} }},
		{name: "no arguments", args: func(*scriptFixture) []any { return nil }},
		{name: "job priority corrupt", prepare: hset(func(f *scriptFixture) string { return f.k.job("j2") }, "priority", "bogus")},
		{name: "job without tenant", prepare: func(f *scriptFixture) { f.rdb.HDel(context.Background(), f.k.job("j2"), "tenant_id") }},
		{name: "recoveries overflows", prepare: hset(func(f *scriptFixture) string { return f.k.job("j2") }, "recoveries", maxI64)},
		{name: "pending count overflows", prepare: hset(stats, "pending", nearMax)},
		{name: "queue is a string", prepare: wrongType(func(f *scriptFixture) string { return f.k.queue("normal") }, "string")},
		{name: "leases is a list", prepare: wrongType(func(f *scriptFixture) string { return f.k.leases() }, "list")},
	}
	testScript(t, requeueScript, valid, nil, cases)
}

func TestSweepScriptBoundaries(t *testing.T) {
	// At tNow+10s: j2's lease has expired, j3 is due, j4 is due for deletion.
	valid := func(*scriptFixture) []any { return []any{tNow + 10_000, 200, 60_000} }
	cases := argCases(valid, map[int][]any{
		0: numBad,
		1: {"", "0", "-1", "abc", maxI64, "10001"},
		2: {"", "-1", "abc", maxI64},
	}, map[int]string{0: "now", 1: "limit", 2: "retention"})
	cases = append(cases,
		scriptCase{name: "expire is a string", prepare: wrongType(func(f *scriptFixture) string { return f.k.expire() }, "string")},
		scriptCase{name: "queue is a set", prepare: wrongType(func(f *scriptFixture) string { return f.k.queue("normal") }, "set")},
	)
	testScript(t, sweepScript, valid, nil, cases)
}

func TestCancelScriptBoundaries(t *testing.T) {
	valid := func(*scriptFixture) []any { return []any{"j1", "acme", tNow, 60_000} }
	cases := argCases(valid, map[int][]any{
		1: {"", "a:b", "acme}"},
		2: numBad,
		3: {"", "-1", "abc", maxI64},
	}, map[int]string{1: "tenant", 2: "now", 3: "retention"})
	cases = append(cases,
		scriptCase{name: "no id", args: func(*scriptFixture) []any { return []any{} }},
		scriptCase{name: "job priority corrupt", prepare: hset(func(f *scriptFixture) string { return f.k.job("j1") }, "priority", "x")},
		scriptCase{name: "cancelled count overflows", prepare: hset(stats, "cancelled", nearMax)},
		scriptCase{name: "queue is a hash", prepare: wrongType(func(f *scriptFixture) string { return f.k.queue("normal") }, "set")},
		scriptCase{name: "expire is a list", prepare: wrongType(func(f *scriptFixture) string { return f.k.expire() }, "list")},
		scriptCase{name: "schedule runs are a list (scheduled job)", args: func(*scriptFixture) []any { return []any{"j5", "acme", tNow, 60_000} },
			prepare: wrongType(func(f *scriptFixture) string { return f.k.schedRuns("s1") }, "list")},
		scriptCase{name: "running job is a string", prepare: wrongType(func(f *scriptFixture) string { return f.k.job("j2") }, "string"),
			args: func(*scriptFixture) []any { return []any{"j2", "acme", tNow, 60_000} }},
	)
	testScript(t, cancelScript, valid, nil, cases)
}

func TestFireScriptBoundaries(t *testing.T) {
	valid := func(*scriptFixture) []any {
		return []any{"s1", "1000", 2000, tNow, "1", 1000, "n9", "acme", "normal",
			"id", "n9", "tenant_id", "acme", "status", "pending", "priority", "normal", "scheduled_job_id", "s1"}
	}
	cases := argCases(valid, map[int][]any{
		0: {"", "s:1", "s{1}"},
		2: numBad,
		3: numBad,
		5: {"", "abc", maxI64},
		6: {"", "a:b"},
		7: {"", "acme:x"},
		8: {"", "bogus"},
	}, map[int]string{0: "schedule id", 2: "next", 3: "now", 5: "max_pending", 6: "job id", 7: "tenant", 8: "priority"})
	cases = append(cases,
		scriptCase{name: "no fields", args: func(f *scriptFixture) []any { return valid(f)[:9] }},
		scriptCase{name: "max_concurrent_runs corrupt", prepare: hset(func(f *scriptFixture) string { return f.k.sched("s1") }, "max_concurrent_runs", "many")},
		scriptCase{name: "total_runs overflows", prepare: hset(func(f *scriptFixture) string { return f.k.sched("s1") }, "total_runs", maxI64)},
		scriptCase{name: "skipped_runs overflows (skip)", prepare: hset(func(f *scriptFixture) string { return f.k.sched("s1") }, "skipped_runs", maxI64),
			args: func(f *scriptFixture) []any { return set(valid(f), 4, "0") }},
		scriptCase{name: "pending count overflows", prepare: hset(stats, "pending", "-"+nearMax)},
		scriptCase{name: "schedule runs are a string", prepare: wrongType(func(f *scriptFixture) string { return f.k.schedRuns("s1") }, "string")},
		scriptCase{name: "due is a list", prepare: wrongType(func(f *scriptFixture) string { return f.k.schedDue() }, "list")},
		scriptCase{name: "job exists", args: func(f *scriptFixture) []any { return set(valid(f), 6, "j1") }},
	)
	testScript(t, fireScript, valid, nil, cases)
}

func TestProgressScriptBoundaries(t *testing.T) {
	valid := func(f *scriptFixture) []any {
		return []any{"j2", f.token, "progress_percent", "50", "items_processed", 2, "items_failed", 1, "current_item", "x"}
	}
	cases := argCases(valid, map[int][]any{5: {"", "abc", "-", maxI64, "1e3", "2.5"}}, map[int]string{5: "items_processed"})
	cases = append(cases,
		scriptCase{name: "no fields", args: func(f *scriptFixture) []any { return valid(f)[:2] }},
		scriptCase{name: "odd fields", args: func(f *scriptFixture) []any { return valid(f)[:9] }},
		scriptCase{name: "no token", args: func(*scriptFixture) []any { return []any{"j2"} }},
		scriptCase{name: "items sum overflows", prepare: hset(stats, "items_failed", nearMax)},
		scriptCase{name: "stats is a set", prepare: wrongType(stats, "set")},
	)
	testScript(t, progressScript, valid, nil, cases)
}

func TestCreateScheduleScriptBoundaries(t *testing.T) {
	valid := func(*scriptFixture) []any {
		return []any{"s9", "acme", 10, tNow, tNow + 60_000, "id", "s9", "tenant_id", "acme", "name", "n", "is_active", "1"}
	}
	cases := argCases(valid, map[int][]any{
		0: {"", "a:b", "s}"},
		1: {"", "a:b", "acme{"},
		2: numBad,
		3: numBad,
		4: {"abc", "1e3", maxI64},
	}, map[int]string{0: "schedule id", 1: "tenant", 2: "max_schedules", 3: "created_at", 4: "next_run_at"})
	cases = append(cases,
		scriptCase{name: "no fields", args: func(f *scriptFixture) []any { return valid(f)[:5] }},
		scriptCase{name: "odd fields", args: func(f *scriptFixture) []any { return valid(f)[:8] }},
		scriptCase{name: "schedule key is a string", prepare: wrongType(func(f *scriptFixture) string { return f.k.sched("s9") }, "string")},
		scriptCase{name: "tenant's schedule index is a list", prepare: wrongType(func(f *scriptFixture) string { return f.k.tenantScheds("acme") }, "list")},
		scriptCase{name: "due is a list", prepare: wrongType(func(f *scriptFixture) string { return f.k.schedDue() }, "list")},
	)
	testScript(t, createScheduleScript, valid, nil, cases)
}

// go-redis sends a script again when its answer does not arrive within
// redis.socket_timeout, and Redis may then run both copies. A repeat of an
// enqueue, a schedule creation or a cancel answers what the first copy did
// and writes nothing (before, the repeat of an enqueue or of a schedule
// creation failed with "exists already" after the first had written, and
// the caller got a 500 for a job that was created).
func TestRepeatedCallsAnswerAsTheFirstAndWriteNothing(t *testing.T) {
	redistest.RequireReal(t)
	srv := redistest.Start(t)
	rdb := srv.Client(t)
	ctx := context.Background()
	for _, c := range []struct {
		name string
		s    *goredis.Script
		keys func(f *scriptFixture) []string
		args []any
		want string
	}{
		{"enqueue", enqueueScript, nil, enqArgs("n1", "acme", 0), "[ok n1]"},
		{"enqueue with an idempotency key", enqueueScript, func(f *scriptFixture) []string { return []string{f.k.meta(), f.k.idem("acme", "key")} },
			enqArgs("n2", "acme", 0), "[ok n2]"},
		{"enqueue with the tenant at its pending limit after the first", enqueueScript, nil, set(enqArgs("n3", "acme", 0), 3, -1), "[ok n3]"},
		{"create schedule", createScheduleScript, nil,
			[]any{"s9", "acme", 10, tNow, tNow + 60_000, "id", "s9", "tenant_id", "acme", "name", "n", "is_active", "1"}, "ok"},
		{"create schedule up to the tenant's maximum", createScheduleScript, nil,
			[]any{"s9", "acme", 2, tNow, tNow + 60_000, "id", "s9", "tenant_id", "acme", "name", "n", "is_active", "1"}, "ok"},
		{"cancel", cancelScript, nil, []any{"j1", "acme", tNow, 60_000}, "cancelled"},
	} {
		t.Run(c.name, func(t *testing.T) {
			f := newFixture(t, srv, rdb)
			var keys []string
			if c.keys != nil {
				keys = c.keys(f)
			}
			if c.s == enqueueScript && c.args[3] == -1 { // the limit: one more than the tenant has
				p, _ := rdb.HMGet(ctx, f.k.stats("acme"), "pending", "retrying").Result()
				n := 1
				for _, v := range p {
					if v != nil {
						i, _ := strconv.Atoi(v.(string))
						n += i
					}
				}
				c.args = set(c.args, 3, n)
			}
			first, err := f.run(c.s, keys, c.args...).Result()
			if err != nil || fmt.Sprint(first) != c.want {
				t.Fatalf("first call: %v %v, want %s", first, err, c.want)
			}
			before := snapshot(t, rdb)
			again, err := f.run(c.s, keys, c.args...).Result()
			if err != nil || fmt.Sprint(again) != c.want {
				t.Errorf("the repeat answered %v %v, want %s like the first", again, err, c.want)
			}
			if d := diff(before, snapshot(t, rdb)); len(d) != 0 {
				t.Errorf("the repeat wrote: %v", d)
			}
		})
	}
	// A cancel of a job cancelled by another call (another time) is still a
	// conflict.
	f := newFixture(t, srv, rdb)
	if res, err := f.run(cancelScript, nil, "j1", "acme", tNow, 60_000).Result(); err != nil || res != "cancelled" {
		t.Fatal(res, err)
	}
	if res, err := f.run(cancelScript, nil, "j1", "acme", tNow+1, 60_000).Result(); err != nil || res != "conflict" {
		t.Errorf("a second cancel: %v %v, want conflict", res, err)
	}
}
