package jobs

import (
	"errors"
	"fmt"
	"sort"
	"sync"

	"github.com/prometheus/client_golang/prometheus"
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
		fx.Annotate(func(q *Queue) *Metrics { return q.Metrics() }, fx.As(new(prometheus.Collector)), fx.ResultTags(`group:"`+redis.CollectorGroup+`"`)),
	),
	fx.Invoke(startWorkers),
)

// AsHandler registers handler for jobType; WithValidator adds a check of
// the parameters at enqueue:
//
//	jobs.AsHandler("sleep", jobs.SleepHandler, jobs.WithValidator(jobs.ValidateSleepParams))
func AsHandler(jobType string, handler Handler, opts ...HandlerOption) fx.Option {
	return fx.Supply(fx.Annotated{Group: HandlersGroup, Target: NewRegistration(jobType, handler, opts...)})
}

// Params are NewModuleQueue's dependencies.
type Params struct {
	fx.In

	Config    Config
	Manager   *redis.Manager
	Log       *zap.Logger
	Publisher EventPublisher `optional:"true"`
}

// NewModuleQueue builds the queue; its job types are the registered handlers'
// (set before start by startWorkers, so that handlers may depend on anything
// that depends on the queue).
func NewModuleQueue(p Params) *Queue {
	reg := &registry{}
	q := NewQueue(p.Config, p.Manager, reg.types, p.Publisher, p.Log)
	q.registry = reg
	return q
}

// registry holds the handlers registered through the value group.
type registry struct {
	mu   sync.RWMutex
	regs []Registration
	list []string
}

func (r *registry) set(regs []Registration) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.regs = regs
	r.list = make([]string, 0, len(regs))
	for _, reg := range regs {
		r.list = append(r.list, reg.Type)
	}
	sort.Strings(r.list)
}

// validator returns jobType's parameter validator, nil when it has none.
func (r *registry) validator(jobType string) ParamsValidator {
	r.mu.RLock()
	defer r.mu.RUnlock()
	for _, reg := range r.regs {
		if reg.Type == jobType {
			return reg.Validate
		}
	}
	return nil
}

func (r *registry) types() []string {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return r.list
}

// workerParams are startWorkers' dependencies.
type workerParams struct {
	fx.In

	Lc       fx.Lifecycle
	Queue    *Queue
	Handlers []Registration `group:"jobs.handlers"`
}

// startWorkers registers the handlers and runs this process's worker and
// scheduler: started after Redis, stopped before Redis closes. Registrations
// that CheckRegistrations refuses fail the app's construction.
func startWorkers(p workerParams) error {
	if err := CheckRegistrations(p.Handlers); err != nil {
		return err
	}
	p.Queue.SetHandlers(p.Handlers)
	if !p.Queue.cfg.Workers {
		return nil
	}
	w := NewWorker(p.Queue, p.Handlers)
	s := NewScheduler(p.Queue)
	p.Lc.Append(fx.Hook{OnStart: w.Start, OnStop: w.Stop})
	p.Lc.Append(fx.Hook{OnStart: s.Start, OnStop: s.Stop})
	return nil
}

// CheckRegistrations refuses handler registrations that cannot work: a job
// type that a request could not name (empty, blank, over MaxTitleBytes,
// control characters), a type registered twice (the worker would run one
// registration's handler on parameters another's validator checked), or a
// registration without a handler. The Fx module calls it; an app that builds
// NewWorker and calls Queue.SetHandlers itself should too.
func CheckRegistrations(regs []Registration) error {
	seen := make(map[string]bool, len(regs))
	var errs []error
	for _, r := range regs {
		if err := checkText("job_type", r.Type, true, MaxTitleBytes, false); err != nil {
			errs = append(errs, fmt.Errorf("jobs: handler registration %q: %w", clip(r.Type), err))
			continue
		}
		if seen[r.Type] {
			errs = append(errs, fmt.Errorf("jobs: job type %q is registered more than once", r.Type))
		}
		seen[r.Type] = true
		if r.Handler == nil {
			errs = append(errs, fmt.Errorf("jobs: job type %q is registered without a handler", r.Type))
		}
	}
	return errors.Join(errs...)
}

// StopBudget is the longest the jobs module's stop can take (the grace, then
// putting jobs back); the binary adds it to Fx's stop timeout.
func (c Config) StopBudget() time.Duration { return c.ShutdownGrace + time.Second }
