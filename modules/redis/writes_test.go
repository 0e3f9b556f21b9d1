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
// noeviction) is not "healthy": the check names the condition, and recovers
// once memory is available again. The predecessor's fields stay.
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
		want := health.StatusDegraded
		if required {
			want = health.StatusUnhealthy
		}
		if h.Status != want || h.Reason != redis.CondOOM || !strings.Contains(h.Message, "out of memory") || h.RedisVersion == "" {
			t.Errorf("required %v: health under OOM: %+v", required, h)
		}
		if r := m.Check().Check(ctx); r.Status != want || r.Details["reason"] != redis.CondOOM {
			t.Errorf("required %v: check under OOM: %+v", required, r)
		}
		admin.ConfigSet(ctx, "maxmemory", "0")
		if h := m.HealthCheck(ctx); h.Status != health.StatusHealthy || h.Reason != "" {
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
	if h.Status != health.StatusDegraded || h.Reason != redis.CondReadOnly || !strings.Contains(h.Message, "READONLY") {
		t.Errorf("health on a replica: %+v", h)
	}
	m2, _ := newManager(t, fastConfig(master.Addr()))
	if err := m2.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	if h := m2.HealthCheck(context.Background()); h.Status != health.StatusHealthy {
		t.Errorf("health on the master: %+v", h)
	}
}
