package httpserver

import (
	"github.com/redifx/redifx/modules/config"
	"github.com/redifx/redifx/modules/health"
	"go.uber.org/fx"
	"go.uber.org/zap"
)

// ModuleName is the name of this module in Fx's logs.
const ModuleName = "httpserver"

// Group names of the value groups this module collects.
const (
	RoutesGroup     = "httpserver.routes"
	MiddlewareGroup = "httpserver.middleware"
)

// Version is the application version shown by /health; supply it with
// fx.Supply(httpserver.Version("1.2.3")).
type Version string

// Module provides the *Server (and its *Drain signal) and starts it: it listens in OnStart and drains in
// OnStop. Routes come from AsRoute, middleware from AsMiddleware, health checks
// from health.AsCheck.
var Module = fx.Module(ModuleName,
	fx.Provide(NewModuleServer, NewDrain),
	fx.Invoke(func(*Server) {}),
)

// AsRoute annotates a constructor returning a Route so it joins the routes group.
func AsRoute(constructor any) any {
	return fx.Annotate(constructor, fx.As(new(Route)), fx.ResultTags(`group:"`+RoutesGroup+`"`))
}

// AsMiddleware annotates a constructor returning a Middleware so it joins the
// middleware group.
func AsMiddleware(constructor any) any {
	return fx.Annotate(constructor, fx.ResultTags(`group:"`+MiddlewareGroup+`"`))
}

// Params are NewModuleServer's dependencies.
type Params struct {
	fx.In

	Config      Config
	Log         *zap.Logger
	Lc          fx.Lifecycle
	Shutdowner  fx.Shutdowner
	Environment config.Environment `optional:"true"`
	Version     Version            `optional:"true"`
	Routes      []Route            `group:"httpserver.routes"`
	Middleware  []Middleware       `group:"httpserver.middleware"`
	Checks      []health.Check     `group:"health.checks"`
	Drain       *Drain
}

// NewModuleServer builds the Server and ties it to the lifecycle; a serve error
// after start shuts the app down with exit code 1.
func NewModuleServer(p Params) *Server {
	s := New(Options{
		Config: p.Config, Log: p.Log, Environment: p.Environment, Version: string(p.Version),
		Routes: p.Routes, Middleware: p.Middleware, Checks: p.Checks, Drain: p.Drain,
		OnServeError: func(error) { _ = p.Shutdowner.Shutdown(fx.ExitCode(1)) },
	})
	p.Lc.Append(fx.Hook{OnStart: s.Start, OnStop: s.Stop})
	return s
}
