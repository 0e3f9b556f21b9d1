// Package app composes redifx's modules into the binary's Fx application. It is
// the one place that knows every module; main.go parses the command line and
// calls it.
package app

import (
	"fmt"
	"math"
	"net"
	"time"

	"github.com/redifx/redifx/modules/auth"
	"github.com/redifx/redifx/modules/config"
	"github.com/redifx/redifx/modules/httpserver"
	"github.com/redifx/redifx/modules/jobs"
	"github.com/redifx/redifx/modules/logging"
	"github.com/redifx/redifx/modules/metrics"
	"github.com/redifx/redifx/modules/realtime"
	"github.com/redifx/redifx/modules/redis"
	"go.uber.org/fx"
	"go.uber.org/zap"
)

// Config is the application's configuration: one section per module.
type Config struct {
	Environment config.Environment `koanf:"environment"`
	Log         logging.Config     `koanf:"log"`
	Redis       redis.Config       `koanf:"redis"`
	HTTP        httpserver.Config  `koanf:"http"`
	Auth        auth.Config        `koanf:"auth"`
	Realtime    realtime.Config    `koanf:"realtime"`
	Jobs        jobs.Config        `koanf:"jobs"`
	Metrics     metrics.Config     `koanf:"metrics"`
}

// DefaultConfig returns every module's defaults.
func DefaultConfig() Config {
	return Config{
		Environment: config.Development,
		Log:         logging.DefaultConfig(),
		Redis:       redis.DefaultConfig(),
		HTTP:        httpserver.DefaultConfig(),
		Auth:        auth.DefaultConfig(),
		Realtime:    realtime.DefaultConfig(),
		Jobs:        jobs.DefaultConfig(),
		Metrics:     metrics.DefaultConfig(),
	}
}

// Validate checks what spans sections: metrics.addr must not be the port
// http.addr listens on (start-up would fail with the HTTP server's "address
// already in use", naming neither key).
func (c *Config) Validate(config.Environment) error {
	if c.Metrics.Addr != "" && sameListener(c.Metrics.Addr, c.HTTP.Addr) {
		return config.Problem("metrics.addr", fmt.Sprintf("must differ from http.addr (%s): both would listen on one port, got %q", c.HTTP.Addr, c.Metrics.Addr))
	}
	return nil
}

// sameListener reports whether two listen addresses would take the same port:
// equal non-zero ports and hosts that are equal or one of them every interface.
func sameListener(a, b string) bool {
	ha, pa, errA := net.SplitHostPort(a)
	hb, pb, errB := net.SplitHostPort(b)
	if errA != nil || errB != nil || pa != pb || pa == "0" {
		return false
	}
	any := func(h string) bool { ip := net.ParseIP(h); return h == "" || ip != nil && ip.IsUnspecified() }
	return ha == hb || any(ha) || any(hb)
}

// LoopbackAddr is http.addr's default in development while tokens are checked
// against the public development secret (auth.jwt_secret and the other keys
// unset): anyone who can reach the port can mint an admin token, so by default
// only this machine can.
const LoopbackAddr = "127.0.0.1:8080"

// Load reads the configuration from the defaults, file and environment.
//
// In development with the public development secret, http.addr defaults to
// LoopbackAddr instead of ":8080"; an http.addr given in the file or the
// environment wins (and warnDevelopment warns when it reaches beyond this
// machine).
func Load(file string, environ []string) (Config, error) {
	cfg := DefaultConfig()
	sources := map[string]string{}
	err := config.Load(&cfg, config.Options{File: file, Environ: environ, Sources: sources})
	if _, set := sources["http.addr"]; !set && cfg.Environment == config.Development && !cfg.Auth.HasKey() {
		cfg.HTTP.Addr = LoopbackAddr
	}
	return cfg, err
}

// exposedWithDevelopmentSecret reports whether the server accepts tokens
// signed with the public development secret on an address other machines can
// reach.
func (c *Config) exposedWithDevelopmentSecret() bool {
	if c.Environment != config.Development || c.Auth.HasKey() {
		return false
	}
	host, _, err := net.SplitHostPort(c.HTTP.Addr)
	if err != nil {
		return true
	}
	if host == "localhost" {
		return false
	}
	ip := net.ParseIP(host)
	return ip == nil || !ip.IsLoopback()
}

// margin covers the work around the configured budgets (building clients,
// closing pools, logging) so that a budget that is used up still fits.
const margin = 5 * time.Second

// StartTimeout is Fx's start timeout: long enough for Redis start-up retries
// (startup_wait plus one attempt's dial and read timeouts) and the embedded
// fallback.
func (c Config) StartTimeout() time.Duration {
	return sum(c.Redis.StartupWait, c.Redis.SocketConnectTimeout, c.Redis.SocketTimeout, margin)
}

// StopTimeout is Fx's stop timeout: the HTTP drain (drain delay plus shutdown
// timeout) and every later module's grace (the jobs shutdown grace), so a drain
// always completes and Redis is still closed last.
func (c Config) StopTimeout() time.Duration {
	return sum(c.HTTP.StopBudget(), c.Jobs.StopBudget(), margin)
}

// sum adds durations, saturating at the largest one instead of wrapping to a
// negative (an immediate timeout) when settings are huge.
func sum(ds ...time.Duration) time.Duration {
	var t time.Duration
	for _, d := range ds {
		if d > 0 && t > math.MaxInt64-d {
			return math.MaxInt64
		}
		t += d
	}
	return t
}

// Options is the whole application, for fx.New. version is shown by /health.
func Options(cfg *Config, version string) fx.Option {
	return fx.Options(
		config.Supply(cfg),
		fx.Supply(httpserver.Version(version)),
		fx.StartTimeout(cfg.StartTimeout()),
		fx.StopTimeout(cfg.StopTimeout()),
		logging.Module,
		logging.FxEventLogger,
		fx.Invoke(warnDevelopment, redis.SetLibraryLogger),
		redis.Module,
		auth.Module,
		realtime.Module,
		fx.Provide(func(p realtime.Publisher) jobs.EventPublisher { return p }),
		jobs.Module,
		jobs.AsHandler("noop", jobs.NoopHandler, jobs.WithValidator(jobs.NoParameters)),
		jobs.AsHandler("sleep", jobs.SleepHandler, jobs.WithValidator(jobs.ValidateSleepParams)),
		metrics.Module,
		dashboard,
		httpserver.Module,
	)
}

// warnDevelopment logs one loud line when the app runs with development
// defaults, which are unsafe anywhere else.
func warnDevelopment(log *zap.Logger, cfg *Config) {
	if cfg.Environment != config.Development {
		return
	}
	var defaults []string
	if cfg.Redis.EmbeddedFallback {
		defaults = append(defaults, "redis.embedded_fallback (in-memory Redis when none is reachable)")
	}
	if !cfg.Auth.HasKey() {
		defaults = append(defaults, "auth: the public development token secret (redifx token mints tokens for it)")
		if cfg.HTTP.Addr == LoopbackAddr {
			defaults = append(defaults, "http.addr="+LoopbackAddr+" (this machine only, because of the development secret; set http.addr to listen elsewhere)")
		}
	}
	if !cfg.Redis.Required {
		defaults = append(defaults, "redis.required=false (starts without Redis)")
	}
	log.Warn("!!! RUNNING WITH DEVELOPMENT DEFAULTS — set ENVIRONMENT=production for a real deployment !!!",
		zap.String("environment", string(cfg.Environment)),
		zap.Strings("development_defaults", defaults))
	if cfg.exposedWithDevelopmentSecret() {
		log.Warn("!!! http.addr is reachable from other machines while tokens are checked against the public development secret: anyone who can reach it can mint an admin token; set auth.jwt_secret, or listen on "+LoopbackAddr+" !!!",
			zap.String("http_addr", cfg.HTTP.Addr))
	}
}
