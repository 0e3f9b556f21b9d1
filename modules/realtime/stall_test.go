package realtime_test

import (
	"context"
	"testing"
	"time"

	"github.com/redifx/redifx/modules/realtime"
	"github.com/redifx/redifx/modules/redis"
	"github.com/redifx/redifx/modules/redis/redistest"
	goredis "github.com/redis/go-redis/v9"
)

// A Redis that stalls past redis.socket_timeout while a publish is in flight
// (a long script here; a slow fork or a long command in production):
// the client times out and sends the script again, Redis then runs both
// copies. Before, an event published without an Idempotency-Key was stored
// (and announced) twice, under two ids, and the caller knew only one. Each
// script call now carries a record of its own, so its repeat answers what
// the first copy stored.
func TestAPublishRetriedAfterAStallIsStoredOnce(t *testing.T) {
	redistest.RequireReal(t) // a script that runs for a while
	srv := startRedis(t)
	in := startInstance(t, srv.URL(), func(_ *realtime.Config, r *redis.Config) {
		r.SocketTimeout = 400 * time.Millisecond
		r.HealthInterval = time.Minute // the stall is for the publish, not the health check
	})
	pub := token(t, "acme", pubPerm)
	rd := token(t, "acme", readPerm)
	rdb := srv.Client(t)
	ctx := context.Background()
	c := connect(t, in.base+"/api/v1/realtime/alerts", rd)
	c.skipPreamble(t)

	for i, ch := range []string{realtime.ChannelAlerts, realtime.ChannelTickets} {
		before := rdb.XLen(ctx, streamKey("acme")).Val()
		// Redis runs a script for 600 ms: nothing else runs meanwhile. The
		// publish script times out after 400 ms and is sent again (go-redis
		// retries a timed-out command) while the first copy waits in its
		// socket; Redis then runs both copies in order, and the caller's
		// answer is the second copy's.
		stall(t, srv, 600*time.Millisecond)
		a := post(t, in.base+"/api/v1/realtime/"+ch, pub, mustJSON(t, validEvent(ch)))
		if a.code != 202 {
			t.Fatalf("publish %d: %d %s", i, a.code, a.raw)
		}
		msgs := rdb.XRange(ctx, streamKey("acme"), "-", "+").Val()
		stored := int64(len(msgs)) - before
		if stored != 1 {
			t.Errorf("publish %d (%d %s): stored %d times", i, a.code, a.raw, stored)
		}
		if a.code == 202 && msgs[len(msgs)-1].ID != a.body["id"] {
			t.Errorf("publish %d: answered %v, stored %s", i, a.body["id"], msgs[len(msgs)-1].ID)
		}
	}
	// The alerts stream got the alert once.
	ev := c.next(t, 5*time.Second)
	if ev.Event != "alert.raised" {
		t.Fatalf("first event %+v", ev)
	}
	c.expectNone(t, 500*time.Millisecond)
}

// stall makes srv run a script for d (nothing else runs meanwhile) and
// returns once it has started.
func stall(t *testing.T, srv *redistest.Server, d time.Duration) {
	t.Helper()
	busy := goredis.NewClient(&goredis.Options{Addr: srv.Addr(), ReadTimeout: d + 5*time.Second})
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = busy.Eval(context.Background(), `
local t = redis.call('TIME')
local stop = t[1] * 1000000 + t[2] + tonumber(ARGV[1])
repeat t = redis.call('TIME') until t[1] * 1000000 + t[2] >= stop
return 1`, nil, d.Microseconds()).Err()
	}()
	t.Cleanup(func() { <-done; _ = busy.Close() })
	probe := goredis.NewClient(&goredis.Options{Addr: srv.Addr(), ReadTimeout: 50 * time.Millisecond, MaxRetries: -1})
	defer probe.Close()
	deadline := time.Now().Add(5 * time.Second)
	for probe.Ping(context.Background()).Err() == nil {
		if time.Now().After(deadline) {
			t.Fatal("the stalling script never started")
		}
	}
}
