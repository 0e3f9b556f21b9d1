package realtime

import (
	"context"
	"fmt"
	"maps"
	"strings"
	"testing"
	"time"

	"github.com/redifx/redifx/modules/redis/redistest"
	goredis "github.com/redis/go-redis/v9"
)

// snapshot is the whole database, to compare before and after a failed
// script call.
func snapshot(t *testing.T, rdb *goredis.Client) map[string]string { return redistest.Snapshot(t, rdb) }

// scriptCall is the publish script's keys and arguments for one event of
// tenant "acme", which a case then spoils.
type scriptCall struct {
	keys []string
	args []any
}

func goodCall(k keys) scriptCall {
	now := time.Now()
	return scriptCall{
		keys: []string{k.stream("acme"), k.onus("acme"), k.counts("acme", now), k.onusSeen("acme"), k.streamBytes("acme"), k.idem("acme", "key-1")},
		args: []any{"100", fmt.Sprint(now.Add(-time.Hour).UnixMilli()), "60000", "acme", k.pubsub(), fmt.Sprint(now.UnixMilli()), "100000", "1",
			ChannelONUStatus, "onu.online", `{"onu_serial":"s1","status":"online"}`, "s1", "6", "fp1"},
	}
}

// Every way the publish script can fail is checked before its first write:
// boundary and malformed arguments, keys holding the wrong kind of value,
// corrupt records and counters. After each failure Redis holds exactly what
// it held before (compared key by key with DUMP).
func TestPublishScriptLeavesNoPartialStateOnError(t *testing.T) {
	srv := redistest.Start(t)
	rdb := srv.Client(t)
	ctx := context.Background()
	k := newKeys("test:")
	// Some state to keep intact: a stored event, a count, an ONU.
	base := goodCall(k)
	if err := publishScript.Run(ctx, rdb, base.keys, base.args...).Err(); err != nil {
		t.Fatalf("a good call: %v", err)
	}
	arg := func(i int, v any) func(*scriptCall) { return func(c *scriptCall) { c.args[i] = v } }
	seed := func(f func()) func(*scriptCall) { return func(*scriptCall) { f() } }
	cases := []struct {
		name  string
		spoil func(*scriptCall)
	}{
		{"max_len empty", arg(0, "")},
		{"max_len not a number", arg(0, "ten")},
		{"max_len zero", arg(0, "0")},
		{"max_len negative", arg(0, "-1")},
		{"max_len fractional", arg(0, "1.5")},
		{"max_len max int64", arg(0, "9223372036854775807")},
		{"max_len huge", arg(0, "1e300")},
		{"cutoff negative", arg(1, "-5")},
		{"cutoff not a number", arg(1, "yesterday")},
		{"ttl zero", arg(2, "0")},
		{"ttl negative", arg(2, "-1000")},
		{"ttl max int64", arg(2, "9223372036854775807")},
		{"tenant empty", arg(3, "")},
		{"pubsub empty", arg(4, "")},
		{"now negative", arg(5, "-1")},
		{"max_bytes zero", arg(6, "0")},
		{"max_bytes not a number", arg(6, "lots")},
		{"n negative", arg(7, "-1")},
		{"n too large for the arguments", arg(7, "2")},
		{"n max int64", arg(7, "9223372036854775807")},
		{"n not a number", arg(7, "one")},
		{"n zero with an event's arguments", arg(7, "0")},
		{"channel empty", arg(8, "")},
		{"event type empty", arg(9, "")},
		{"data not an object", arg(10, `[1,2]`)},
		{"data empty", arg(10, "")},
		{"idempotency index not a number", arg(12, "x")},
		{"idempotency index negative", arg(12, "-6")},
		{"idempotency index below the records", arg(12, "3")},
		{"idempotency index past the keys", arg(12, "7")},
		{"too few keys", func(c *scriptCall) { c.keys = c.keys[:4]; c.args[12] = "0" }},
		{"stream holds a string", seed(func() { rdb.Del(ctx, k.stream("acme")); rdb.Set(ctx, k.stream("acme"), "x", 0) })},
		{"onus holds a list", seed(func() { rdb.Del(ctx, k.onus("acme")); rdb.RPush(ctx, k.onus("acme"), "x") })},
		{"counts holds a string", func(c *scriptCall) { rdb.Set(ctx, c.keys[2], "x", 0) }},
		{"count near max int64", func(c *scriptCall) {
			rdb.Del(ctx, c.keys[2])
			rdb.HSet(ctx, c.keys[2], ChannelONUStatus, "9223372036854775807")
		}},
		{"count not a number", func(c *scriptCall) { rdb.Del(ctx, c.keys[2]); rdb.HSet(ctx, c.keys[2], ChannelONUStatus, "many") }},
		{"onus_seen holds a hash", seed(func() { rdb.Del(ctx, k.onusSeen("acme")); rdb.HSet(ctx, k.onusSeen("acme"), "a", "b") })},
		{"byte count corrupt", seed(func() { rdb.Set(ctx, k.streamBytes("acme"), "-3", 0) })},
		{"byte count not a number", seed(func() { rdb.Set(ctx, k.streamBytes("acme"), "big", 0) })},
		{"idempotency record holds a hash", func(c *scriptCall) { c.keys[5] = k.idem("acme", "other"); rdb.HSet(ctx, c.keys[5], "a", "b") }},
		{"idempotency record corrupt", func(c *scriptCall) { c.keys[5] = k.idem("acme", "bad"); rdb.Set(ctx, c.keys[5], "garbage", 0) }},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			// Restore the base state, then spoil one thing.
			srv.Flush(t)
			if err := publishScript.Run(ctx, rdb, base.keys, base.args...).Err(); err != nil {
				t.Fatal(err)
			}
			c := goodCall(k)
			c.keys[5] = k.idem("acme", "key-2") // a new key, so that the call would store
			tc.spoil(&c)
			before := snapshot(t, rdb)
			err := publishScript.Run(ctx, rdb, c.keys, c.args...).Err()
			if err == nil {
				t.Fatal("the script accepted it")
			}
			if !strings.Contains(err.Error(), "realtime publish: ") {
				t.Errorf("not the script's own check: %v", err)
			}
			if after := snapshot(t, rdb); !maps.Equal(before, after) {
				t.Errorf("Redis changed after the error %v:\nbefore %v\nafter  %v", err, keysOf(before), keysOf(after))
			}
		})
	}
}

func keysOf(m map[string]string) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	return out
}

// Boundary values the script must accept: no event, a large event, the
// largest safe integers.
func TestPublishScriptAcceptsBoundaryValues(t *testing.T) {
	srv := redistest.Start(t)
	rdb := srv.Client(t)
	ctx := context.Background()
	k := newKeys("test:")
	none := goodCall(k)
	none.keys, none.args = none.keys[:5], append(none.args[:7:7], "0")
	if res, err := publishScript.Run(ctx, rdb, none.keys, none.args...).StringSlice(); err != nil || len(res) != 0 {
		t.Fatalf("no event: %v %v", res, err)
	}
	if n, _ := rdb.DBSize(ctx).Result(); n != 0 {
		t.Errorf("no event wrote %d keys", n)
	}
	big := goodCall(k)
	big.args[10] = `{"onu_serial":"s1","status":"online","pad":"` + strings.Repeat("x", 1<<20) + `"}`
	big.args[6] = "9007199254740991"
	big.args[0] = "9007199254740991"
	res, err := publishScript.Run(ctx, rdb, big.keys, big.args...).StringSlice()
	if err != nil || len(res) != 1 {
		t.Fatalf("a 1 MiB event: %v %v", res, err)
	}
	if n, _ := rdb.XLen(ctx, k.stream("acme")).Result(); n != 1 {
		t.Errorf("stream length %d", n)
	}
}
