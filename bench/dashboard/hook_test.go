// Package dashboard holds the dashboard benchmark (cmd/dashboardserver and
// run.sh) and this benchmark of the metrics module's Redis hook: what timing
// every command (metrics.RedisHook, installed by the app on every client)
// costs against the same managed client without it.
//
// The benchmarks need -bench and a redis-server on PATH; run them through
// bench/dashboard/run.sh, which interleaves hook=on and hook=off processes and
// compares them with benchstat. Without -bench nothing starts Redis.
package dashboard

import (
	"context"
	"runtime"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/goleak"

	"github.com/redifx/redifx/modules/metrics"
	"github.com/redifx/redifx/modules/redis"
	"github.com/redifx/redifx/modules/redis/redistest"
)

// concurrency matches bench/redis_bench_test.go: the default pool size and
// redis-benchmark's -c 50.
const concurrency = 50

const (
	benchKey   = "redifx:bench:key"
	benchValue = "xxx"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// BenchmarkGET runs GET of an existing key from 50 goroutines through a
// redis.Manager's default client, with the metrics Redis hook (hook=on) and
// without (hook=off). The server and the managers belong to the parent
// benchmark, whose body runs once: they outlive the b.N rounds of the
// sub-benchmarks and are stopped when the parent ends.
func BenchmarkGET(b *testing.B) {
	if !redistest.Available() {
		b.Skip("redis-server not on PATH: skipping the Redis hook benchmark")
	}
	srv := redistest.Start(b)
	managers := map[bool]*redis.Manager{}
	hooks := map[bool]*metrics.RedisHook{}
	manager := func(b *testing.B, hook bool) *redis.Manager {
		if m := managers[hook]; m != nil {
			return m
		}
		cfg := redis.DefaultConfig()
		cfg.URL = srv.URL()
		cfg.Required, cfg.EmbeddedFallback = true, false
		m, err := redis.NewManager(cfg, nil)
		if err != nil {
			b.Fatal(err)
		}
		if hook {
			hooks[hook] = metrics.NewRedisHook()
			m.AddHook(hooks[hook])
		}
		ctx := context.Background()
		if err := m.Start(ctx); err != nil {
			b.Fatal(err)
		}
		managers[hook] = m
		if err := m.Client().Set(ctx, benchKey, benchValue, 0).Err(); err != nil {
			b.Fatal(err)
		}
		return m
	}
	b.Cleanup(func() {
		for _, m := range managers {
			_ = m.Stop(context.Background())
		}
	})
	for _, hook := range []bool{true, false} {
		name := "hook=off"
		if hook {
			name = "hook=on"
		}
		b.Run(name, func(b *testing.B) {
			m := manager(b, hook)
			rdb := m.Client()
			ctx := context.Background()
			// Open the pool's connections before the timer starts.
			warm := make(chan error, concurrency)
			for range concurrency {
				go func() { warm <- rdb.Get(ctx, benchKey).Err() }()
			}
			for range concurrency {
				if err := <-warm; err != nil {
					b.Fatal(err)
				}
			}
			b.SetParallelism((concurrency + runtime.GOMAXPROCS(0) - 1) / runtime.GOMAXPROCS(0))
			b.ReportAllocs()
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if err := rdb.Get(ctx, benchKey).Err(); err != nil {
						b.Error(err)
						return
					}
				}
			})
			b.StopTimer()
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "ops/s")
			if hook && observed(b, hooks[hook]) == 0 {
				b.Fatal("the hook recorded nothing")
			}
		})
	}
}

// observed returns how many commands the hook has timed.
func observed(b *testing.B, h *metrics.RedisHook) uint64 {
	reg := prometheus.NewRegistry()
	if err := reg.Register(h); err != nil {
		b.Fatal(err)
	}
	mfs, err := reg.Gather()
	if err != nil {
		b.Fatal(err)
	}
	var n uint64
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			n += m.GetHistogram().GetSampleCount()
		}
	}
	return n
}
