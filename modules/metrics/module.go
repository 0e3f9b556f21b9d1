package metrics

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/redifx/redifx/modules/httpserver"
	"github.com/redifx/redifx/modules/redis"
	"go.uber.org/fx"
	"go.uber.org/zap"
)

// ModuleName is the name of this module in Fx's logs.
const ModuleName = "metrics"

// SourcesGroup is the value group of dashboard sources.
const SourcesGroup = "metrics.sources"

// Module provides the application's own Prometheus registry (Go and process
// collectors, HTTP series, the Redis command hook, and every collector of the
// redis.CollectorGroup value group), serves it at /metrics (or on Config.Addr),
// and serves the KPI dashboard built from the AsSource group.
var Module = fx.Module(ModuleName,
	fx.Provide(
		NewHTTPMetrics,
		NewRedisHook,
		NewRegistry,
		NewModuleDashboard,
		httpserver.AsRoute(NewHandlers),
		httpserver.AsMiddleware(func(m *HTTPMetrics) httpserver.Middleware { return m.Middleware() }),
	),
	fx.Invoke(installRedisHook, serveSeparately),
)

// AsSource adds a dashboard section computed by fn.
func AsSource(name string, fn func(ctx context.Context, tenant string) (any, error)) fx.Option {
	return fx.Supply(fx.Annotated{Group: SourcesGroup, Target: Source{Name: name, Compute: fn}})
}

// AsSourceProvider adds a dashboard section from a constructor returning a
// Source, for sources with dependencies.
func AsSourceProvider(constructor any) any {
	return fx.Annotate(constructor, fx.ResultTags(`group:"`+SourcesGroup+`"`))
}

// RegistryParams are NewRegistry's dependencies.
type RegistryParams struct {
	fx.In

	HTTP       *HTTPMetrics
	Hook       *RedisHook
	Collectors []prometheus.Collector `group:"prometheus.collectors"`
}

// NewRegistry builds the app's registry (never the global default).
func NewRegistry(p RegistryParams) (*prometheus.Registry, error) {
	reg := prometheus.NewRegistry()
	all := append([]prometheus.Collector{
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		p.HTTP, p.Hook,
	}, p.Collectors...)
	for _, c := range all {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("metrics: registering %T: %w", c, err)
		}
	}
	return reg, nil
}

// DashboardParams are NewModuleDashboard's dependencies.
type DashboardParams struct {
	fx.In

	Config  Config
	Manager *redis.Manager
	Log     *zap.Logger
	Sources []Source `group:"metrics.sources"`
}

// NewModuleDashboard builds the dashboard over the registered sources.
func NewModuleDashboard(p DashboardParams) *Dashboard {
	return NewDashboard(p.Config, p.Manager, p.Sources, p.Log)
}

func installRedisHook(m *redis.Manager, h *RedisHook) { m.AddHook(h) }

// serveSeparately runs /metrics on Config.Addr when set: listen in OnStart
// (a taken port fails start-up), serve in a goroutine, shut down in OnStop.
func serveSeparately(lc fx.Lifecycle, cfg Config, reg *prometheus.Registry, log *zap.Logger, sd fx.Shutdowner) {
	if cfg.Addr == "" {
		return
	}
	mux := http.NewServeMux()
	mux.Handle("/metrics", Handler(reg))
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	done := make(chan struct{})
	lc.Append(fx.Hook{
		OnStart: func(context.Context) error {
			ln, err := net.Listen("tcp", cfg.Addr)
			if err != nil {
				return fmt.Errorf("metrics: cannot listen on %s: %w", cfg.Addr, err)
			}
			log.Info("metrics.listening", zap.String("addr", ln.Addr().String()))
			go func() {
				defer close(done)
				if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
					log.Error("metrics.serve.failed", zap.Error(err))
					_ = sd.Shutdown(fx.ExitCode(1))
				}
			}()
			return nil
		},
		OnStop: func(ctx context.Context) error {
			err := srv.Shutdown(ctx)
			<-done
			return err
		},
	})
}
