package redis_test

import (
	"context"
	"strings"
	"testing"

	"github.com/redifx/redifx/modules/health"
	"github.com/redifx/redifx/modules/redis"
	"github.com/redifx/redifx/modules/redis/redistest"
)

// A Redis that answers PING but refuses every write (over maxmemory with
// noeviction) is not reported as plainly fine: the check names the condition
// (reason, message, read_only) and clears it once memory is available again.
// Its status stays healthy, in every environment: reads and streams still
// work, so readiness must not take every replica out of the load balancer
// (clients would get the balancer's "no replica" instead of a 503 naming OOM).
func TestHealthNamesOOMWhenWritesAreRefused(t *testing.T) {
	redistest.RequireReal(t)
	srv := redistest.Start(t)
	for _, required := range []bool{false, true} {
		cfg := fastConfig(srv.Addr())
		cfg.Required = required
		m, _ := newManager(t, cfg)
		if err := m.Start(context.Background()); err != nil {
			t.Fatal(err)
		}
		admin := srv.Client(t)
		ctx := context.Background()
		admin.ConfigSet(ctx, "maxmemory-policy", "noeviction")
		admin.ConfigSet(ctx, "maxmemory", "1")
		if err := m.Client().Set(ctx, "k", "v", 0).Err(); err == nil || !strings.HasPrefix(err.Error(), "OOM") {
			t.Fatalf("the write was not refused: %v", err)
		}
		h := m.HealthCheck(ctx)
		if h.Status != health.StatusHealthy || h.Reason != redis.CondOOM || !h.ReadOnly || !strings.Contains(h.Message, "out of memory") || h.RedisVersion == "" {
			t.Errorf("required %v: health under OOM: %+v", required, h)
		}
		if r := m.Check().Check(ctx); r.Status != health.StatusHealthy || r.Details["reason"] != redis.CondOOM || r.Details["read_only"] != true || !strings.Contains(r.Message, "OOM") {
			t.Errorf("required %v: check under OOM: %+v", required, r)
		}
		admin.ConfigSet(ctx, "maxmemory", "0")
		if h := m.HealthCheck(ctx); h.Status != health.StatusHealthy || h.Reason != "" || h.ReadOnly || !strings.Contains(h.Message, "successful") {
			t.Errorf("required %v: health after OOM: %+v", required, h)
		}
	}
}

// A standalone client pointed at a read-only replica cannot write: READONLY.
func TestHealthNamesReadOnlyReplica(t *testing.T) {
	redistest.RequireReal(t)
	master := redistest.Start(t)
	replica := redistest.Start(t, redistest.WithReplicaOf(master))
	m, _ := newManager(t, fastConfig(replica.Addr()))
	if err := m.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	h := m.HealthCheck(context.Background())
	if h.Status != health.StatusHealthy || h.Reason != redis.CondReadOnly || !h.ReadOnly || !strings.Contains(h.Message, "READONLY") {
		t.Errorf("health on a replica: %+v", h)
	}
	m2, _ := newManager(t, fastConfig(master.Addr()))
	if err := m2.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	if h := m2.HealthCheck(context.Background()); h.Status != health.StatusHealthy || h.ReadOnly || h.Reason != "" {
		t.Errorf("health on the master: %+v", h)
	}
}
