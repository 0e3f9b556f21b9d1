package redis

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"math"
	"net"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/redifx/redifx/modules/config"
)

// Modes a Config may name.
const (
	ModeStandalone = "standalone"
	ModeSentinel   = "sentinel"
	ModeCluster    = "cluster"
)

// Config is the "redis" section. Its key names follow the service redifx
// replaces, so existing env files (REDIS__HOST, REDIS__MAX_CONNECTIONS …) work.
type Config struct {
	// URL is a redis:// or rediss:// URL; when set it wins over Host, Port,
	// Username, Password and DB (standalone mode).
	URL string `koanf:"url" secret:"url"`
	// Host and Port address a standalone server.
	Host string `koanf:"host"`
	Port int    `koanf:"port"`
	// Username is the ACL user (Redis 6+); empty means the default user.
	Username string `koanf:"username"`
	// Password authenticates the user; never logged.
	Password string `koanf:"password" secret:"true"`
	// DB is the database of the main client.
	DB int `koanf:"db"`
	// MaxConnections is the pool size of each client.
	MaxConnections int `koanf:"max_connections"`
	// MinIdleConnections are kept open in each pool.
	MinIdleConnections int `koanf:"min_idle_connections"`
	// SocketTimeout bounds each read and write.
	SocketTimeout time.Duration `koanf:"socket_timeout"`
	// SocketConnectTimeout bounds each dial.
	SocketConnectTimeout time.Duration `koanf:"socket_connect_timeout"`
	// CacheDB, SessionDB and PubSubDB are the databases of the named clients
	// "cache", "session" and "pubsub" (ignored in cluster mode, which has only DB 0).
	CacheDB   int `koanf:"cache_db"`
	SessionDB int `koanf:"session_db"`
	PubSubDB  int `koanf:"pubsub_db"`
	// DecodeResponses is accepted so that env files of the Python service still
	// load. It has no effect: go-redis returns typed values (string, []byte …)
	// chosen by the caller, so there is nothing to decode.
	DecodeResponses bool `koanf:"decode_responses"`
	// Mode is standalone, sentinel or cluster.
	Mode string `koanf:"mode"`
	// Addrs lists the sentinels (sentinel mode) or seed nodes (cluster mode).
	Addrs []string `koanf:"addrs"`
	// MasterName is the master's name at the sentinels.
	MasterName string `koanf:"master_name"`
	// SentinelPassword authenticates to the sentinels themselves.
	SentinelPassword string `koanf:"sentinel_password" secret:"true"`
	// TLS configures encrypted connections.
	TLS TLSConfig `koanf:"tls"`
	// KeyPrefix starts every key that redifx modules write.
	KeyPrefix string `koanf:"key_prefix"`
	// Required makes an unreachable Redis fail start-up and readiness; default
	// true in production, false elsewhere.
	Required bool `koanf:"required"`
	// EmbeddedFallback starts an in-memory Redis-compatible server when Redis is
	// unreachable at start (standalone mode only); default true in development
	// only, and not allowed in production.
	EmbeddedFallback bool `koanf:"embedded_fallback"`
	// StartupWait is how long start-up keeps retrying a Redis that is not
	// required before it degrades (or falls back to the embedded server).
	StartupWait time.Duration `koanf:"startup_wait"`
	// HealthInterval is how often the manager probes Redis while it is ready.
	HealthInterval time.Duration `koanf:"health_interval"`
	// ReconnectInterval is how often the manager retries while degraded.
	ReconnectInterval time.Duration `koanf:"reconnect_interval"`
}

// TLSConfig is the "redis.tls" section.
type TLSConfig struct {
	// Enabled turns TLS on (also implied by a rediss:// URL).
	Enabled bool `koanf:"enabled"`
	// CAFile is a PEM bundle of CAs to trust instead of the system pool.
	CAFile string `koanf:"ca_file"`
	// CertFile and KeyFile are a client certificate for mutual TLS.
	CertFile string `koanf:"cert_file"`
	KeyFile  string `koanf:"key_file"`
	// InsecureSkipVerify disables server certificate checks (tests only).
	InsecureSkipVerify bool `koanf:"insecure_skip_verify"`
}

// DefaultConfig returns the defaults shared by every environment.
func DefaultConfig() Config {
	return Config{
		Host:                 "localhost",
		Port:                 6379,
		MaxConnections:       50,
		SocketTimeout:        5 * time.Second,
		SocketConnectTimeout: 5 * time.Second,
		CacheDB:              1,
		SessionDB:            2,
		PubSubDB:             3,
		DecodeResponses:      true,
		Mode:                 ModeStandalone,
		KeyPrefix:            "redifx:",
		StartupWait:          2 * time.Second,
		HealthInterval:       time.Second,
		ReconnectInterval:    time.Second,
	}
}

// EnvironmentDefaults makes Redis required in production and enables the
// embedded fallback in development only.
func (c *Config) EnvironmentDefaults(env config.Environment) map[string]any {
	return map[string]any{
		"required":          env.IsProduction(),
		"embedded_fallback": env == config.Development,
	}
}

// Validate checks every field and the production rules, listing every problem.
func (c *Config) Validate(env config.Environment) error {
	var errs []error
	bad := func(key, format string, args ...any) {
		errs = append(errs, config.Problem(key, fmt.Sprintf(format, args...)))
	}
	if c.URL != "" {
		if _, err := c.parseURL(); err != nil {
			bad("url", "%v", err)
		}
	}
	if c.URL == "" && c.Mode == ModeStandalone && (strings.TrimSpace(c.Host) == "" || strings.ContainsAny(c.Host, " \t\r\n,/")) {
		bad("host", "must be a host name or IP address, got %q", c.Host)
	}
	if c.Port < 1 || c.Port > 65535 {
		bad("port", "must be between 1 and 65535, got %d", c.Port)
	}
	for key, db := range map[string]int{"db": c.DB, "cache_db": c.CacheDB, "session_db": c.SessionDB, "pubsub_db": c.PubSubDB} {
		if db < 0 || db > math.MaxInt32 {
			bad(key, "must be between 0 and %d (Redis's largest database index), got %d", math.MaxInt32, db)
		}
	}
	if c.MaxConnections < 1 || c.MaxConnections > MaxConnectionsLimit {
		bad("max_connections", "must be between 1 and %d, got %d", MaxConnectionsLimit, c.MaxConnections)
	}
	if c.MinIdleConnections < 0 || c.MinIdleConnections > c.MaxConnections {
		bad("min_idle_connections", "must be between 0 and max_connections (%d), got %d", c.MaxConnections, c.MinIdleConnections)
	}
	errs = append(errs, config.Positive(
		config.Setting{Key: "socket_timeout", Value: c.SocketTimeout},
		config.Setting{Key: "socket_connect_timeout", Value: c.SocketConnectTimeout},
		config.Setting{Key: "health_interval", Value: c.HealthInterval},
		config.Setting{Key: "reconnect_interval", Value: c.ReconnectInterval},
	)...)
	if c.StartupWait < 0 {
		bad("startup_wait", "must not be negative, got %s", c.StartupWait)
	}
	errs = append(errs, config.AtMost(time.Hour,
		config.Setting{Key: "socket_timeout", Value: c.SocketTimeout},
		config.Setting{Key: "socket_connect_timeout", Value: c.SocketConnectTimeout},
		config.Setting{Key: "health_interval", Value: c.HealthInterval},
		config.Setting{Key: "reconnect_interval", Value: c.ReconnectInterval},
		config.Setting{Key: "startup_wait", Value: c.StartupWait},
	)...)
	switch c.Mode {
	case ModeStandalone:
	case ModeSentinel:
		if len(c.Addrs) == 0 {
			bad("addrs", "sentinel mode needs the sentinel addresses")
		}
		if c.MasterName == "" {
			bad("master_name", "sentinel mode needs the master's name")
		}
	case ModeCluster:
		if len(c.Addrs) == 0 {
			bad("addrs", "cluster mode needs at least one node address")
		}
		if c.DB != 0 {
			bad("db", "cluster mode has only database 0, got %d", c.DB)
		}
	default:
		bad("mode", "must be standalone, sentinel or cluster, got %q", c.Mode)
	}
	for _, a := range c.Addrs {
		if !validHostPort(a) {
			bad("addrs", "%q is not host:port with a port between 1 and 65535", a)
		}
	}
	if c.TLS.CertFile != "" && c.TLS.KeyFile == "" || c.TLS.CertFile == "" && c.TLS.KeyFile != "" {
		bad("tls", "cert_file and key_file must be set together")
	}
	for key, f := range map[string]string{"tls.ca_file": c.TLS.CAFile, "tls.cert_file": c.TLS.CertFile, "tls.key_file": c.TLS.KeyFile} {
		if f == "" {
			continue
		}
		if _, err := os.Stat(f); err != nil {
			bad(key, "cannot read %s: %v", f, errors.Unwrap(err))
		}
	}
	for key, problem := range c.TLS.check() {
		bad(key, "%s", problem)
	}
	switch {
	case c.KeyPrefix == "":
		bad("key_prefix", "must not be empty: every key is namespaced")
	case strings.ContainsAny(c.KeyPrefix, "{}"):
		// A brace in the prefix changes which part of a key Redis Cluster
		// hashes ("{}" makes it the whole key), scattering the keys one
		// script touches over several slots (CROSSSLOT).
		bad("key_prefix", "must not contain { or }: they would change the keys' hash tags, got %q", c.KeyPrefix)
	case strings.IndexFunc(c.KeyPrefix, func(r rune) bool { return r < 0x20 || r == 0x7f }) >= 0:
		bad("key_prefix", "must not contain control characters, got %q", c.KeyPrefix)
	}
	if env.IsProduction() {
		if c.EmbeddedFallback {
			bad("embedded_fallback", "must be false in production: the embedded server keeps data in memory only")
		}
		if c.URL == "" && c.Mode == ModeStandalone && isLocalHost(c.Host) {
			bad("host", "must name the production Redis server, not %q (or set redis.url, or addrs in sentinel/cluster mode)", c.Host)
		}
		if c.TLS.InsecureSkipVerify {
			bad("tls.insecure_skip_verify", "must be false in production")
		}
		if opt, err := c.parseURL(); c.URL != "" && err == nil && opt.TLSConfig != nil && opt.TLSConfig.InsecureSkipVerify {
			bad("url", "skip_verify must not be set in production: it disables the server certificate check")
		}
	}
	// Stable order for stable messages.
	sortProblems(errs)
	return errors.Join(errs...)
}

// MaxConnectionsLimit is the largest redis.max_connections accepted: far above
// any real pool, far below what the client library refuses (it panics beyond
// 2^31-1).
const MaxConnectionsLimit = 100000

// validHostPort reports whether a is host:port with a non-blank host (or none,
// meaning this machine) and a numeric port between 1 and 65535.
func validHostPort(a string) bool {
	host, port, err := net.SplitHostPort(a)
	if err != nil || strings.ContainsAny(host, " \t\r\n,/") {
		return false
	}
	n, err := strconv.Atoi(port)
	return err == nil && n >= 1 && n <= 65535
}

func isLocalHost(h string) bool {
	switch strings.ToLower(strings.TrimSpace(h)) {
	case "", "localhost", "127.0.0.1", "::1", "[::1]":
		return true
	}
	return false
}

// Addr is the address redifx connects to, for logs and error messages: host:port,
// the URL's host, or the list of sentinels or nodes. It never holds a password.
func (c *Config) Addr() string {
	switch {
	case c.Mode != ModeStandalone:
		return strings.Join(c.Addrs, ",")
	case c.URL != "":
		if u, err := url.Parse(c.URL); err == nil {
			return u.Host
		}
		return "(unparsable redis.url)"
	}
	return net.JoinHostPort(c.Host, strconv.Itoa(c.Port))
}

// check loads the files that exist (a missing one is reported apart) and
// returns a problem per key: a CA file without a PEM certificate, a
// certificate and key that do not load or do not match.
func (t TLSConfig) check() map[string]string {
	problems := map[string]string{}
	if t.CAFile != "" {
		pem, err := os.ReadFile(t.CAFile)
		switch {
		case err != nil && !errors.Is(err, os.ErrNotExist): // a directory, say
			problems["tls.ca_file"] = fmt.Sprintf("cannot read %s: %v", t.CAFile, errors.Unwrap(err))
		case err == nil && !x509.NewCertPool().AppendCertsFromPEM(pem):
			problems["tls.ca_file"] = fmt.Sprintf("%s holds no PEM certificate", t.CAFile)
		}
	}
	if t.CertFile != "" && t.KeyFile != "" {
		_, errCert := os.Stat(t.CertFile)
		_, errKey := os.Stat(t.KeyFile)
		if errCert == nil && errKey == nil {
			if _, err := tls.LoadX509KeyPair(t.CertFile, t.KeyFile); err != nil {
				problems["tls.cert_file"] = fmt.Sprintf("cannot load the certificate %s with the key %s: %v", t.CertFile, t.KeyFile, err)
			}
		}
	}
	return problems
}

// probeTimeout bounds one background probe: at least a second (however short
// health_interval is), at most the time a command may take to connect and
// answer.
func (c *Config) probeTimeout() time.Duration {
	return min(max(c.HealthInterval, time.Second), addDurations(c.SocketTimeout, c.SocketConnectTimeout))
}

// LossDetectionBound is the longest it takes the manager to notice that a
// ready Redis was lost: one health_interval until the next probe plus the
// probe's own time bound (a probe of a vanished server fails at once when the
// connection is refused, and takes up to the bound when packets are dropped).
func (c *Config) LossDetectionBound() time.Duration {
	return addDurations(c.HealthInterval, c.probeTimeout())
}

// addDurations adds two positive durations, saturating at the largest one: a
// sum of huge settings must not wrap to a negative timeout, which would fail
// every probe and command at once.
func addDurations(a, b time.Duration) time.Duration {
	if a > 0 && b > math.MaxInt64-a {
		return math.MaxInt64
	}
	return a + b
}
