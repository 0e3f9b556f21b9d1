package redis_test

import (
	"context"
	"testing"
	"time"

	"github.com/redifx/redifx/modules/redis"
	"github.com/redifx/redifx/modules/redis/redistest"
)

// The README says how soon a lost Redis is noticed: within health_interval
// plus one probe's bound (LossDetectionBound). Measured with the default
// interval and timeouts, killing redis-server at random points of the probe
// cycle.
func TestLossIsNoticedWithinTheDocumentedBound(t *testing.T) {
	redistest.RequireReal(t)
	cfg := redis.DefaultConfig()
	bound := cfg.LossDetectionBound()
	for i := range 3 {
		srv := redistest.Start(t)
		c := fastConfig(srv.Addr())
		c.HealthInterval, c.SocketTimeout, c.SocketConnectTimeout = cfg.HealthInterval, cfg.SocketTimeout, cfg.SocketConnectTimeout
		m, _ := newManager(t, c)
		if err := m.Start(context.Background()); err != nil {
			t.Fatal(err)
		}
		// Somewhere in the probe cycle.
		time.Sleep(time.Duration(i) * cfg.HealthInterval / 3)
		srv.Kill()
		killed := time.Now()
		eventually(t, "degraded", bound+5*time.Second, func() bool { return m.State() == redis.StateDegraded })
		took := time.Since(killed)
		t.Logf("loss noticed after %s (bound %s)", took, bound)
		// Slack for a loaded machine (the race detector on two busy cores
		// delays timers by hundreds of milliseconds); a probe bounded by
		// socket_timeout (5s) instead would still fail.
		if took > bound+2*time.Second {
			t.Errorf("loss noticed after %s, the documented bound is %s", took, bound)
		}
		_ = m.Stop(context.Background())
	}
}
