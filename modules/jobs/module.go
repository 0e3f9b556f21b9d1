package jobs

import (
	"sort"
	"time"

	"github.com/redifx/redifx/modules/httpserver"
	"github.com/redifx/redifx/modules/redis"
	"go.uber.org/fx"
	"go.uber.org/zap"
)

// ModuleName is the name of this module in Fx's logs.
const ModuleName = "jobs"

// HandlersGroup is the value group of job handler registrations.
const HandlersGroup = "jobs.handlers"

// Module provides the *Queue, the /api/v1/jobs routes and — when
// Config.Workers is set — a *Worker and a *Scheduler tied to the lifecycle.
// Handlers come from AsHandler; an EventPublisher, when provided, receives job
// events.
var Module = fx.Module(ModuleName,
	fx.Provide(
		NewModuleQueue,
		httpserver.AsRoute(NewHandlers),
	),
	fx.Invoke(startWorkers),
)

// AsHandler registers handler for jobType.
func AsHandler(jobType string, handler Handler) fx.Option {
	return fx.Supply(fx.Annotated{Group: HandlersGroup, Target: Registration{Type: jobType, Handler: handler}})
}

// Params are NewModuleQueue's dependencies.
type Params struct {
	fx.In

	Config    Config
	Manager   *redis.Manager
	Log       *zap.Logger
	Handlers  []Registration `group:"jobs.handlers"`
	Publisher EventPublisher `optional:"true"`
}

// NewModuleQueue builds the queue over the registered handlers' types.
func NewModuleQueue(p Params) *Queue {
	types := make([]string, 0, len(p.Handlers))
	for _, r := range p.Handlers {
		types = append(types, r.Type)
	}
	sort.Strings(types)
	q := NewQueue(p.Config, p.Manager, func() []string { return types }, p.Publisher, p.Log)
	q.regs = p.Handlers
	return q
}

// startWorkers runs this process's worker and scheduler: started after Redis
// and the HTTP server's dependencies, stopped before Redis closes.
func startWorkers(lc fx.Lifecycle, q *Queue) {
	if !q.cfg.Workers {
		return
	}
	w := NewWorker(q, q.regs)
	s := NewScheduler(q)
	lc.Append(fx.Hook{OnStart: w.Start, OnStop: w.Stop})
	lc.Append(fx.Hook{OnStart: s.Start, OnStop: s.Stop})
}

// StopBudget is the longest the jobs module's stop can take (the grace, then
// putting jobs back); the binary adds it to Fx's stop timeout.
func (c Config) StopBudget() time.Duration { return c.ShutdownGrace + time.Second }
