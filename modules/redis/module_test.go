package redis_test

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/redifx/redifx/modules/config"
	"github.com/redifx/redifx/modules/httpserver"
	"github.com/redifx/redifx/modules/redis"
	"github.com/redifx/redifx/modules/redis/redistest"
	goredis "github.com/redis/go-redis/v9"
	"go.uber.org/fx"
	"go.uber.org/fx/fxtest"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"
)

// appConfig is a binary's configuration holding the sections under test.
type appConfig struct {
	Environment config.Environment `koanf:"environment"`
	Redis       redis.Config       `koanf:"redis"`
	HTTP        httpserver.Config  `koanf:"http"`
}

// loadConfig builds the configuration from environment variables alone, as an
// operator would.
func loadConfig(t *testing.T, env ...string) *appConfig {
	t.Helper()
	c := &appConfig{Environment: config.Development, Redis: redis.DefaultConfig(), HTTP: httpserver.DefaultConfig()}
	env = append([]string{"HTTP__ADDR=127.0.0.1:0", "REDIS__HEALTH_INTERVAL=100ms", "REDIS__RECONNECT_INTERVAL=100ms",
		"REDIS__STARTUP_WAIT=300ms", "REDIS__SOCKET_TIMEOUT=1s", "REDIS__SOCKET_CONNECT_TIMEOUT=1s"}, env...)
	if err := config.Load(c, config.Options{Environ: env}); err != nil {
		t.Fatal(err)
	}
	return c
}

// recorder notes the order of lifecycle events across modules.
type recorder struct {
	mu     sync.Mutex
	events []string
}

func (r *recorder) add(e string) { r.mu.Lock(); r.events = append(r.events, e); r.mu.Unlock() }
func (r *recorder) index(e string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	for i, x := range r.events {
		if x == e {
			return i
		}
	}
	return -1
}

// orderLogger records the redis and http log events in the order they happen.
func orderLogger(rec *recorder) *zap.Logger {
	core, _ := observer.New(zap.DebugLevel)
	return zap.New(core, zap.Hooks(func(e zapcoreEntry) error {
		switch e.Message {
		case "redis.initialized", "http.listening", "http.stopped", "redis.closed":
			rec.add(e.Message)
		}
		return nil
	}))
}

func TestLifecycleOrderAcrossModules(t *testing.T) {
	srv := redistest.Start(t)
	cfg := loadConfig(t, "REDIS__URL="+srv.URL())
	rec := &recorder{}
	var server *httpserver.Server
	app := fxtest.New(t,
		config.Supply(cfg),
		fx.Supply(orderLogger(rec)),
		redis.Module,
		httpserver.Module,
		// A router that uses the client: it must find Redis connected at its
		// start and still open at its stop.
		fx.Provide(httpserver.AsRoute(func(lc fx.Lifecycle, c goredis.UniversalClient) httpserver.Route {
			lc.Append(fx.Hook{
				OnStart: func(ctx context.Context) error {
					rec.add("router.start")
					return c.Ping(ctx).Err()
				},
				OnStop: func(ctx context.Context) error {
					rec.add("router.stop")
					return c.Ping(ctx).Err()
				},
			})
			return httpserver.RouteFunc(func(r ginRouter) {})
		})),
		fx.Populate(&server),
	)
	app.RequireStart()
	app.RequireStop()
	order := func(a, b string) {
		if ia, ib := rec.index(a), rec.index(b); ia < 0 || ib < 0 || ia > ib {
			t.Errorf("%s must come before %s: %v", a, b, rec.events)
		}
	}
	order("redis.initialized", "router.start")
	order("redis.initialized", "http.listening")
	order("http.stopped", "redis.closed")
	order("router.stop", "redis.closed")
}

func TestProductionFailsFastThroughFx(t *testing.T) {
	addr := deadAddr(t)
	cfg := loadConfig(t, "ENVIRONMENT=production", "REDIS__URL=redis://svc:Prod-Secret-9@"+addr+"/0")
	if !cfg.Redis.Required || cfg.Redis.EmbeddedFallback {
		t.Fatalf("production defaults: required %v fallback %v", cfg.Redis.Required, cfg.Redis.EmbeddedFallback)
	}
	app := fx.New(fx.NopLogger, config.Supply(cfg), fx.Supply(zap.NewNop()), redis.Module, httpserver.Module)
	err := app.Start(context.Background())
	if err == nil {
		_ = app.Stop(context.Background())
		t.Fatal("production start with unreachable Redis succeeded")
	}
	if !strings.Contains(err.Error(), addr) || strings.Contains(err.Error(), "Prod-Secret-9") {
		t.Errorf("start error must name %s and hide the password: %v", addr, err)
	}
}

func readiness(t *testing.T, base string) (int, map[string]any) {
	t.Helper()
	resp, err := http.Get(base + "/health/ready")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&body)
	return resp.StatusCode, body
}

func TestDevelopmentDegradesThenBecomesReadyWithoutRestart(t *testing.T) {
	srv := redistest.Start(t)
	srv.Stop()
	cfg := loadConfig(t, "REDIS__URL="+srv.URL(), "REDIS__EMBEDDED_FALLBACK=false")
	var server *httpserver.Server
	var m *redis.Manager
	app := fxtest.New(t, config.Supply(cfg), fx.Supply(zap.NewNop()), redis.Module, httpserver.Module, fx.Populate(&server, &m))
	app.RequireStart()
	defer app.RequireStop()
	base := "http://" + server.Addr().String()

	code, body := readiness(t, base)
	svc := body["services"].([]any)[0].(map[string]any)
	if code != 200 || svc["status"] != "degraded" || svc["required"] != false {
		t.Errorf("optional Redis down: %d %v", code, body)
	}
	resp, err := http.Get(base + "/health/redis")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 503 {
		t.Errorf("/health/redis while down: %d", resp.StatusCode)
	}

	srv.Restart()
	eventually(t, "ready", 5*time.Second, m.Available)
	code, body = readiness(t, base)
	svc = body["services"].([]any)[0].(map[string]any)
	if code != 200 || svc["status"] != "healthy" {
		t.Errorf("after Redis came back: %d %v", code, body)
	}
}

func TestRequiredRedisLostMidRunTurnsReadinessTo503(t *testing.T) {
	srv := redistest.Start(t)
	cfg := loadConfig(t, "REDIS__URL="+srv.URL(), "REDIS__REQUIRED=true")
	var server *httpserver.Server
	var m *redis.Manager
	app := fxtest.New(t, config.Supply(cfg), fx.Supply(zap.NewNop()), redis.Module, httpserver.Module, fx.Populate(&server, &m))
	app.RequireStart()
	defer app.RequireStop()
	base := "http://" + server.Addr().String()
	if code, _ := readiness(t, base); code != 200 {
		t.Fatalf("ready: %d", code)
	}
	srv.Kill()
	eventually(t, "degraded", 3*time.Second, func() bool { return m.State() == redis.StateDegraded })
	code, body := readiness(t, base)
	if code != 503 || body["failed_services"].([]any)[0] != "redis" {
		t.Errorf("required Redis down: %d %v", code, body)
	}
	srv.Restart()
	eventually(t, "ready again", 5*time.Second, m.Available)
	if code, _ := readiness(t, base); code != 200 {
		t.Errorf("after restart: %d", code)
	}
}

func TestEmbeddedFallbackReportsEmbeddedInHealth(t *testing.T) {
	cfg := loadConfig(t, "REDIS__HOST=127.0.0.1", "REDIS__PORT="+portOf(deadAddr(t)))
	var server *httpserver.Server
	app := fxtest.New(t, config.Supply(cfg), fx.Supply(zap.NewNop()), redis.Module, httpserver.Module, fx.Populate(&server))
	app.RequireStart()
	defer app.RequireStop()
	resp, err := http.Get("http://" + server.Addr().String() + "/health/redis")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&body)
	if resp.StatusCode != 200 || body["status"] != "healthy" || body["embedded"] != true {
		t.Errorf("%d %v", resp.StatusCode, body)
	}
}

func portOf(addr string) string { return addr[strings.LastIndex(addr, ":")+1:] }

// startThroughConfig runs the module from environment variables alone and
// checks it serves and is healthy.
func startThroughConfig(t *testing.T, env ...string) *redis.Manager {
	t.Helper()
	cfg := loadConfig(t, env...)
	var m *redis.Manager
	var client goredis.UniversalClient
	app := fxtest.New(t, config.Supply(cfg), fx.Supply(zap.NewNop()), redis.Module, fx.Populate(&m, &client))
	app.RequireStart()
	t.Cleanup(app.RequireStop)
	ctx := context.Background()
	for i := range 50 {
		key := "k" + string(rune('a'+i%26)) + string(rune('0'+i/26))
		if err := client.Set(ctx, key, i, 0).Err(); err != nil {
			t.Fatalf("SET %s: %v", key, err)
		}
	}
	if h := m.HealthCheck(ctx); h.Status != "healthy" {
		t.Fatalf("health: %+v", h)
	}
	return m
}

func TestSentinelThroughConfig(t *testing.T) {
	s := redistest.StartSentinel(t, "mymaster", redistest.WithPassword("sentinel-test-pw"))
	m := startThroughConfig(t,
		"REDIS__MODE=sentinel",
		"REDIS__ADDRS="+strings.Join(s.Addrs(), ","),
		"REDIS__MASTER_NAME=mymaster",
		"REDIS__PASSWORD=sentinel-test-pw",
	)
	got, err := s.Master.Client(t).Get(context.Background(), "ka0").Result()
	if err != nil || got != "0" {
		t.Errorf("write did not reach the master: %q %v", got, err)
	}
	if m.HealthCheck(context.Background()).Mode != redis.ModeSentinel {
		t.Error("mode")
	}
}

func TestClusterThroughConfig(t *testing.T) {
	c := redistest.StartCluster(t)
	m := startThroughConfig(t, "REDIS__MODE=cluster", "REDIS__ADDRS="+strings.Join(c.Addrs(), ","))
	if m.Named(redis.ClientCache) != m.Client() {
		t.Error("in cluster mode every named client shares the cluster client")
	}
	// Keys landed on more than one node.
	nodes := 0
	for _, n := range c.Nodes {
		if size, _ := n.Client(t).DBSize(context.Background()).Result(); size > 0 {
			nodes++
		}
	}
	if nodes < 2 {
		t.Errorf("keys on %d nodes", nodes)
	}
}

func TestTLSThroughConfig(t *testing.T) {
	if !redistest.TLSSupported() {
		redistest.RequireReal(t)
		t.Skip("the installed redis-server was built without TLS")
	}
	files := redistest.NewTLSFiles(t)
	files.RequireClientCert = true
	srv := redistest.Start(t, redistest.WithTLS(files), redistest.WithACLUser("app", "tls-user-pw"))
	startThroughConfig(t,
		"REDIS__HOST=127.0.0.1", "REDIS__PORT="+portOf(srv.Addr()),
		"REDIS__USERNAME=app", "REDIS__PASSWORD=tls-user-pw",
		"REDIS__TLS__ENABLED=true", "REDIS__TLS__CA_FILE="+files.CAFile,
		"REDIS__TLS__CERT_FILE="+files.ClientCertFile, "REDIS__TLS__KEY_FILE="+files.ClientKeyFile,
	)
	// Without the CA the server is not trusted.
	cfg := loadConfig(t, "REDIS__HOST=127.0.0.1", "REDIS__PORT="+portOf(srv.Addr()), "REDIS__TLS__ENABLED=true", "REDIS__REQUIRED=true", "REDIS__EMBEDDED_FALLBACK=false", "REDIS__STARTUP_WAIT=2s")
	m, err := redis.NewManager(cfg.Redis, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Start(context.Background()); err == nil || !strings.Contains(err.Error(), "certificate") {
		t.Errorf("untrusted server accepted: %v", err)
	}
}

func TestACLUserThroughURL(t *testing.T) {
	srv := redistest.Start(t, redistest.WithACLUser("svc", "acl-pw"))
	startThroughConfig(t, "REDIS__URL=redis://svc:acl-pw@"+srv.Addr()+"/0")
}

func TestPoolCollectorJoinsTheGroup(t *testing.T) {
	srv := redistest.Start(t)
	cfg := loadConfig(t, "REDIS__URL="+srv.URL())
	var collectors struct {
		fx.In
		All []prometheus.Collector `group:"prometheus.collectors"`
	}
	app := fxtest.New(t, config.Supply(cfg), fx.Supply(zap.NewNop()), redis.Module, fx.Populate(&collectors))
	app.RequireStart()
	defer app.RequireStop()
	reg := prometheus.NewRegistry()
	for _, c := range collectors.All {
		reg.MustRegister(c)
	}
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, f := range families {
		seen[f.GetName()] = true
		if f.GetName() == "redifx_redis_pool_connections" && len(f.GetMetric()) != len(redis.ClientNames) {
			t.Errorf("one series per client expected, got %d", len(f.GetMetric()))
		}
	}
	for _, name := range []string{"redifx_redis_pool_hits_total", "redifx_redis_pool_misses_total", "redifx_redis_pool_timeouts_total",
		"redifx_redis_pool_connections", "redifx_redis_pool_idle_connections", "redifx_redis_pool_waits_total", "redifx_redis_pool_wait_duration_seconds_total"} {
		if !seen[name] {
			t.Errorf("missing %s", name)
		}
	}
}

func TestSentinelFailoverIsFollowedWithoutRestart(t *testing.T) {
	s := redistest.StartSentinel(t, "failover-master")
	m := startThroughConfig(t,
		"REDIS__MODE=sentinel",
		"REDIS__ADDRS="+strings.Join(s.Addrs(), ","),
		"REDIS__MASTER_NAME=failover-master",
	)
	s.Master.Kill()
	ctx := context.Background()
	eventually(t, "writes succeed on the promoted replica", 20*time.Second, func() bool {
		return m.Client().Set(ctx, "after-failover", "1", 0).Err() == nil
	})
	got, err := s.Replica.Client(t).Get(ctx, "after-failover").Result()
	if err != nil || got != "1" {
		t.Errorf("write did not land on the promoted replica: %q %v", got, err)
	}
	eventually(t, "manager ready", 5*time.Second, m.Available)
}

func TestNamedClientsAreFxNamedValues(t *testing.T) {
	srv := redistest.Start(t)
	cfg := loadConfig(t, "REDIS__URL="+srv.URL())
	var named struct {
		fx.In
		Default goredis.UniversalClient
		Cache   goredis.UniversalClient `name:"cache"`
		Session goredis.UniversalClient `name:"session"`
		PubSub  goredis.UniversalClient `name:"pubsub"`
	}
	app := fxtest.New(t, config.Supply(cfg), fx.Supply(zap.NewNop()), redis.Module, fx.Populate(&named))
	app.RequireStart()
	defer app.RequireStop()
	ctx := context.Background()
	for db, c := range map[int]goredis.UniversalClient{0: named.Default, 1: named.Cache, 2: named.Session, 3: named.PubSub} {
		if got := c.(*goredis.Client).Options().DB; got != db {
			t.Errorf("client for DB %d uses DB %d", db, got)
		}
		if err := c.Ping(ctx).Err(); err != nil {
			t.Error(err)
		}
	}
}
