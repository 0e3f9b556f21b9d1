package redis_test

import (
	"context"
	"errors"
	"math"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/redifx/redifx/modules/config"
	"github.com/redifx/redifx/modules/health"
	"github.com/redifx/redifx/modules/redis"
	"github.com/redifx/redifx/modules/redis/redistest"
)

// Values that used to pass validation and then panicked in the client
// library, dialled nothing, or selected a database that cannot exist: each
// is one problem naming its key.
func TestOutOfRangeSettingsNameTheirKey(t *testing.T) {
	for _, tc := range []struct {
		name string
		mut  func(*redis.Config)
		key  string
	}{
		{"pool beyond the library's limit", func(c *redis.Config) { c.MaxConnections = 1<<63 - 1 }, "max_connections"},
		{"pool of 2^31", func(c *redis.Config) { c.MaxConnections = 1 << 31 }, "max_connections"},
		{"pool just over the limit", func(c *redis.Config) { c.MaxConnections = redis.MaxConnectionsLimit + 1 }, "max_connections"},
		{"empty host", func(c *redis.Config) { c.Host = "" }, "host"},
		{"blank host", func(c *redis.Config) { c.Host = "  " }, "host"},
		{"host list", func(c *redis.Config) { c.Host = "a,b" }, "host"},
		{"cluster port out of range", func(c *redis.Config) { c.Mode, c.Addrs = redis.ModeCluster, []string{"n:99999"} }, "addrs"},
		{"sentinel port zero", func(c *redis.Config) {
			c.Mode, c.Addrs, c.MasterName = redis.ModeSentinel, []string{"s:0"}, "m"
		}, "addrs"},
		{"sentinel named port", func(c *redis.Config) {
			c.Mode, c.Addrs, c.MasterName = redis.ModeSentinel, []string{"s:redis"}, "m"
		}, "addrs"},
		{"url with a negative database", func(c *redis.Config) { c.URL = "redis://h:6379/-1" }, "url"},
		{"url port out of range", func(c *redis.Config) { c.URL = "redis://h:70000/0" }, "url"},
		{"empty hash tag in the key prefix", func(c *redis.Config) { c.KeyPrefix = "{}" }, "key_prefix"},
		{"brace in the key prefix", func(c *redis.Config) { c.KeyPrefix = "app{" }, "key_prefix"},
		{"newline in the key prefix", func(c *redis.Config) { c.KeyPrefix = "app\n" }, "key_prefix"},
		{"a directory as the CA file", func(c *redis.Config) { c.TLS.Enabled, c.TLS.CAFile = true, os.TempDir() }, "tls.ca_file"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := redis.DefaultConfig()
			tc.mut(&cfg)
			err := cfg.Validate(config.Development)
			var fe *config.FieldError
			if !errors.As(err, &fe) || fe.Key != tc.key {
				t.Fatalf("want one problem naming %s, got %v", tc.key, err)
			}
			if n := len(err.(interface{ Unwrap() []error }).Unwrap()); n != 1 {
				t.Errorf("%d problems: %v", n, err)
			}
		})
	}
	cfg := redis.DefaultConfig()
	cfg.MaxConnections = redis.MaxConnectionsLimit
	cfg.MinIdleConnections = redis.MaxConnectionsLimit
	if err := cfg.Validate(config.Development); err != nil {
		t.Errorf("the largest pool is refused: %v", err)
	}
}

// A bad %-escape may sit inside the password: the message must not quote it.
func TestBadEscapeInURLIsNotQuoted(t *testing.T) {
	for _, u := range []string{"redis://u:Pw%zzLeak@h:1/0", "redis://u:Pw%G1@h:1/0", "rediss://:Pw%@h:1"} {
		cfg := redis.DefaultConfig()
		cfg.URL = u
		err := cfg.Validate(config.Development)
		var fe *config.FieldError
		if !errors.As(err, &fe) || fe.Key != "url" {
			t.Errorf("%s: %v", config.RedactURL(u), err)
			continue
		}
		for _, part := range []string{"Pw", "%zz", "%G1", "Leak"} {
			if strings.Contains(err.Error(), part) {
				t.Errorf("%q in %v", part, err)
			}
		}
	}
}

// redis.url's query options that redifx sets from its own keys were silently
// replaced; they are refused naming the key to use instead. skip_verify in the
// URL would bypass the production rule on tls.insecure_skip_verify.
func TestURLOptionsThatWouldBeIgnoredOrUnsafeAreRefused(t *testing.T) {
	for opt, key := range map[string]string{
		"pool_size=9223372036854775807": "redis.max_connections",
		"min_idle_conns=5":              "redis.min_idle_connections",
		"dial_timeout=-5s":              "redis.socket_connect_timeout",
		"read_timeout=1h":               "redis.socket_timeout",
		"write_timeout=0":               "redis.socket_timeout",
	} {
		cfg := redis.DefaultConfig()
		cfg.URL = "redis://u:Pw-Leak@h:6379/0?" + opt
		err := cfg.Validate(config.Development)
		var fe *config.FieldError
		if !errors.As(err, &fe) || fe.Key != "url" || !strings.Contains(err.Error(), key) || strings.Contains(err.Error(), "Pw-Leak") {
			t.Errorf("?%s: %v", opt, err)
		}
	}
	cfg := redis.DefaultConfig()
	cfg.URL = "rediss://:pw@redis.prod:6380/0?skip_verify=true"
	err := cfg.Validate(config.Production)
	var fe *config.FieldError
	if !errors.As(err, &fe) || fe.Key != "url" || !strings.Contains(err.Error(), "skip_verify") {
		t.Errorf("skip_verify in production: %v", err)
	}
	if err := cfg.Validate(config.Development); err != nil {
		t.Errorf("skip_verify in development: %v", err)
	}
	cfg.URL = "rediss://:pw@redis.prod:6380/0?max_retries=3"
	if err := cfg.Validate(config.Production); err != nil {
		t.Errorf("an option redifx does not set: %v", err)
	}
}

// Huge socket timeouts used to add up to a negative probe timeout: every
// health probe failed at once and a healthy Redis was reported degraded.
func TestHugeTimeoutsDoNotWrapIntoFailingProbes(t *testing.T) {
	redistest.RequireReal(t)
	srv := redistest.Start(t)
	cfg := fastConfig(srv.Addr())
	cfg.SocketTimeout, cfg.SocketConnectTimeout = math.MaxInt64/2+1, math.MaxInt64/2+1
	if err := cfg.Validate(config.Development); err == nil ||
		!strings.Contains(err.Error(), "socket_timeout") || !strings.Contains(err.Error(), "socket_connect_timeout") {
		t.Errorf("timeouts of centuries: %v, want both refused by name", err)
	}
	if b := cfg.LossDetectionBound(); b <= 0 {
		t.Errorf("loss detection bound %s of a configuration not validated", b)
	}
	// The largest accepted timeouts.
	cfg.SocketTimeout, cfg.SocketConnectTimeout = time.Hour, time.Hour
	if err := cfg.Validate(config.Development); err != nil {
		t.Fatal(err)
	}
	if b := cfg.LossDetectionBound(); b <= 0 {
		t.Errorf("loss detection bound %s", b)
	}
	m, _ := newManager(t, cfg)
	if err := m.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	// Several health intervals (100ms) pass while the probe stays healthy.
	for range 5 {
		if h := m.HealthCheck(context.Background()); h.Status != health.StatusHealthy {
			t.Fatalf("health: %+v", h)
		}
		time.Sleep(cfg.HealthInterval)
	}
	if m.State() != redis.StateReady {
		t.Errorf("state %s", m.State())
	}
}
