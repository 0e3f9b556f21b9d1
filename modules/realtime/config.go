package realtime

import (
	"errors"
	"fmt"
	"time"

	"github.com/redifx/redifx/modules/config"
)

// Config is the "realtime" section.
type Config struct {
	// HistorySize is how many events per tenant and channel are kept for
	// resume (the tenant's stream holds HistorySize × number of channels).
	HistorySize int `koanf:"history_size"`
	// HistoryTTL drops history older than this. An Idempotency-Key of a
	// publish is remembered as long.
	HistoryTTL time.Duration `koanf:"history_ttl"`
	// HistoryMaxBytes is each tenant's history byte budget: the oldest events
	// are dropped, as each publish stores its own, while the history holds
	// more (counting each event's JSON data, channel and event type). Redis
	// needs at most about tenants × HistoryMaxBytes (plus per-entry overhead)
	// for history.
	HistoryMaxBytes int64 `koanf:"history_max_bytes"`
	// MaxEventBytes is the largest event (its JSON, as stored) a publish
	// accepts: 413 event_too_large beyond.
	MaxEventBytes int `koanf:"max_event_bytes"`
	// HeartbeatInterval is the period of the keep-alive comment; keep it under
	// the load balancer's idle timeout. A dead client is reaped within one.
	HeartbeatInterval time.Duration `koanf:"heartbeat_interval"`
	// ClientBuffer is each client's queue of undelivered events; a client whose
	// queue is full is disconnected (it resumes by id).
	ClientBuffer int `koanf:"client_buffer"`
	// MaxClients and MaxClientsPerTenant bound open streams in this process.
	MaxClients          int `koanf:"max_clients"`
	MaxClientsPerTenant int `koanf:"max_clients_per_tenant"`
	// AllowedOrigins may read streams from browsers (CORS); "*" allows any.
	AllowedOrigins []string `koanf:"allowed_origins"`
	// ClientRetry is the reconnect delay suggested to clients (SSE retry:).
	ClientRetry time.Duration `koanf:"client_retry"`
	// WriteTimeout bounds one write to a client.
	WriteTimeout time.Duration `koanf:"write_timeout"`
	// MaxRedisReads bounds concurrent history reads (resumes, catch-ups), so
	// that a reconnect storm does not grow Redis's connection pool.
	MaxRedisReads int `koanf:"max_redis_reads"`
}

// Defaults of the size limits.
const (
	DefaultMaxEventBytes   = 64 << 10
	DefaultHistoryMaxBytes = 16 << 20
	// maxEventBytesLimit bounds max_event_bytes: Redis's proto-max-bulk-len
	// is far above it, but one event should never approach it.
	maxEventBytesLimit = 16 << 20
	// eventOverhead is what an event's channel and type add at most to the
	// bytes the history budget counts.
	eventOverhead = 1 << 10
)

// DefaultConfig returns the defaults.
func DefaultConfig() Config {
	return Config{
		HistorySize:         1000,
		HistoryTTL:          24 * time.Hour,
		HistoryMaxBytes:     DefaultHistoryMaxBytes,
		MaxEventBytes:       DefaultMaxEventBytes,
		HeartbeatInterval:   15 * time.Second,
		ClientBuffer:        256,
		MaxClients:          20000,
		MaxClientsPerTenant: 5000,
		ClientRetry:         3 * time.Second,
		WriteTimeout:        10 * time.Second,
		MaxRedisReads:       1,
	}
}

// Upper bounds of the settings: each value is used as a size (a channel's
// buffer, a stream's length) or in millisecond arithmetic in Redis, and larger
// ones fail at run time (a panic, an overflow) instead of at start.
const (
	maxHistorySize  = 1_000_000
	maxClientBuffer = 100_000
	maxClients      = 10_000_000
	maxDuration     = 10 * 365 * 24 * time.Hour
	maxHistoryBytes = 1 << 40 // 1 TiB: byte counts stay exact in Lua's doubles
)

// Validate checks every field.
func (c *Config) Validate(config.Environment) error {
	var errs []error
	bad := func(key, format string, args ...any) {
		errs = append(errs, config.Problem(key, fmt.Sprintf(format, args...)))
	}
	if c.HistorySize < 1 || c.HistorySize > maxHistorySize {
		bad("history_size", "must be between 1 and %d, got %d", maxHistorySize, c.HistorySize)
	}
	errs = append(errs, config.Positive(
		config.Setting{Key: "history_ttl", Value: c.HistoryTTL},
		config.Setting{Key: "heartbeat_interval", Value: c.HeartbeatInterval},
		config.Setting{Key: "client_retry", Value: c.ClientRetry},
		config.Setting{Key: "write_timeout", Value: c.WriteTimeout},
	)...)
	if c.MaxEventBytes < 64 || c.MaxEventBytes > maxEventBytesLimit {
		bad("max_event_bytes", "must be between 64 and %d, got %d", maxEventBytesLimit, c.MaxEventBytes)
	}
	if c.HistoryMaxBytes < int64(c.MaxEventBytes)+eventOverhead {
		bad("history_max_bytes", "must be at least max_event_bytes + %d (%d), got %d", eventOverhead, int64(c.MaxEventBytes)+eventOverhead, c.HistoryMaxBytes)
	}
	if c.ClientBuffer < 1 || c.ClientBuffer > maxClientBuffer {
		bad("client_buffer", "must be between 1 and %d, got %d", maxClientBuffer, c.ClientBuffer)
	}
	if c.MaxRedisReads < 1 || c.MaxRedisReads > 64 {
		bad("max_redis_reads", "must be between 1 and 64, got %d", c.MaxRedisReads)
	}
	if c.MaxClients < 1 || c.MaxClients > maxClients {
		bad("max_clients", "must be between 1 and %d, got %d", maxClients, c.MaxClients)
	}
	if c.HistoryMaxBytes > maxHistoryBytes {
		bad("history_max_bytes", "must be at most %d, got %d", int64(maxHistoryBytes), c.HistoryMaxBytes)
	}
	errs = append(errs, config.AtMost(maxDuration,
		config.Setting{Key: "history_ttl", Value: c.HistoryTTL},
		config.Setting{Key: "heartbeat_interval", Value: c.HeartbeatInterval},
		config.Setting{Key: "client_retry", Value: c.ClientRetry},
		config.Setting{Key: "write_timeout", Value: c.WriteTimeout},
	)...)
	if c.MaxClientsPerTenant < 1 || c.MaxClientsPerTenant > c.MaxClients {
		bad("max_clients_per_tenant", "must be between 1 and max_clients (%d), got %d", c.MaxClients, c.MaxClientsPerTenant)
	}
	return errors.Join(errs...)
}
