package redis

import (
	"github.com/prometheus/client_golang/prometheus"
	"github.com/redifx/redifx/modules/health"
	goredis "github.com/redis/go-redis/v9"
	"go.uber.org/fx"
	"go.uber.org/zap"
)

// ModuleName is the name of this module in Fx's logs.
const ModuleName = "redis"

// CollectorGroup is the Fx value group of Prometheus collectors that the metrics
// module serves. Any module may add to it; this one adds its PoolCollector.
const CollectorGroup = "prometheus.collectors"

// Module provides the *Manager, the default goredis.UniversalClient, the named
// clients `name:"cache"`, `name:"session"` and `name:"pubsub"`, the "redis"
// health check and the pool collector. It needs a Config and a *zap.Logger.
//
// Since every user of a client depends on this module, Fx starts the manager
// before them and stops it after them.
var Module = fx.Module(ModuleName,
	fx.Provide(
		NewModuleManager,
		health.AsCheck(func(m *Manager) health.Check { return m.Check() }),
		fx.Annotate(NewPoolCollector, fx.As(new(prometheus.Collector)), fx.ResultTags(`group:"`+CollectorGroup+`"`)),
	),
)

// Params are NewModuleManager's dependencies.
type Params struct {
	fx.In

	Config Config
	Log    *zap.Logger
	Lc     fx.Lifecycle
}

// Result is what NewModuleManager provides.
type Result struct {
	fx.Out

	Manager *Manager
	Client  goredis.UniversalClient
	Cache   goredis.UniversalClient `name:"cache"`
	Session goredis.UniversalClient `name:"session"`
	PubSub  goredis.UniversalClient `name:"pubsub"`
}

// NewModuleManager builds the Manager and ties it to the Fx lifecycle.
func NewModuleManager(p Params) (Result, error) {
	m, err := NewManager(p.Config, p.Log)
	if err != nil {
		return Result{}, err
	}
	p.Lc.Append(fx.Hook{OnStart: m.Start, OnStop: m.Stop})
	return Result{
		Manager: m,
		Client:  m.Client(),
		Cache:   m.Named(ClientCache),
		Session: m.Named(ClientSession),
		PubSub:  m.Named(ClientPubSub),
	}, nil
}
