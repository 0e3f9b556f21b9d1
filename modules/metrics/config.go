package metrics

import (
	"errors"
	"fmt"
	"time"

	"github.com/redifx/redifx/modules/config"
	"github.com/redifx/redifx/modules/httpserver"
)

// Config is the "metrics" section.
type Config struct {
	// Addr, when set, serves /metrics on its own listener (to keep it off the
	// public load balancer); empty serves it on the main listener.
	Addr string `koanf:"addr"`
	// CacheTTL is how long a tenant's dashboard is cached in Redis.
	CacheTTL time.Duration `koanf:"cache_ttl"`
	// LocalCacheTTL keeps a dashboard read from Redis in this process this
	// long, sparing Redis a read per request; 0 turns it off. Another
	// replica's invalidation reaches this one within this time.
	LocalCacheTTL time.Duration `koanf:"local_cache_ttl"`
	// LockTTL bounds the cross-replica lock that lets one replica compute a
	// cold dashboard while the others wait for its result.
	LockTTL time.Duration `koanf:"lock_ttl"`
	// SourceTimeout bounds each KPI source.
	SourceTimeout time.Duration `koanf:"source_timeout"`
}

// DefaultConfig returns the defaults.
func DefaultConfig() Config {
	return Config{CacheTTL: 300 * time.Second, LocalCacheTTL: time.Second, LockTTL: 5 * time.Second, SourceTimeout: 5 * time.Second}
}

// Validate checks every field.
func (c *Config) Validate(config.Environment) error {
	var errs []error
	if c.Addr != "" {
		if !httpserver.ValidListenAddr(c.Addr) {
			errs = append(errs, config.Problem("addr", fmt.Sprintf("must be host:port or :port with a port between 0 and 65535, got %q", c.Addr)))
		}
	}
	if c.LocalCacheTTL < 0 || c.LocalCacheTTL > c.CacheTTL {
		errs = append(errs, config.Problem("local_cache_ttl", fmt.Sprintf("must be between 0 and cache_ttl (%s), got %s", c.CacheTTL, c.LocalCacheTTL)))
	}
	errs = append(errs, config.Positive(
		config.Setting{Key: "cache_ttl", Value: c.CacheTTL},
		config.Setting{Key: "lock_ttl", Value: c.LockTTL},
		config.Setting{Key: "source_timeout", Value: c.SourceTimeout},
	)...)
	errs = append(errs, config.AtMost(24*time.Hour,
		config.Setting{Key: "cache_ttl", Value: c.CacheTTL},
		config.Setting{Key: "lock_ttl", Value: c.LockTTL},
		config.Setting{Key: "source_timeout", Value: c.SourceTimeout},
	)...)
	return errors.Join(errs...)
}
