package httpserver

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/redifx/redifx/modules/config"
	"github.com/redifx/redifx/modules/health"
	"go.uber.org/zap"
)

// Route registers a module's handlers on the engine.
type Route interface {
	Register(r gin.IRouter)
}

// RouteFunc adapts a function to Route.
type RouteFunc func(r gin.IRouter)

// Register calls f.
func (f RouteFunc) Register(r gin.IRouter) { f(r) }

// Options are the plain-Go inputs of New.
type Options struct {
	Config      Config
	Log         *zap.Logger
	Environment config.Environment
	Version     string
	Routes      []Route
	Middleware  []Middleware
	Checks      []health.Check
	// Drain is signalled by BeginDrain; nil means a private one.
	Drain *Drain
	// OnServeError is called when serving fails after a successful start (the
	// Fx module shuts the app down with a non-zero exit code).
	OnServeError func(error)
}

// Server is the gin engine inside an http.Server, with health endpoints and a
// graceful drain. Start listens synchronously and serves in a goroutine; Stop
// drains.
type Server struct {
	opts   Options
	log    *zap.Logger
	engine *gin.Engine
	srv    *http.Server

	ln        net.Listener
	serveDone chan struct{}
	drain     *Drain
	stopping  chan struct{}
	stopOnce  sync.Once
	panics    atomic.Uint64
}

// New builds the server: middleware in order, health endpoints, then routes.
func New(o Options) *Server {
	if o.Log == nil {
		o.Log = zap.NewNop()
	}
	if o.Environment != config.Development && o.Environment != "" {
		gin.SetMode(gin.ReleaseMode)
	}
	if o.Drain == nil {
		o.Drain = NewDrain()
	}
	s := &Server{opts: o, log: o.Log.Named("http"), stopping: make(chan struct{}), drain: o.Drain}
	e := gin.New()
	// The client address comes from X-Forwarded-For only behind trusted
	// proxies; otherwise any client could choose what the logs show.
	_ = e.SetTrustedProxies(o.Config.TrustedProxies)
	e.HandleMethodNotAllowed = true
	e.ContextWithFallback = true
	e.NoRoute(func(c *gin.Context) { Error(c, http.StatusNotFound, "not_found", "no route for "+c.Request.URL.Path) })
	e.NoMethod(func(c *gin.Context) {
		Error(c, http.StatusMethodNotAllowed, "method_not_allowed", c.Request.Method+" is not allowed on "+c.Request.URL.Path)
	})

	mw := append([]Middleware{
		{Name: "request_id", Order: OrderRequestID, Handler: requestID()},
		{Name: "access_log", Order: OrderAccessLog, Handler: accessLog(s.log)},
		{Name: "recovery", Order: OrderRecovery, Handler: recovery(s.log, &s.panics)},
		{Name: "body_limit", Order: OrderBodyLimit, Handler: bodyLimit(o.Config.MaxBodyBytes)},
	}, o.Middleware...)
	sort.SliceStable(mw, func(i, j int) bool { return mw[i].Order < mw[j].Order })
	for _, m := range mw {
		e.Use(m.Handler)
	}
	s.registerHealth(e)
	for _, r := range o.Routes {
		r.Register(e)
	}
	s.engine = e
	s.srv = &http.Server{
		Handler:           e,
		ReadHeaderTimeout: o.Config.ReadHeaderTimeout,
		IdleTimeout:       o.Config.IdleTimeout,
		ErrorLog:          zap.NewStdLog(s.log.Named("server")),
	}
	return s
}

// Engine returns the gin engine (for tests and for mounting extra handlers
// before Start).
func (s *Server) Engine() *gin.Engine { return s.engine }

// Handler returns the server's HTTP handler.
func (s *Server) Handler() http.Handler { return s.engine }

// Panics returns how many handler panics were recovered.
func (s *Server) Panics() uint64 { return s.panics.Load() }

// Addr returns the listening address once started.
func (s *Server) Addr() net.Addr {
	if s.ln == nil {
		return nil
	}
	return s.ln.Addr()
}

// Stopping is closed when the server begins to shut down: long-lived responses
// (event streams) end when it closes, so that Shutdown can finish.
func (s *Server) Stopping() <-chan struct{} { return s.stopping }

// Draining reports whether the server is draining (readiness 503).
func (s *Server) Draining() bool { return s.drain.Draining() }

// BeginDrain makes readiness answer 503 from now on and signals the Drain. The
// binary calls it the moment SIGTERM arrives; Stop calls it too.
func (s *Server) BeginDrain() {
	if s.drain.Begin() {
		// Answers from now on close their connection, so that a proxy does not
		// reuse one that Shutdown is about to close under it.
		s.srv.SetKeepAlivesEnabled(false)
		s.log.Info("http.draining", zap.Duration("drain_delay", s.opts.Config.DrainDelay))
	}
}

// Start listens (so that a taken port fails start-up here, with the address in
// the error) and serves in a goroutine.
func (s *Server) Start(context.Context) error {
	ln, err := net.Listen("tcp", s.opts.Config.Addr)
	if err != nil {
		return fmt.Errorf("http: cannot listen on %s: %w", s.opts.Config.Addr, err)
	}
	s.ln = ln
	s.serveDone = make(chan struct{})
	s.log.Info("http.listening", zap.String("addr", ln.Addr().String()))
	go func() {
		defer close(s.serveDone)
		if err := s.srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			s.log.Error("http.serve.failed", zap.Error(err))
			if s.opts.OnServeError != nil {
				s.opts.OnServeError(err)
			}
		}
	}()
	return nil
}

// Stop drains: readiness turns 503, the listener stays open for DrainDelay so
// load balancers notice, then in-flight requests get ShutdownTimeout to finish.
func (s *Server) Stop(ctx context.Context) error {
	s.BeginDrain()
	if s.ln == nil {
		return nil
	}
	if d := s.opts.Config.DrainDelay; d > 0 {
		select {
		case <-time.After(d):
		case <-ctx.Done():
		}
	}
	s.stopOnce.Do(func() { close(s.stopping) })
	shutCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), s.opts.Config.ShutdownTimeout)
	defer cancel()
	err := s.srv.Shutdown(shutCtx)
	if err != nil {
		s.log.Warn("http.shutdown.timeout", zap.Error(err))
		_ = s.srv.Close()
	}
	<-s.serveDone
	s.log.Info("http.stopped")
	return err
}
