package httpserver_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/redifx/redifx/modules/config"
	"github.com/redifx/redifx/modules/health"
	"github.com/redifx/redifx/modules/httpserver"
	"go.uber.org/fx"
	"go.uber.org/fx/fxtest"
	"go.uber.org/goleak"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func testConfig() httpserver.Config {
	c := httpserver.DefaultConfig()
	c.Addr = "127.0.0.1:0"
	c.ShutdownTimeout = 5 * time.Second
	return c
}

type fixture struct {
	srv  *httpserver.Server
	base string
	logs *observer.ObservedLogs
}

// start runs a server with the given routes and checks outside Fx.
func start(t *testing.T, cfg httpserver.Config, routes []httpserver.Route, checks ...health.Check) *fixture {
	t.Helper()
	core, logs := observer.New(zap.DebugLevel)
	s := httpserver.New(httpserver.Options{
		Config: cfg, Log: zap.New(core), Environment: config.Test, Version: "1.2.3",
		Routes: routes, Checks: checks,
	})
	if err := s.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Stop(context.Background()) })
	return &fixture{srv: s, base: "http://" + s.Addr().String(), logs: logs}
}

func get(t *testing.T, url string, hdr ...string) (*http.Response, map[string]any) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, url, nil)
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&body)
	return resp, body
}

func TestHealthEndpoints(t *testing.T) {
	f := start(t, testConfig(), nil,
		health.NewCheck("redis", true, func(context.Context) health.Result {
			return health.Result{Status: health.StatusHealthy, Message: "ok", Details: map[string]any{"redis_version": "7"}}
		}),
		health.NewCheck("optional", false, func(context.Context) health.Result {
			return health.Result{Status: health.StatusDegraded, Message: "meh"}
		}))
	resp, body := get(t, f.base+"/health")
	if resp.StatusCode != 200 || body["status"] != "healthy" || body["version"] != "1.2.3" || body["environment"] != "test" {
		t.Errorf("/health: %d %v", resp.StatusCode, body)
	}
	resp, body = get(t, f.base+"/health/live")
	if resp.StatusCode != 200 || body["status"] != "alive" || body["timestamp"] == nil {
		t.Errorf("/health/live: %d %v", resp.StatusCode, body)
	}
	resp, body = get(t, f.base+"/health/ready")
	if resp.StatusCode != 200 || body["status"] != "ready" || body["healthy"] != true {
		t.Errorf("/health/ready: %d %v", resp.StatusCode, body)
	}
	services := body["services"].([]any)
	if len(services) != 2 {
		t.Fatalf("services: %v", services)
	}
	first := services[1].(map[string]any)
	if first["name"] != "redis" || first["status"] != "healthy" || first["required"] != true || first["message"] != "ok" {
		t.Errorf("service: %v", first)
	}
	resp, body = get(t, f.base+"/health/redis")
	if resp.StatusCode != 200 || body["redis_version"] != "7" || body["status"] != "healthy" {
		t.Errorf("/health/redis: %d %v", resp.StatusCode, body)
	}
	resp, _ = get(t, f.base+"/health/optional")
	if resp.StatusCode != 503 {
		t.Errorf("/health/optional degraded: %d", resp.StatusCode)
	}
	resp, body = get(t, f.base+"/health/nope")
	if resp.StatusCode != 404 || body["error"] != "not_found" {
		t.Errorf("/health/nope: %d %v", resp.StatusCode, body)
	}
}

func TestReadinessIs503WhenARequiredCheckFails(t *testing.T) {
	f := start(t, testConfig(), nil, health.NewCheck("redis", true, func(context.Context) health.Result {
		return health.Result{Status: health.StatusUnhealthy, Message: "down"}
	}))
	resp, body := get(t, f.base+"/health/ready")
	if resp.StatusCode != 503 || body["status"] != "not ready" || body["healthy"] != false {
		t.Errorf("%d %v", resp.StatusCode, body)
	}
	if failed := body["failed_services"].([]any); len(failed) != 1 || failed[0] != "redis" {
		t.Errorf("failed_services: %v", failed)
	}
}

func TestTakenPortFailsStart(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	cfg := testConfig()
	cfg.Addr = ln.Addr().String()
	app := fx.New(
		fx.NopLogger,
		fx.Supply(cfg, zap.NewNop()),
		httpserver.Module,
	)
	err = app.Start(context.Background())
	if err == nil {
		_ = app.Stop(context.Background())
		t.Fatal("start succeeded on a taken port")
	}
	if !strings.Contains(err.Error(), "cannot listen on "+cfg.Addr) {
		t.Errorf("error does not name the address: %v", err)
	}
}

func TestDrainingReadinessAndInFlightRequestFinishes(t *testing.T) {
	cfg := testConfig()
	cfg.DrainDelay = 400 * time.Millisecond
	release := make(chan struct{})
	entered := make(chan struct{})
	f := start(t, cfg, []httpserver.Route{httpserver.RouteFunc(func(r gin.IRouter) {
		r.GET("/slow", func(c *gin.Context) {
			close(entered)
			<-release
			c.String(200, "done")
		})
	})})

	var wg sync.WaitGroup
	var slowBody string
	var slowErr error
	wg.Go(func() {
		resp, err := http.Get(f.base + "/slow")
		if err != nil {
			slowErr = err
			return
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		slowBody = string(b)
	})
	<-entered

	stopped := make(chan error, 1)
	go func() { stopped <- f.srv.Stop(context.Background()) }()
	// While draining the listener is still open and readiness says 503.
	time.Sleep(50 * time.Millisecond)
	resp, body := get(t, f.base+"/health/ready")
	if resp.StatusCode != 503 || body["draining"] != true {
		t.Errorf("readiness while draining: %d %v", resp.StatusCode, body)
	}
	resp, _ = get(t, f.base+"/health/live")
	if resp.StatusCode != 200 {
		t.Errorf("liveness while draining: %d", resp.StatusCode)
	}
	select {
	case err := <-stopped:
		t.Fatalf("Stop returned before the in-flight request finished: %v", err)
	case <-time.After(500 * time.Millisecond):
	}
	close(release)
	if err := <-stopped; err != nil {
		t.Errorf("Stop: %v", err)
	}
	wg.Wait()
	if slowErr != nil || slowBody != "done" {
		t.Errorf("in-flight request: %q %v", slowBody, slowErr)
	}
	if _, err := http.Get(f.base + "/health"); err == nil {
		t.Error("listener still open after Stop")
	}
}

func TestPanicIs500JSONAndTheServerLives(t *testing.T) {
	f := start(t, testConfig(), []httpserver.Route{httpserver.RouteFunc(func(r gin.IRouter) {
		r.GET("/boom", func(*gin.Context) { panic("kaboom") })
	})})
	resp, body := get(t, f.base+"/boom", httpserver.RequestIDHeader, "req-42")
	if resp.StatusCode != 500 || body["error"] != "internal_error" || !strings.Contains(body["message"].(string), "req-42") {
		t.Errorf("%d %v", resp.StatusCode, body)
	}
	if f.srv.Panics() != 1 {
		t.Errorf("panics counted: %d", f.srv.Panics())
	}
	entries := f.logs.FilterMessage("http.panic").All()
	if len(entries) != 1 || entries[0].ContextMap()["request_id"] != "req-42" {
		t.Errorf("panic log: %v", entries)
	}
	if resp, _ := get(t, f.base+"/health"); resp.StatusCode != 200 {
		t.Errorf("server dead after panic: %d", resp.StatusCode)
	}
}

func TestRequestIDGeneratedOrEchoed(t *testing.T) {
	f := start(t, testConfig(), nil)
	resp, _ := get(t, f.base+"/health", httpserver.RequestIDHeader, "abc-123")
	if got := resp.Header.Get(httpserver.RequestIDHeader); got != "abc-123" {
		t.Errorf("echo: %q", got)
	}
	resp, _ = get(t, f.base+"/health")
	if got := resp.Header.Get(httpserver.RequestIDHeader); len(got) != 32 {
		t.Errorf("generated: %q", got)
	}
	resp, _ = get(t, f.base+"/health", httpserver.RequestIDHeader, "bad id with spaces")
	if got := resp.Header.Get(httpserver.RequestIDHeader); got == "bad id with spaces" || got == "" {
		t.Errorf("invalid incoming ID must be replaced: %q", got)
	}
}

func TestOversizeBodyIs413(t *testing.T) {
	cfg := testConfig()
	cfg.MaxBodyBytes = 64
	f := start(t, cfg, []httpserver.Route{httpserver.RouteFunc(func(r gin.IRouter) {
		r.POST("/echo", func(c *gin.Context) {
			var v map[string]any
			if httpserver.BindJSON(c, &v) {
				c.JSON(200, v)
			}
		})
	})})
	big := `{"k":"` + strings.Repeat("x", 100) + `"}`
	post := func(body io.Reader, length int64) (*http.Response, map[string]any) {
		req, _ := http.NewRequest(http.MethodPost, f.base+"/echo", body)
		req.ContentLength = length
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var m map[string]any
		_ = json.NewDecoder(resp.Body).Decode(&m)
		return resp, m
	}
	resp, body := post(strings.NewReader(big), int64(len(big)))
	if resp.StatusCode != 413 || body["error"] != "body_too_large" {
		t.Errorf("declared length: %d %v", resp.StatusCode, body)
	}
	// Chunked: no declared length; the limit still holds while reading.
	resp, body = post(io.MultiReader(strings.NewReader(big)), -1)
	if resp.StatusCode != 413 || body["error"] != "body_too_large" {
		t.Errorf("chunked: %d %v", resp.StatusCode, body)
	}
	resp, body = post(bytes.NewReader([]byte(`{"k":"v"}`)), 9)
	if resp.StatusCode != 200 || body["k"] != "v" {
		t.Errorf("small body: %d %v", resp.StatusCode, body)
	}
	resp, body = post(strings.NewReader(`{not json`), 9)
	if resp.StatusCode != 400 || body["error"] != "invalid_body" {
		t.Errorf("bad json: %d %v", resp.StatusCode, body)
	}
}

func TestUnknownRouteAndMethodAreJSON(t *testing.T) {
	f := start(t, testConfig(), nil)
	resp, body := get(t, f.base+"/nope")
	if resp.StatusCode != 404 || body["error"] != "not_found" {
		t.Errorf("%d %v", resp.StatusCode, body)
	}
	resp, err := http.Post(f.base+"/health/live", "application/json", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 405 {
		t.Errorf("method: %d", resp.StatusCode)
	}
}

func TestMiddlewareRunsInOrderAndAccessLogRedactsTokens(t *testing.T) {
	var order []string
	var mu sync.Mutex
	mark := func(name string) gin.HandlerFunc {
		return func(c *gin.Context) { mu.Lock(); order = append(order, name); mu.Unlock(); c.Next() }
	}
	core, logs := observer.New(zap.DebugLevel)
	var srv *httpserver.Server
	cfg := testConfig()
	app := fxtest.New(t,
		fx.Supply(cfg, zap.New(core)),
		fx.Provide(
			httpserver.AsMiddleware(func() httpserver.Middleware {
				return httpserver.Middleware{Name: "late", Order: 900, Handler: mark("late")}
			}),
			httpserver.AsMiddleware(func() httpserver.Middleware {
				return httpserver.Middleware{Name: "early", Order: 150, Handler: mark("early")}
			}),
			httpserver.AsMiddleware(func() httpserver.Middleware {
				return httpserver.Middleware{Name: "mid", Order: 500, Handler: mark("mid")}
			}),
			httpserver.AsRoute(func() httpserver.Route {
				return httpserver.RouteFunc(func(r gin.IRouter) { r.GET("/x", func(c *gin.Context) { c.String(200, "x") }) })
			}),
		),
		httpserver.Module,
		fx.Populate(&srv),
	)
	app.RequireStart()
	defer app.RequireStop()
	resp, _ := get(t, "http://"+srv.Addr().String()+"/x?access_token=SECRET-TOKEN&page=2")
	if resp.StatusCode != 200 {
		t.Fatalf("status %d", resp.StatusCode)
	}
	mu.Lock()
	if got := strings.Join(order, ","); got != "early,mid,late" {
		t.Errorf("order: %s", got)
	}
	mu.Unlock()
	entries := logs.FilterMessage("http.request").All()
	if len(entries) != 1 {
		t.Fatalf("access log entries: %d", len(entries))
	}
	path := entries[0].ContextMap()["path"].(string)
	if strings.Contains(path, "SECRET-TOKEN") || !strings.Contains(path, "access_token=***") || !strings.Contains(path, "page=2") {
		t.Errorf("access log path: %s", path)
	}
}
