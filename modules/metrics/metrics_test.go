package metrics_test

import (
	"context"
	"errors"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"github.com/redifx/redifx/internal/testutil"
	"github.com/redifx/redifx/modules/auth"
	"github.com/redifx/redifx/modules/config"
	"github.com/redifx/redifx/modules/httpserver"
	"github.com/redifx/redifx/modules/metrics"
	"github.com/redifx/redifx/modules/redis"
	"github.com/redifx/redifx/modules/redis/redistest"
	"go.uber.org/fx"
	"go.uber.org/fx/fxtest"
	"go.uber.org/goleak"
	"go.uber.org/zap"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

const secret = "metrics-test-secret-0123456789abcdef"

type env struct {
	base  string
	dash  *metrics.Dashboard
	mgr   *redis.Manager
	calls *atomic.Int64
}

func start(t *testing.T, redisURL string, mcfg metrics.Config) *env {
	t.Helper()
	rcfg := redis.DefaultConfig()
	rcfg.URL, rcfg.EmbeddedFallback = redisURL, false
	rcfg.HealthInterval, rcfg.ReconnectInterval, rcfg.StartupWait = 100*time.Millisecond, 100*time.Millisecond, time.Second
	hcfg := httpserver.DefaultConfig()
	hcfg.Addr = "127.0.0.1:0"
	e := &env{calls: &atomic.Int64{}}
	var srv *httpserver.Server
	app := fxtest.New(t, fx.NopLogger,
		fx.Supply(rcfg, hcfg, mcfg, auth.Config{JWTSecret: secret}, config.Test, zap.NewNop()),
		redis.Module, auth.Module, metrics.Module, httpserver.Module,
		metrics.AsSource("plain", func(ctx context.Context, tenant string) (any, error) {
			e.calls.Add(1)
			time.Sleep(50 * time.Millisecond) // slow enough for requests to pile up
			return map[string]any{"tenant": tenant, "answer": 42}, nil
		}),
		fx.Provide(metrics.AsSourceProvider(func(m *redis.Manager) metrics.Source {
			return metrics.Source{Name: "needs_redis", Compute: func(ctx context.Context, tenant string) (any, error) {
				n, err := m.Client().Incr(ctx, "redifx:test:counter:"+tenant).Result()
				if err != nil {
					return nil, errors.Join(redis.ErrUnavailable, err)
				}
				return map[string]any{"n": n}, nil
			}}
		})),
		fx.Populate(&srv, &e.dash, &e.mgr),
	)
	app.RequireStart()
	t.Cleanup(app.RequireStop)
	e.base = "http://" + srv.Addr().String()
	return e
}

func token(t *testing.T, tenant string, perms ...string) string {
	t.Helper()
	return testutil.Token(t, secret, tenant, perms...)
}

func call(t *testing.T, method, url, tok string) (int, map[string]any) {
	t.Helper()
	return testutil.Call(t, method, url, tok, nil)
}

func TestCacheHitMissAgeAndInvalidate(t *testing.T) {
	srv := redistest.Start(t)
	e := start(t, srv.URL(), metrics.DefaultConfig())
	read := token(t, "acme", "metrics.read")
	code, d := call(t, "GET", e.base+"/api/v1/metrics/dashboard", read)
	cache := d["cache"].(map[string]any)
	if code != 200 || cache["hit"] != false || cache["available"] != true || cache["ttl_seconds"] != 300.0 {
		t.Fatalf("cold: %d %v", code, d)
	}
	if d["plain"].(map[string]any)["tenant"] != "acme" || d["timestamp"] == nil {
		t.Errorf("sections: %v", d)
	}
	time.Sleep(1100 * time.Millisecond)
	_, d = call(t, "GET", e.base+"/api/v1/metrics/dashboard", read)
	cache = d["cache"].(map[string]any)
	if cache["hit"] != true || cache["age_seconds"].(float64) < 1 {
		t.Errorf("warm: %v", cache)
	}
	if e.calls.Load() != 1 {
		t.Errorf("computed %d times", e.calls.Load())
	}
	// Invalidate needs metrics.manage and clears the caller's tenant only.
	call(t, "GET", e.base+"/api/v1/metrics/dashboard", token(t, "globex", "metrics.read"))
	if code, _ := call(t, "POST", e.base+"/api/v1/metrics/cache/invalidate", read); code != 403 {
		t.Errorf("invalidate without metrics.manage: %d", code)
	}
	if code, _ := call(t, "POST", e.base+"/api/v1/metrics/cache/invalidate", token(t, "acme", "metrics.manage")); code != 200 {
		t.Errorf("invalidate: %d", code)
	}
	_, d = call(t, "GET", e.base+"/api/v1/metrics/dashboard", read)
	if d["cache"].(map[string]any)["hit"] != false {
		t.Errorf("after invalidate: %v", d["cache"])
	}
	_, d = call(t, "GET", e.base+"/api/v1/metrics/dashboard", token(t, "globex", "metrics.read"))
	if d["cache"].(map[string]any)["hit"] != true {
		t.Errorf("another tenant's cache was cleared: %v", d["cache"])
	}
	if code, _ := call(t, "GET", e.base+"/api/v1/metrics/dashboard", ""); code != 401 {
		t.Errorf("no token: %d", code)
	}
	if code, _ := call(t, "GET", e.base+"/api/v1/metrics/dashboard", token(t, "acme", "jobs.read")); code != 403 {
		t.Errorf("no metrics.read: %d", code)
	}
}

func TestSingleFlightOnAColdCache(t *testing.T) {
	srv := redistest.Start(t)
	e := start(t, srv.URL(), metrics.DefaultConfig())
	read := token(t, "acme", "metrics.read")
	var wg sync.WaitGroup
	var failures atomic.Int64
	for range 100 {
		wg.Go(func() {
			req, _ := http.NewRequest("GET", e.base+"/api/v1/metrics/dashboard", nil)
			req.Header.Set("Authorization", "Bearer "+read)
			resp, err := http.DefaultClient.Do(req)
			if err != nil || resp.StatusCode != 200 {
				failures.Add(1)
				return
			}
			resp.Body.Close()
		})
	}
	wg.Wait()
	if failures.Load() != 0 {
		t.Errorf("%d requests failed", failures.Load())
	}
	if n := e.calls.Load(); n != 1 {
		t.Errorf("100 concurrent cold requests computed the source %d times", n)
	}
	if e.dash.Computes("acme") != 1 {
		t.Errorf("computes %d", e.dash.Computes("acme"))
	}
}

func TestTwoReplicasComputeOnceThroughTheLock(t *testing.T) {
	srv := redistest.Start(t)
	a := start(t, srv.URL(), metrics.DefaultConfig())
	b := start(t, srv.URL(), metrics.DefaultConfig())
	read := token(t, "acme", "metrics.read")
	var wg sync.WaitGroup
	for _, e := range []*env{a, b, a, b} {
		wg.Go(func() { call(t, "GET", e.base+"/api/v1/metrics/dashboard", read) })
	}
	wg.Wait()
	if n := a.calls.Load() + b.calls.Load(); n != 1 {
		t.Errorf("two replicas computed %d times", n)
	}
}

func TestRedisDownServesUncachedThenCachesAgain(t *testing.T) {
	srv := redistest.Start(t)
	e := start(t, srv.URL(), metrics.DefaultConfig())
	read := token(t, "acme", "metrics.read")
	call(t, "GET", e.base+"/api/v1/metrics/dashboard", read)
	srv.Kill()
	deadline := time.Now().Add(3 * time.Second)
	for e.mgr.Available() && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	code, d := call(t, "GET", e.base+"/api/v1/metrics/dashboard", read)
	if code != 200 || d["cache"].(map[string]any)["available"] != false {
		t.Fatalf("Redis down: %d %v", code, d)
	}
	if d["needs_redis"].(map[string]any)["available"] != false || d["plain"].(map[string]any)["answer"] != 42.0 {
		t.Errorf("sections while down: %v", d)
	}
	srv.Restart()
	for !e.mgr.Available() {
		if time.Now().After(deadline.Add(5 * time.Second)) {
			t.Fatal("no recovery")
		}
		time.Sleep(20 * time.Millisecond)
	}
	call(t, "GET", e.base+"/api/v1/metrics/dashboard", read)
	_, d = call(t, "GET", e.base+"/api/v1/metrics/dashboard", read)
	if d["cache"].(map[string]any)["hit"] != true {
		t.Errorf("not cached after recovery: %v", d["cache"])
	}
}

func scrape(t *testing.T, url string) map[string]float64 {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	p := expfmt.NewTextParser(model.LegacyValidation)
	families, err := p.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]float64{}
	for name, f := range families {
		for _, m := range f.GetMetric() {
			key := name
			for _, l := range m.GetLabel() {
				key += "|" + l.GetName() + "=" + l.GetValue()
			}
			switch {
			case m.Counter != nil:
				out[key] = m.GetCounter().GetValue()
			case m.Gauge != nil:
				out[key] = m.GetGauge().GetValue()
			case m.Histogram != nil:
				out[key] = float64(m.GetHistogram().GetSampleCount())
			default:
				out[key] = 1
			}
		}
	}
	return out
}

func TestScrapeOnTheMainListenerAndOnItsOwn(t *testing.T) {
	srv := redistest.Start(t)
	e := start(t, srv.URL(), metrics.DefaultConfig())
	call(t, "GET", e.base+"/health/ready", "")
	before := scrape(t, e.base+"/metrics")
	for _, want := range []string{"go_goroutines", "process_resident_memory_bytes", "redifx_http_requests_in_flight",
		"redifx_http_requests_total|method=GET|route=/health/ready|status=200",
		"redifx_http_request_duration_seconds|method=GET|route=/health/ready",
		"redifx_redis_pool_connections|client=default", "redifx_redis_command_duration_seconds|command=ping"} {
		if _, ok := before[want]; !ok {
			t.Errorf("missing %s", want)
		}
	}
	call(t, "GET", e.base+"/health/ready", "")
	call(t, "GET", e.base+"/no/such/path", "")
	after := scrape(t, e.base+"/metrics")
	if after["redifx_http_requests_total|method=GET|route=/health/ready|status=200"] <= before["redifx_http_requests_total|method=GET|route=/health/ready|status=200"] {
		t.Error("request counter did not move")
	}
	if after["redifx_http_requests_total|method=GET|route=unmatched|status=404"] < 1 {
		t.Error("unmatched routes must be counted under a bounded label")
	}
	for k := range after {
		if strings.Contains(k, "/no/such/path") {
			t.Errorf("raw path used as a label: %s", k)
		}
	}
	// Its own listener: not on the main one.
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	addr := ln.Addr().String()
	ln.Close()
	cfg := metrics.DefaultConfig()
	cfg.Addr = addr
	sep := start(t, srv.URL(), cfg)
	if got := scrape(t, "http://"+addr+"/metrics"); got["go_goroutines"] == 0 {
		t.Error("no series on the metrics listener")
	}
	if code, _ := call(t, "GET", sep.base+"/metrics", ""); code != 404 {
		t.Errorf("/metrics on the main listener with metrics.addr set: %d", code)
	}
}
