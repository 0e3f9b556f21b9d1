package httpserver

import (
	"errors"
	"fmt"
	"math"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/redifx/redifx/modules/config"
)

// Config is the "http" section.
type Config struct {
	// Addr is the listen address, such as ":8080".
	Addr string `koanf:"addr"`
	// ReadHeaderTimeout bounds reading a request's headers.
	ReadHeaderTimeout time.Duration `koanf:"read_header_timeout"`
	// ReadTimeout bounds reading a request's body, counted from the end of its
	// headers: a body that has not fully arrived by then is answered 408 (or
	// its connection closed). Requests without a body, such as event streams,
	// are not limited.
	ReadTimeout time.Duration `koanf:"read_timeout"`
	// IdleTimeout closes keep-alive connections idle this long.
	IdleTimeout time.Duration `koanf:"idle_timeout"`
	// ShutdownTimeout bounds draining in-flight requests at stop.
	ShutdownTimeout time.Duration `koanf:"shutdown_timeout"`
	// DrainDelay is how long readiness reports 503 before the listener closes,
	// so that load balancers stop routing first; 0 in development, 5s in
	// production.
	DrainDelay time.Duration `koanf:"drain_delay"`
	// MaxBodyBytes is the largest request body accepted (413 beyond).
	MaxBodyBytes int64 `koanf:"max_body_bytes"`
	// HealthCheckTimeout bounds each health check of /health/ready.
	HealthCheckTimeout time.Duration `koanf:"health_check_timeout"`
	// TrustedProxies are the addresses or CIDRs of proxies whose
	// X-Forwarded-For names the client; empty trusts none.
	TrustedProxies []string `koanf:"trusted_proxies"`
}

// DefaultConfig returns the defaults outside production.
func DefaultConfig() Config {
	return Config{
		Addr:               ":8080",
		ReadHeaderTimeout:  10 * time.Second,
		ReadTimeout:        30 * time.Second,
		IdleTimeout:        120 * time.Second,
		ShutdownTimeout:    15 * time.Second,
		MaxBodyBytes:       1 << 20,
		HealthCheckTimeout: 2 * time.Second,
	}
}

// EnvironmentDefaults sets a 5s drain delay in production.
func (c *Config) EnvironmentDefaults(env config.Environment) map[string]any {
	if env.IsProduction() {
		return map[string]any{"drain_delay": "5s"}
	}
	return map[string]any{"drain_delay": "0s"}
}

// Validate checks every field.
func (c *Config) Validate(config.Environment) error {
	var errs []error
	if !ValidListenAddr(c.Addr) {
		errs = append(errs, config.Problem("addr", fmt.Sprintf("must be host:port or :port with a port between 0 and 65535, got %q", c.Addr)))
	}
	errs = append(errs, config.Positive(
		config.Setting{Key: "read_header_timeout", Value: c.ReadHeaderTimeout},
		config.Setting{Key: "read_timeout", Value: c.ReadTimeout},
		config.Setting{Key: "idle_timeout", Value: c.IdleTimeout},
		config.Setting{Key: "shutdown_timeout", Value: c.ShutdownTimeout},
		config.Setting{Key: "health_check_timeout", Value: c.HealthCheckTimeout},
	)...)
	if c.DrainDelay < 0 {
		errs = append(errs, config.Problem("drain_delay", fmt.Sprintf("must not be negative, got %s", c.DrainDelay)))
	}
	errs = append(errs, config.AtMost(24*time.Hour,
		config.Setting{Key: "read_header_timeout", Value: c.ReadHeaderTimeout},
		config.Setting{Key: "read_timeout", Value: c.ReadTimeout},
		config.Setting{Key: "idle_timeout", Value: c.IdleTimeout},
	)...)
	errs = append(errs, config.AtMost(time.Hour,
		config.Setting{Key: "shutdown_timeout", Value: c.ShutdownTimeout},
		config.Setting{Key: "drain_delay", Value: c.DrainDelay},
		config.Setting{Key: "health_check_timeout", Value: c.HealthCheckTimeout},
	)...)
	for _, p := range c.TrustedProxies {
		if net.ParseIP(p) == nil {
			if _, _, err := net.ParseCIDR(p); err != nil {
				errs = append(errs, config.Problem("trusted_proxies", fmt.Sprintf("%q is not an IP address or CIDR", p)))
			}
		}
	}
	if c.MaxBodyBytes < 1 || c.MaxBodyBytes > MaxBodyBytesLimit {
		errs = append(errs, config.Problem("max_body_bytes", fmt.Sprintf("must be between 1 and %d (1 GiB), got %d", int64(MaxBodyBytesLimit), c.MaxBodyBytes)))
	}
	return errors.Join(errs...)
}

// MaxBodyBytesLimit is the largest http.max_body_bytes accepted: request
// bodies are read into memory, so a limit near 2^63 would be none at all.
const MaxBodyBytesLimit = 1 << 30

// ValidListenAddr reports whether a is [host]:port with a numeric port (0 picks
// a free one) and a host without blanks: an address net.Listen can take.
func ValidListenAddr(a string) bool {
	host, port, err := net.SplitHostPort(a)
	if err != nil || strings.ContainsAny(host, " \t\r\n,/") {
		return false
	}
	n, err := strconv.Atoi(port)
	return err == nil && n >= 0 && n <= 65535 && port[0] != '+' && port[0] != '-'
}

// StopBudget is the longest the server's stop can take: drain delay plus
// shutdown timeout. The binary adds it into Fx's stop timeout.
func (c Config) StopBudget() time.Duration {
	if c.DrainDelay > math.MaxInt64-c.ShutdownTimeout {
		return math.MaxInt64 // saturate rather than wrap to a negative
	}
	return c.DrainDelay + c.ShutdownTimeout
}
