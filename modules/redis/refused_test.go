package redis_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/redifx/redifx/modules/config"
	"github.com/redifx/redifx/modules/redis"
	"github.com/redifx/redifx/modules/redis/redistest"
	goredis "github.com/redis/go-redis/v9"
)

// environments are the start-up policies a refused configuration must fail
// in alike: development (embedded fallback, Redis optional), staging (Redis
// optional) and production (Redis required).
var environments = []struct {
	name               string
	fallback, required bool
}{
	{"development", true, false},
	{"staging", false, false},
	{"production", false, true},
}

// startRefused starts a manager on cfg in each environment and checks that
// start-up fails with a *ConfigError naming setting, without falling back,
// without the secret in the error or the logs.
func startRefused(t *testing.T, cfg redis.Config, setting string, secrets ...string) {
	t.Helper()
	for _, env := range environments {
		t.Run(env.name, func(t *testing.T) {
			c := cfg
			c.EmbeddedFallback, c.Required = env.fallback, env.required
			m, logs := newManager(t, c)
			begin := time.Now()
			err := m.Start(context.Background())
			if err == nil {
				t.Fatalf("start succeeded (embedded %v, state %s)", m.Embedded(), m.State())
			}
			var ce *redis.ConfigError
			if !errors.As(err, &ce) {
				t.Fatalf("not a *redis.ConfigError: %v", err)
			}
			if ce.Setting != setting || !strings.Contains(err.Error(), setting) {
				t.Errorf("setting %q, want %q: %v", ce.Setting, setting, err)
			}
			if m.Embedded() || m.State() != redis.StateClosed {
				t.Errorf("embedded %v state %s", m.Embedded(), m.State())
			}
			if took := time.Since(begin); took > c.StartupWait+2*time.Second {
				t.Errorf("start took %s: a refused configuration is not retried", took)
			}
			if len(logs.FilterMessage("redis.init.refused").All()) != 1 || len(logs.FilterMessage("redis.embedded_fallback").All()) != 0 {
				t.Errorf("events: %v", logs.All())
			}
			for _, s := range secrets {
				if strings.Contains(err.Error(), s) {
					t.Errorf("secret in the error: %v", err)
				}
				for _, e := range logs.All() {
					if strings.Contains(e.Message+strings.Join(fieldStrings(e), " "), s) {
						t.Errorf("secret in the log: %v", e)
					}
				}
			}
		})
	}
}

func refusedConfig(srv *redistest.Server) redis.Config {
	c := fastConfig(srv.Addr())
	c.StartupWait = 3 * time.Second // longer than any refused start may take
	return c
}

func TestWrongPasswordFailsStartInEveryEnvironment(t *testing.T) {
	srv := redistest.Start(t, redistest.WithPassword("right-pw"))
	cfg := refusedConfig(srv)
	cfg.Password = "wrong-pw-123"
	startRefused(t, cfg, "redis.password", "wrong-pw-123", "right-pw")
}

func TestMissingPasswordFailsStart(t *testing.T) { // NOAUTH
	srv := redistest.Start(t, redistest.WithPassword("right-pw"))
	startRefused(t, refusedConfig(srv), "redis.password", "right-pw")
}

func TestUnknownACLUserFailsStart(t *testing.T) {
	srv := redistest.Start(t, redistest.WithACLUser("app", "app-pw"))
	cfg := refusedConfig(srv)
	cfg.Username, cfg.Password = "ghost", "app-pw"
	startRefused(t, cfg, "redis.username / redis.password", "app-pw")
}

func TestWrongPasswordInURLFailsStart(t *testing.T) {
	srv := redistest.Start(t, redistest.WithPassword("right-pw"))
	cfg := refusedConfig(srv)
	cfg.URL = "redis://:url-wrong-pw@" + srv.Addr() + "/0"
	startRefused(t, cfg, "redis.url (its user and password)", "url-wrong-pw", "right-pw")
}

func TestUserWithoutPermissionFailsStart(t *testing.T) { // NOPERM
	redistest.RequireReal(t)
	srv := redistest.Start(t)
	if err := srv.Client(t).Do(context.Background(), "ACL", "SETUSER", "limited", "on", ">limited-pw", "~*", "+@all", "-ping").Err(); err != nil {
		t.Fatal(err)
	}
	cfg := refusedConfig(srv)
	cfg.Username, cfg.Password = "limited", "limited-pw"
	startRefused(t, cfg, "redis.username", "limited-pw")
}

func TestDatabaseOutOfRangeFailsStartNamingIt(t *testing.T) {
	redistest.RequireReal(t)
	srv := redistest.Start(t)
	cfg := refusedConfig(srv)
	cfg.CacheDB = 999
	startRefused(t, cfg, "redis.cache_db")
}

// tlsServer starts a TLS-only redis-server, demanding a client certificate
// when requireClientCert is set.
func tlsServer(t *testing.T, requireClientCert bool) (*redistest.Server, *redistest.TLSFiles) {
	t.Helper()
	if !redistest.TLSSupported() {
		redistest.RequireReal(t)
		t.Skip("the installed redis-server was built without TLS")
	}
	files := redistest.NewTLSFiles(t)
	files.RequireClientCert = requireClientCert
	return redistest.Start(t, redistest.WithTLS(files)), files
}

func TestUntrustedServerCertificateFailsStart(t *testing.T) {
	srv, _ := tlsServer(t, false)
	other := redistest.NewTLSFiles(t) // a CA that did not sign the server's certificate
	for _, ca := range []string{"", other.CAFile} {
		cfg := refusedConfig(srv)
		cfg.TLS.Enabled, cfg.TLS.CAFile = true, ca
		startRefused(t, cfg, "redis.tls.ca_file")
	}
}

func TestMissingClientCertificateFailsStart(t *testing.T) {
	srv, files := tlsServer(t, true)
	cfg := refusedConfig(srv)
	cfg.TLS.Enabled, cfg.TLS.CAFile = true, files.CAFile
	startRefused(t, cfg, "redis.tls.cert_file / redis.tls.key_file")
}

// A CA file without a certificate, and a certificate that does not match its
// key, are configuration problems found before any connection.
func TestUnusableTLSFilesAreConfigurationErrors(t *testing.T) {
	files := redistest.NewTLSFiles(t)
	other := redistest.NewTLSFiles(t)
	garbage := filepath.Join(t.TempDir(), "garbage.pem")
	if err := os.WriteFile(garbage, []byte("not a certificate"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		set  func(*redis.TLSConfig)
		key  string
	}{
		{"CA without a certificate", func(c *redis.TLSConfig) { c.CAFile = garbage }, "tls.ca_file"},
		{"certificate that is no certificate", func(c *redis.TLSConfig) { c.CertFile, c.KeyFile = garbage, files.ClientKeyFile }, "tls.cert_file"},
		{"key of another certificate", func(c *redis.TLSConfig) { c.CertFile, c.KeyFile = files.ClientCertFile, other.ClientKeyFile }, "tls.cert_file"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := redis.DefaultConfig()
			cfg.TLS.Enabled = true
			tc.set(&cfg.TLS)
			err := cfg.Validate(config.Development)
			var fe *config.FieldError
			if !errors.As(err, &fe) || fe.Key != tc.key {
				t.Fatalf("want a problem with %s, got %v", tc.key, err)
			}
			if _, err := redis.NewManager(cfg, nil); err == nil {
				t.Error("NewManager accepted the files")
			}
		})
	}
}

// After a successful start, a password changed on the server is reported as
// refused (health reason and setting, log event redis.refused), not as
// unreachable; once the password is right again the manager is ready.
func TestPasswordRotatedWhileRunningIsReportedAsRefused(t *testing.T) {
	redistest.RequireReal(t)
	srv := redistest.Start(t, redistest.WithPassword("old-pw"))
	cfg := fastConfig(srv.Addr())
	cfg.Password = "old-pw"
	m, logs := newManager(t, cfg)
	if err := m.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	admin := srv.Client(t)
	ctx := context.Background()
	if err := admin.ConfigSet(ctx, "requirepass", "new-pw").Err(); err != nil {
		t.Fatal(err)
	}
	// Existing connections stay authenticated; drop them so that the manager
	// must authenticate again.
	if err := admin.Do(ctx, "CLIENT", "KILL", "TYPE", "normal", "SKIPME", "yes").Err(); err != nil {
		t.Fatal(err)
	}
	eventually(t, "degraded after the rotation", 5*time.Second, func() bool { return m.State() == redis.StateDegraded })
	h := m.HealthCheck(ctx)
	if h.Reason != redis.CondRefused || h.Setting != "redis.password" || !strings.Contains(h.Message, "refuses") || strings.Contains(h.Message, "unreachable") {
		t.Errorf("health: %+v", h)
	}
	var ue *redis.UnavailableError
	if !errors.As(m.Err(), &ue) || ue.Condition != redis.CondRefused {
		t.Errorf("Err: %v", m.Err())
	}
	if n := len(logs.FilterMessage("redis.refused").All()); n != 1 {
		t.Errorf("%d redis.refused events: %v", n, logs.All())
	}
	if len(logs.FilterMessage("redis.degraded").All()) != 0 {
		t.Error("reported as degraded (unreachable) too")
	}
	for _, e := range logs.All() {
		if strings.Contains(e.Message+strings.Join(fieldStrings(e), " "), "old-pw") {
			t.Errorf("password in the log: %v", e)
		}
	}
	// The configured password becomes right again.
	if err := admin.ConfigSet(ctx, "requirepass", "old-pw").Err(); err != nil {
		t.Fatal(err)
	}
	eventually(t, "ready again", 5*time.Second, m.Available)
}

func TestWrongPasswordOfASentinelMasterFailsStart(t *testing.T) {
	redistest.RequireReal(t)
	s := redistest.StartSentinel(t, "mymaster", redistest.WithPassword("master-pw"))
	cfg := refusedConfig(s.Master)
	cfg.Mode, cfg.Addrs, cfg.MasterName, cfg.Password = redis.ModeSentinel, s.Addrs(), "mymaster", "wrong-master-pw"
	startRefused(t, cfg, "redis.password", "wrong-master-pw", "master-pw")
}

func TestWrongPasswordOfAClusterFailsStart(t *testing.T) {
	redistest.RequireReal(t)
	c := redistest.StartCluster(t, redistest.WithPassword("cluster-pw"))
	cfg := redis.DefaultConfig()
	cfg.Mode, cfg.Addrs, cfg.Password = redis.ModeCluster, c.Addrs(), "wrong-cluster-pw"
	cfg.StartupWait, cfg.SocketTimeout, cfg.SocketConnectTimeout = 3*time.Second, 500*time.Millisecond, 500*time.Millisecond
	// The embedded fallback is for standalone mode only; the other two
	// environments apply.
	startRefused(t, cfg, "redis.password", "wrong-cluster-pw", "cluster-pw")
}

func TestUnknownSentinelMasterNameFailsStart(t *testing.T) {
	redistest.RequireReal(t)
	s := redistest.StartSentinel(t, "mymaster")
	cfg := refusedConfig(s.Master)
	cfg.Mode, cfg.Addrs, cfg.MasterName = redis.ModeSentinel, s.Addrs(), "no-such-master"
	startRefused(t, cfg, "redis.master_name")
}

// A command that Redis refuses for the credentials or the ACL (a password
// rotated while running, a permission withdrawn) is a condition, answered 503
// by the HTTP adapters, not a logic error answered 500.
func TestRefusedCommandsAreConditions(t *testing.T) {
	redistest.RequireReal(t)
	srv := redistest.Start(t, redistest.WithPassword("pw"))
	ctx := context.Background()
	noAuth := goredis.NewClient(&goredis.Options{Addr: srv.Addr(), MaxRetries: -1})
	defer noAuth.Close()
	wrong := goredis.NewClient(&goredis.Options{Addr: srv.Addr(), Password: "wrong", MaxRetries: -1})
	defer wrong.Close()
	admin := srv.Client(t)
	if err := admin.Do(ctx, "ACL", "SETUSER", "reader", "on", ">rpw", "~*", "+get").Err(); err != nil {
		t.Fatal(err)
	}
	reader := goredis.NewClient(&goredis.Options{Addr: srv.Addr(), Username: "reader", Password: "rpw", MaxRetries: -1})
	defer reader.Close()
	for name, err := range map[string]error{
		"NOAUTH":             noAuth.Get(ctx, "k").Err(),
		"WRONGPASS":          wrong.Get(ctx, "k").Err(),
		"NOPERM":             reader.Set(ctx, "k", "v", 0).Err(),
		"NOPERM in a script": reader.Eval(ctx, "return 1", nil).Err(),
	} {
		if err == nil {
			t.Errorf("%s: no error", name)
			continue
		}
		cond, ok := redis.Condition(err)
		if !ok || cond != redis.CondRefused || !errors.Is(redis.Classify(err), redis.ErrUnavailable) {
			t.Errorf("%s (%v): condition %q %v", name, err, cond, ok)
		}
		if d := redis.Describe(err); !strings.Contains(d, "refuses") || strings.Contains(d, "pw") {
			t.Errorf("%s: %q", name, d)
		}
	}
}

// TLS on against a plain-text port (a TLS handshake there waits for an answer
// Redis never sends), and TLS off against a TLS port (Redis drops the plain
// connection), looked "unreachable" and fell back to the embedded server in
// development: they are configuration errors naming the setting.
func TestTLSModeMismatchFailsStart(t *testing.T) {
	redistest.RequireReal(t)
	t.Run("TLS on, plain server", func(t *testing.T) {
		srv := redistest.Start(t, redistest.WithPassword("Sec-Pw"))
		cfg := mismatchConfig(srv)
		cfg.Password = "Sec-Pw"
		cfg.TLS.Enabled, cfg.TLS.InsecureSkipVerify = true, true
		startRefused(t, cfg, "redis.tls.enabled", "Sec-Pw")
		cfg = mismatchConfig(srv)
		cfg.URL = "rediss://:Sec-Pw@" + srv.Addr() + "/0"
		startRefused(t, cfg, "redis.url (rediss://)", "Sec-Pw")
	})
	t.Run("TLS off, TLS server", func(t *testing.T) {
		srv, _ := tlsServer(t, false)
		startRefused(t, mismatchConfig(srv), "redis.tls.enabled")
		cfg := mismatchConfig(srv)
		cfg.URL = "redis://" + srv.Addr() + "/0"
		startRefused(t, cfg, "redis.url (redis:// where rediss:// is needed)")
	})
	t.Run("TLS off, TLS server demanding a client certificate", func(t *testing.T) {
		srv, _ := tlsServer(t, true)
		startRefused(t, mismatchConfig(srv), "redis.tls.enabled")
	})
}

// mismatchConfig is refusedConfig with a short start-up wait: a mismatch is
// only diagnosed once the attempts have failed.
func mismatchConfig(srv *redistest.Server) redis.Config {
	c := refusedConfig(srv)
	c.StartupWait = 300 * time.Millisecond
	return c
}

// The sentinels' own password (redis.sentinel_password), missing or wrong,
// was reported as redis.password, sending the operator to the wrong setting.
func TestWrongSentinelPasswordNamesIt(t *testing.T) {
	redistest.RequireReal(t)
	s := redistest.StartSentinel(t, "mymaster")
	ctx := context.Background()
	for _, addr := range s.Addrs() {
		c := goredis.NewClient(&goredis.Options{Addr: addr})
		if err := c.Do(ctx, "ACL", "SETUSER", "default", "resetpass", ">sentinel-pw").Err(); err != nil {
			t.Fatal(err)
		}
		_ = c.Close()
		t.Cleanup(func() { // before redistest stops the sentinels
			c := goredis.NewClient(&goredis.Options{Addr: addr, Password: "sentinel-pw"})
			_ = c.Do(ctx, "ACL", "SETUSER", "default", "nopass").Err()
			_ = c.Close()
		})
	}
	for _, pw := range []string{"", "wrong-sentinel-pw"} {
		cfg := refusedConfig(s.Master)
		cfg.Mode, cfg.Addrs, cfg.MasterName, cfg.SentinelPassword = redis.ModeSentinel, s.Addrs(), "mymaster", pw
		startRefused(t, cfg, "redis.sentinel_password", "sentinel-pw")
	}
	cfg := refusedConfig(s.Master)
	cfg.Mode, cfg.Addrs, cfg.MasterName, cfg.SentinelPassword = redis.ModeSentinel, s.Addrs(), "mymaster", "sentinel-pw"
	m, _ := newManager(t, cfg)
	if err := m.Start(ctx); err != nil {
		t.Fatalf("the right sentinel password: %v", err)
	}
}
