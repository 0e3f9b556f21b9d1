package jobs

import (
	"errors"
	"fmt"
	"time"

	"github.com/redifx/redifx/modules/config"
)

// Config is the "jobs" section.
type Config struct {
	// Concurrency is how many jobs this process runs at once.
	Concurrency int `koanf:"concurrency"`
	// Lease is how long a worker owns a job without renewing; a worker that
	// dies loses its jobs to another worker within Lease + SweepInterval.
	Lease time.Duration `koanf:"lease"`
	// SweepInterval is how often expired leases, due retries and expired jobs
	// are handled.
	SweepInterval time.Duration `koanf:"sweep_interval"`
	// ShutdownGrace is how long running jobs get to finish at stop before they
	// are cancelled and put back.
	ShutdownGrace time.Duration `koanf:"shutdown_grace"`
	// Retention is how long finished jobs are kept.
	Retention time.Duration `koanf:"retention"`
	// MaxPendingPerTenant bounds a tenant's pending jobs (429 beyond).
	MaxPendingPerTenant int `koanf:"max_pending_per_tenant"`
	// MaxSchedulesPerTenant bounds a tenant's schedules (429 beyond): each
	// one is stored and looked at by every replica's scheduler.
	MaxSchedulesPerTenant int `koanf:"max_schedules_per_tenant"`
	// RetryBaseDelay and RetryMaxDelay shape the exponential backoff (with
	// jitter) between failed attempts.
	RetryBaseDelay time.Duration `koanf:"retry_base_delay"`
	RetryMaxDelay  time.Duration `koanf:"retry_max_delay"`
	// ProgressInterval throttles stored progress updates.
	ProgressInterval time.Duration `koanf:"progress_interval"`
	// SchedulerInterval is how often each replica looks for due schedules.
	SchedulerInterval time.Duration `koanf:"scheduler_interval"`
	// Workers turns this process's workers and scheduler on (the API works
	// either way).
	Workers bool `koanf:"workers"`
}

// DefaultConfig returns the defaults.
func DefaultConfig() Config {
	return Config{
		Concurrency:           10,
		Lease:                 30 * time.Second,
		SweepInterval:         time.Second,
		ShutdownGrace:         10 * time.Second,
		Retention:             7 * 24 * time.Hour,
		MaxPendingPerTenant:   10000,
		MaxSchedulesPerTenant: 1000,
		RetryBaseDelay:        time.Second,
		RetryMaxDelay:         5 * time.Minute,
		ProgressInterval:      500 * time.Millisecond,
		SchedulerInterval:     250 * time.Millisecond,
		Workers:               true,
	}
}

// Upper bounds of the per-tenant limits.
const (
	maxPendingLimit   = 100_000_000
	maxSchedulesLimit = 100_000
)

// Validate checks every field.
func (c *Config) Validate(config.Environment) error {
	var errs []error
	bad := func(key, format string, args ...any) {
		errs = append(errs, config.Problem(key, fmt.Sprintf(format, args...)))
	}
	if c.Concurrency < 1 || c.Concurrency > 1000 {
		bad("concurrency", "must be between 1 and 1000, got %d", c.Concurrency)
	}
	errs = append(errs, config.Positive(
		config.Setting{Key: "lease", Value: c.Lease},
		config.Setting{Key: "sweep_interval", Value: c.SweepInterval},
		config.Setting{Key: "retention", Value: c.Retention},
		config.Setting{Key: "retry_base_delay", Value: c.RetryBaseDelay},
		config.Setting{Key: "retry_max_delay", Value: c.RetryMaxDelay},
		config.Setting{Key: "progress_interval", Value: c.ProgressInterval},
		config.Setting{Key: "scheduler_interval", Value: c.SchedulerInterval},
	)...)
	if c.Lease > 0 && c.Lease < 500*time.Millisecond {
		bad("lease", "must be at least 500ms, got %s", c.Lease)
	}
	if c.ShutdownGrace < 0 {
		bad("shutdown_grace", "must not be negative, got %s", c.ShutdownGrace)
	}
	if c.MaxPendingPerTenant < 1 || c.MaxPendingPerTenant > maxPendingLimit {
		bad("max_pending_per_tenant", "must be between 1 and %d, got %d", maxPendingLimit, c.MaxPendingPerTenant)
	}
	if c.MaxSchedulesPerTenant < 1 || c.MaxSchedulesPerTenant > maxSchedulesLimit {
		bad("max_schedules_per_tenant", "must be between 1 and %d, got %d", maxSchedulesLimit, c.MaxSchedulesPerTenant)
	}
	// Durations go into millisecond arithmetic in Redis (exact only below
	// 2^53) and into the process's stop budget: bound them where a larger
	// value has no use.
	for _, d := range []struct {
		key string
		v   time.Duration
		max time.Duration
	}{
		{"lease", c.Lease, 24 * time.Hour},
		{"sweep_interval", c.SweepInterval, time.Hour},
		{"shutdown_grace", c.ShutdownGrace, time.Hour},
		{"retention", c.Retention, 10 * 365 * 24 * time.Hour},
		{"retry_base_delay", c.RetryBaseDelay, 30 * 24 * time.Hour},
		{"retry_max_delay", c.RetryMaxDelay, 30 * 24 * time.Hour},
		{"progress_interval", c.ProgressInterval, time.Hour},
		{"scheduler_interval", c.SchedulerInterval, time.Hour},
	} {
		if d.v > d.max {
			bad(d.key, "must be at most %s, got %s", d.max, d.v)
		}
	}
	return errors.Join(errs...)
}
