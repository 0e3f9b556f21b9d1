package realtime

import (
	"context"
	"testing"

	"github.com/redifx/redifx/modules/redis/redistest"
)

// withCallRecord is c with a call record at the end of its keys.
func withCallRecord(k keys, c scriptCall, id string) scriptCall {
	keys := append(append([]string{}, c.keys...), k.call("acme", id))
	args := append(append([]any{}, c.args...), len(keys), "60000")
	return scriptCall{keys, args}
}

// A script call that names a call record answers, when repeated, exactly
// what it answered the first time and writes nothing more (the repeat go-redis
// sends after a timeout); a bad index, a bad TTL, a record of the wrong kind
// or a corrupt one is an error that leaves Redis as it was.
func TestPublishScriptCallRecord(t *testing.T) {
	srv := redistest.Start(t)
	rdb := srv.Client(t)
	ctx := context.Background()
	k := newKeys("test:")
	first := withCallRecord(k, goodCall(k), "c1")
	got, err := publishScript.Run(ctx, rdb, first.keys, first.args...).StringSlice()
	if err != nil || len(got) != 1 {
		t.Fatalf("first call: %v %v", got, err)
	}
	before := snapshot(t, rdb)
	again, err := publishScript.Run(ctx, rdb, first.keys, first.args...).StringSlice()
	if err != nil || len(again) != 1 || again[0] != got[0] {
		t.Fatalf("repeat: %v %v, want %v", again, err, got)
	}
	if after := snapshot(t, rdb); !sameSnapshot(before, after) {
		t.Errorf("the repeat wrote: before %v, after %v", keysOf(before), keysOf(after))
	}
	if ttl := rdb.PTTL(ctx, k.call("acme", "c1")).Val(); ttl <= 0 {
		t.Errorf("the call record has no TTL: %s", ttl)
	}
	// Two events in one call, one of them a replay of an idempotency key:
	// the repeat answers both the same way.
	two := goodCall(k)
	two.keys[5] = k.idem("acme", "key-1") // answered above
	two.args[7] = "2"
	two.args = append(two.args, ChannelAlerts, "alert.raised", `{"alert_id":"a"}`, "", "0", "")
	two = withCallRecord(k, two, "c2")
	a1, err1 := publishScript.Run(ctx, rdb, two.keys, two.args...).StringSlice()
	a2, err2 := publishScript.Run(ctx, rdb, two.keys, two.args...).StringSlice()
	if err1 != nil || err2 != nil || len(a1) != 2 || len(a2) != 2 || a1[0] != a2[0] || a1[1] != a2[1] || a1[0] != "="+got[0] {
		t.Errorf("two events: %v %v, then %v %v", a1, err1, a2, err2)
	}
	if n := rdb.XLen(ctx, k.stream("acme")).Val(); n != 2 {
		t.Errorf("history holds %d events, want 2", n)
	}

	bad := map[string]func(c *scriptCall){
		"index 0":              func(c *scriptCall) { c.args[len(c.args)-2] = "0" },
		"index past the keys":  func(c *scriptCall) { c.args[len(c.args)-2] = "99" },
		"index not a number":   func(c *scriptCall) { c.args[len(c.args)-2] = "x" },
		"ttl 0":                func(c *scriptCall) { c.args[len(c.args)-1] = "0" },
		"ttl negative":         func(c *scriptCall) { c.args[len(c.args)-1] = "-1" },
		"ttl huge":             func(c *scriptCall) { c.args[len(c.args)-1] = "9223372036854775807" },
		"one argument missing": func(c *scriptCall) { c.args = c.args[:len(c.args)-1] },
		"record holds a hash":  func(c *scriptCall) { rdb.HSet(ctx, c.keys[len(c.keys)-1], "a", "b") },
		"record corrupt":       func(c *scriptCall) { rdb.Set(ctx, c.keys[len(c.keys)-1], "1-0,2-0,3-0", 0) },
	}
	for name, spoil := range bad {
		t.Run(name, func(t *testing.T) {
			c := goodCall(k)
			c.keys[5] = k.idem("acme", "fresh-"+name)
			c = withCallRecord(k, c, "spoiled-"+name)
			spoil(&c)
			before := snapshot(t, rdb)
			if err := publishScript.Run(ctx, rdb, c.keys, c.args...).Err(); err == nil {
				t.Fatal("accepted")
			}
			if after := snapshot(t, rdb); !sameSnapshot(before, after) {
				t.Errorf("Redis changed: before %v, after %v", keysOf(before), keysOf(after))
			}
		})
	}
}

func sameSnapshot(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}
