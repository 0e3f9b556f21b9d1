package redis_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redifx/redifx/modules/config"
	"github.com/redifx/redifx/modules/health"
	"github.com/redifx/redifx/modules/redis"
	"github.com/redifx/redifx/modules/redis/redistest"
	goredis "github.com/redis/go-redis/v9"
	"go.uber.org/goleak"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// fastConfig points at srv with short intervals so that faults are seen quickly.
func fastConfig(addr string) redis.Config {
	c := redis.DefaultConfig()
	host, port, _ := net.SplitHostPort(addr)
	c.Host = host
	c.Port, _ = strconv.Atoi(port)
	c.StartupWait = 300 * time.Millisecond
	c.HealthInterval = 100 * time.Millisecond
	c.ReconnectInterval = 100 * time.Millisecond
	c.SocketConnectTimeout = 500 * time.Millisecond
	c.SocketTimeout = 500 * time.Millisecond
	return c
}

// deadAddr returns a loopback address where nothing listens.
func deadAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	_ = ln.Close()
	return addr
}

func newManager(t *testing.T, cfg redis.Config) (*redis.Manager, *observer.ObservedLogs) {
	t.Helper()
	core, logs := observer.New(zap.DebugLevel)
	m, err := redis.NewManager(cfg, zap.New(core))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = m.Stop(context.Background()) })
	return m, logs
}

func eventually(t *testing.T, what string, timeout time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", timeout, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestStandaloneClientsUseTheirDatabases(t *testing.T) {
	srv := redistest.Start(t)
	m, logs := newManager(t, fastConfig(srv.Addr()))
	ctx := context.Background()
	if err := m.Start(ctx); err != nil {
		t.Fatal(err)
	}
	if m.State() != redis.StateReady || !m.Available() || m.Err() != nil {
		t.Fatalf("state %s, err %v", m.State(), m.Err())
	}
	for i, name := range redis.ClientNames {
		if err := m.Named(name).Set(ctx, "which", name, 0).Err(); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		want := []int{0, 1, 2, 3}[i]
		raw := goredis.NewClient(&goredis.Options{Addr: srv.Addr(), DB: want})
		got, err := raw.Get(ctx, "which").Result()
		_ = raw.Close()
		if err != nil || got != name {
			t.Errorf("DB %d holds %q (%v), want %q", want, got, err, name)
		}
	}
	if m.Client() != m.Named(redis.ClientDefault) {
		t.Error("Client() is not the default client")
	}
	if e := logs.FilterMessage("redis.initialized").All(); len(e) != 1 || e[0].ContextMap()["max_connections"] != int64(50) {
		t.Errorf("redis.initialized: %v", e)
	}
	if got := m.Prefix(redis.ClientCache); got != "redifx:cache:" {
		t.Errorf("prefix %q", got)
	}
}

func TestPoolSizeAndTimeoutsAreHonoured(t *testing.T) {
	srv := redistest.Start(t)
	cfg := fastConfig(srv.Addr())
	cfg.MaxConnections = 7
	cfg.MinIdleConnections = 2
	cfg.SocketTimeout = 1234 * time.Millisecond
	m, _ := newManager(t, cfg)
	opt := m.Client().(*goredis.Client).Options()
	if opt.PoolSize != 7 || opt.MinIdleConns != 2 || opt.ReadTimeout != 1234*time.Millisecond || opt.WriteTimeout != 1234*time.Millisecond || opt.DialTimeout != 500*time.Millisecond {
		t.Errorf("options not honoured: %+v", opt)
	}
	if err := m.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	// The pool never grows past its size even under a burst.
	ctx := context.Background()
	done := make(chan struct{})
	for range 30 {
		go func() {
			defer func() { done <- struct{}{} }()
			_ = m.Client().Do(ctx, "DEBUG", "SLEEP", "0.05").Err()
		}()
	}
	for range 30 {
		<-done
	}
	if total := m.PoolStats(redis.ClientDefault).TotalConns; total > 7 {
		t.Errorf("pool grew to %d connections", total)
	}
}

func TestRequiredAndUnreachableFailsStartNamingTheAddressNotThePassword(t *testing.T) {
	addr := deadAddr(t)
	cfg := fastConfig(addr)
	cfg.URL = "redis://app:Sup3r-Secret@" + addr + "/0"
	cfg.Required = true
	m, logs := newManager(t, cfg)
	err := m.Start(context.Background())
	if err == nil {
		t.Fatal("start succeeded")
	}
	if !errors.Is(err, redis.ErrUnavailable) || !strings.Contains(err.Error(), addr) {
		t.Errorf("error should wrap ErrUnavailable and name %s: %v", addr, err)
	}
	if strings.Contains(err.Error(), "Sup3r-Secret") {
		t.Errorf("password in error: %v", err)
	}
	for _, e := range logs.All() {
		if strings.Contains(e.Message, "Sup3r-Secret") || strings.Contains(strings.Join(fieldStrings(e), " "), "Sup3r-Secret") {
			t.Errorf("password in log: %v", e)
		}
	}
	if len(logs.FilterMessage("redis.init.failed").All()) != 1 {
		t.Error("no redis.init.failed event")
	}
	if m.State() != redis.StateClosed {
		t.Errorf("state %s", m.State())
	}
}

func fieldStrings(e observer.LoggedEntry) []string {
	var out []string
	for k, v := range e.ContextMap() {
		out = append(out, k+"="+toString(v))
	}
	return out
}

func toString(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case error:
		return x.Error()
	}
	return fmt.Sprint(v)
}

func TestWrongPasswordFailsWithoutEchoingIt(t *testing.T) {
	srv := redistest.Start(t, redistest.WithPassword("right-pw"))
	cfg := fastConfig(srv.Addr())
	cfg.Password = "wrong-pw-123"
	cfg.Required = true
	m, _ := newManager(t, cfg)
	err := m.Start(context.Background())
	if err == nil || strings.Contains(err.Error(), "wrong-pw-123") {
		t.Fatalf("got %v", err)
	}
}

func TestNotRequiredDegradesThenRecoversWhenRedisAppears(t *testing.T) {
	srv := redistest.Start(t)
	srv.Stop() // the port stays reserved for Restart
	cfg := fastConfig(srv.Addr())
	m, logs := newManager(t, cfg)
	if err := m.Start(context.Background()); err != nil {
		t.Fatalf("not-required start must not fail: %v", err)
	}
	if m.State() != redis.StateDegraded || !errors.Is(m.Err(), redis.ErrUnavailable) {
		t.Fatalf("state %s err %v", m.State(), m.Err())
	}
	h := m.HealthCheck(context.Background())
	if h.Status != health.StatusDegraded {
		t.Errorf("health of an optional, unreachable Redis: %s", h.Status)
	}
	if len(logs.FilterMessage("redis.degraded").All()) != 1 {
		t.Error("no redis.degraded event")
	}
	srv.Restart()
	eventually(t, "ready after Redis came back", 5*time.Second, m.Available)
	if len(logs.FilterMessage("redis.reconnected").All()) != 1 {
		t.Error("no redis.reconnected event")
	}
	if err := m.Client().Set(context.Background(), "k", "v", 0).Err(); err != nil {
		t.Errorf("client after reconnect: %v", err)
	}
}

func TestRedisKilledMidRunDegradesAndReconnects(t *testing.T) {
	srv := redistest.Start(t)
	cfg := fastConfig(srv.Addr())
	cfg.Required = true
	m, logs := newManager(t, cfg)
	if err := m.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	srv.Kill()
	eventually(t, "degraded after kill", 3*time.Second, func() bool { return m.State() == redis.StateDegraded })
	if h := m.HealthCheck(context.Background()); h.Status != health.StatusUnhealthy {
		t.Errorf("required + down must be unhealthy, got %s", h.Status)
	}
	srv.Restart()
	eventually(t, "ready after restart", 5*time.Second, m.Available)
	if err := m.Client().Ping(context.Background()).Err(); err != nil {
		t.Error(err)
	}
	if len(logs.FilterMessage("redis.degraded").All()) != 1 || len(logs.FilterMessage("redis.reconnected").All()) != 1 {
		t.Errorf("events: %v", logs.All())
	}
}

func TestEmbeddedFallbackServesGetSetAndPubSub(t *testing.T) {
	cfg := fastConfig(deadAddr(t))
	cfg.EmbeddedFallback = true
	cfg.Password = "pw-for-embedded"
	m, logs := newManager(t, cfg)
	ctx := context.Background()
	if err := m.Start(ctx); err != nil {
		t.Fatal(err)
	}
	if !m.Embedded() || !m.Available() {
		t.Fatalf("embedded %v state %s", m.Embedded(), m.State())
	}
	if len(logs.FilterMessage("redis.embedded_fallback").All()) != 1 {
		t.Error("no redis.embedded_fallback WARN")
	}
	if err := m.Client().Set(ctx, "k", "v", 0).Err(); err != nil {
		t.Fatal(err)
	}
	if got, err := m.Client().Get(ctx, "k").Result(); err != nil || got != "v" {
		t.Fatalf("GET: %q %v", got, err)
	}
	if _, err := m.Named(redis.ClientCache).Get(ctx, "k").Result(); !errors.Is(err, goredis.Nil) {
		t.Errorf("cache DB should be separate: %v", err)
	}
	sub := m.Named(redis.ClientPubSub).Subscribe(ctx, "news")
	defer sub.Close()
	if _, err := sub.Receive(ctx); err != nil {
		t.Fatal(err)
	}
	if err := m.Named(redis.ClientPubSub).Publish(ctx, "news", "hello").Err(); err != nil {
		t.Fatal(err)
	}
	select {
	case msg := <-sub.Channel():
		if msg.Payload != "hello" {
			t.Errorf("payload %q", msg.Payload)
		}
	case <-time.After(2 * time.Second):
		t.Fatal("no pub/sub message")
	}
	h := m.HealthCheck(ctx)
	if h.Status != health.StatusHealthy || !h.Embedded {
		t.Errorf("health on the embedded server: %+v", h)
	}
}

func TestEmbeddedFallbackIsNotUsedWhenRedisIsUp(t *testing.T) {
	srv := redistest.Start(t)
	cfg := fastConfig(srv.Addr())
	cfg.EmbeddedFallback = true
	m, _ := newManager(t, cfg)
	if err := m.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	if m.Embedded() {
		t.Error("fell back although Redis is reachable")
	}
}

func TestHealthCheckReportsInfoLatencyAndPool(t *testing.T) {
	srv := redistest.Start(t)
	m, _ := newManager(t, fastConfig(srv.Addr()))
	if err := m.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	h := m.HealthCheck(context.Background())
	if h.Status != health.StatusHealthy || h.State != "ready" || h.LatencyMS <= 0 || h.Pool.TotalConns == 0 {
		t.Errorf("health: %+v", h)
	}
	if !srv.Embedded() {
		if h.RedisVersion == "" || h.UsedMemoryHuman == "" || h.ConnectedClients == nil || h.UptimeInSeconds == nil {
			t.Errorf("INFO fields missing: %+v", h)
		}
	}
	r := m.Check().Check(context.Background())
	if r.Status != health.StatusHealthy || r.Details["embedded"] != false || r.Details["pool"] == nil {
		t.Errorf("check result: %+v", r)
	}
	if m.Check().Name() != "redis" || m.Check().Required() {
		t.Error("check must be named redis and follow Config.Required")
	}
}

func TestStopClosesEveryClient(t *testing.T) {
	srv := redistest.Start(t)
	m, logs := newManager(t, fastConfig(srv.Addr()))
	if err := m.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := m.Stop(context.Background()); err != nil {
		t.Fatal(err)
	}
	for _, name := range redis.ClientNames {
		if err := m.Named(name).Ping(context.Background()).Err(); !errors.Is(err, goredis.ErrClosed) {
			t.Errorf("%s after stop: %v", name, err)
		}
	}
	if m.State() != redis.StateClosed || len(logs.FilterMessage("redis.closed").All()) != 1 {
		t.Errorf("state %s", m.State())
	}
	if err := m.Stop(context.Background()); err != nil {
		t.Errorf("second Stop: %v", err)
	}
}

func TestConfigValidation(t *testing.T) {
	type tc struct {
		name string
		env  config.Environment
		mut  func(*redis.Config)
		keys []string
	}
	cases := []tc{
		{"defaults ok in development", config.Development, func(*redis.Config) {}, nil},
		{"production localhost", config.Production, func(*redis.Config) {}, []string{"host"}},
		{"production ::1 and fallback", config.Production, func(c *redis.Config) { c.Host = "::1"; c.EmbeddedFallback = true }, []string{"embedded_fallback", "host"}},
		{"production with url", config.Production, func(c *redis.Config) { c.URL = "rediss://:pw@redis.prod:6380/0" }, nil},
		{"production sentinel", config.Production, func(c *redis.Config) {
			c.Mode, c.Addrs, c.MasterName = redis.ModeSentinel, []string{"s1:26379"}, "mymaster"
		}, nil},
		{"sentinel without addrs and name", config.Development, func(c *redis.Config) { c.Mode = redis.ModeSentinel }, []string{"addrs", "master_name"}},
		{"cluster with db", config.Development, func(c *redis.Config) { c.Mode, c.Addrs, c.DB = redis.ModeCluster, []string{"n:7000"}, 2 }, []string{"db"}},
		{"bad mode and port", config.Development, func(c *redis.Config) { c.Mode, c.Port = "ring", 0 }, []string{"mode", "port"}},
		{"bad pool", config.Development, func(c *redis.Config) { c.MaxConnections, c.MinIdleConnections = 0, 3 }, []string{"max_connections", "min_idle_connections"}},
		{"bad url scheme", config.Development, func(c *redis.Config) { c.URL = "http://u:pw@h:1" }, []string{"url"}},
		{"missing tls files", config.Development, func(c *redis.Config) { c.TLS.CAFile = "/nonexistent/ca.pem" }, []string{"tls.ca_file"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			cfg := redis.DefaultConfig()
			c.mut(&cfg)
			err := cfg.Validate(c.env)
			var got []string
			if err != nil {
				for _, e := range err.(interface{ Unwrap() []error }).Unwrap() {
					got = append(got, e.(*config.FieldError).Key)
				}
			}
			if strings.Join(got, ",") != strings.Join(c.keys, ",") {
				t.Errorf("problems %v, want %v (%v)", got, c.keys, err)
			}
		})
	}
}

func TestInvalidURLNeverEchoesThePassword(t *testing.T) {
	for _, u := range []string{"redis://u:Pw-Leak@h:notaport/0", "redis://u:Pw-Leak@h:1/notadb", "redis://u:Pw-Leak@h:1/0?bogus=1"} {
		cfg := redis.DefaultConfig()
		cfg.URL = u
		err := cfg.Validate(config.Development)
		if err == nil {
			t.Errorf("%s: accepted", config.RedactURL(u))
			continue
		}
		if strings.Contains(err.Error(), "Pw-Leak") {
			t.Errorf("password in %v", err)
		}
	}
}
