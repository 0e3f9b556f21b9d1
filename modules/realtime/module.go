package realtime

import (
	"github.com/prometheus/client_golang/prometheus"
	"github.com/redifx/redifx/modules/httpserver"
	"github.com/redifx/redifx/modules/redis"
	"go.uber.org/fx"
	"go.uber.org/zap"
)

// ModuleName is the name of this module in Fx's logs.
const ModuleName = "realtime"

// Module provides the *Hub (one Redis subscription per process), the Publisher,
// the /api/v1/realtime routes and the realtime metrics collector. It needs
// Config, *redis.Manager, *auth.Authenticator, *httpserver.Drain and a logger.
var Module = fx.Module(ModuleName,
	fx.Provide(
		NewModuleHub,
		func(h *Hub) Publisher { return h },
		httpserver.AsRoute(NewHandlers),
		fx.Annotate(NewCollector, fx.As(new(prometheus.Collector)), fx.ResultTags(`group:"`+redis.CollectorGroup+`"`)),
	),
)

// Params are NewModuleHub's dependencies.
type Params struct {
	fx.In

	Config  Config
	Manager *redis.Manager
	Log     *zap.Logger
	Lc      fx.Lifecycle
}

// NewModuleHub builds the Hub and ties its subscription to the lifecycle: it
// starts after Redis and stops before it.
func NewModuleHub(p Params) *Hub {
	h := NewHub(p.Config, p.Manager, p.Log)
	p.Lc.Append(fx.Hook{OnStart: h.Start, OnStop: h.Stop})
	return h
}
