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
	"go.uber.org/zap/zapcore"
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

	connMu    sync.Mutex
	conns     map[net.Conn]time.Time // open connections: when each went idle (zero: busy or new)
	sweepDone chan struct{}          // closed when the drain's idle sweep has ended
}

// DrainIdleClose is how long a kept-alive connection must have been idle
// before the drain closes it. A proxy may write a request into an idle
// connection at any moment, and a request written into a connection as it
// closes fails without a response (nginx answers 502 and does not retry a
// POST); proxies reuse their most recently used connection first, so one idle
// this long is the least likely to be written into. Every response during the
// drain closes its connection, so by the end of drain_delay no connection is
// left idle for Shutdown to close under a proxy.
const DrainIdleClose = time.Second

// drainSweep is how often the drain looks for idle connections to close.
const drainSweep = 100 * time.Millisecond

// New builds the server: middleware in order, health endpoints, then routes.
func New(o Options) *Server {
	if o.Log == nil {
		o.Log = zap.NewNop()
	}
	// gin's debug mode prints every route and warnings at start-up; only
	// when debug logging is on.
	if o.Log.Core().Enabled(zapcore.DebugLevel) {
		gin.SetMode(gin.DebugMode)
	} else {
		gin.SetMode(gin.ReleaseMode)
	}
	if o.Drain == nil {
		o.Drain = NewDrain()
	}
	s := &Server{opts: o, log: o.Log.Named("http"), stopping: make(chan struct{}), drain: o.Drain, conns: map[net.Conn]time.Time{}}
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
		{Name: "body_limit", Order: OrderBodyLimit, Handler: bodyLimit(o.Config.MaxBodyBytes, o.Config.ReadTimeout)},
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
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if s.drain.Draining() {
				// The connection closes after this answer: the proxy opens
				// a new one, to this replica until its listener closes, then
				// to another.
				w.Header().Set("Connection", "close")
			}
			e.ServeHTTP(w, r)
		}),
		ReadHeaderTimeout: o.Config.ReadHeaderTimeout,
		IdleTimeout:       o.Config.IdleTimeout,
		ErrorLog:          zap.NewStdLog(s.log.Named("server")),
		ConnState:         s.trackConn,
	}
	return s
}

// trackConn records when each connection went idle, for the drain.
func (s *Server) trackConn(c net.Conn, st http.ConnState) {
	s.connMu.Lock()
	defer s.connMu.Unlock()
	switch st {
	case http.StateNew, http.StateActive:
		s.conns[c] = time.Time{}
	case http.StateIdle:
		s.conns[c] = time.Now()
	case http.StateHijacked, http.StateClosed:
		delete(s.conns, c)
	}
}

// closeIdle closes the connections idle for at least DrainIdleClose.
func (s *Server) closeIdle() {
	s.connMu.Lock()
	defer s.connMu.Unlock()
	for c, since := range s.conns {
		if !since.IsZero() && time.Since(since) >= DrainIdleClose {
			_ = c.Close()
			delete(s.conns, c)
		}
	}
}

// sweepIdle waits for the drain, then closes idle connections (see
// DrainIdleClose) until Shutdown begins.
func (s *Server) sweepIdle() {
	defer close(s.sweepDone)
	select {
	case <-s.drain.Done():
	case <-s.stopping:
		return
	case <-s.serveDone:
		return
	}
	t := time.NewTicker(drainSweep)
	defer t.Stop()
	for {
		select {
		case <-s.stopping:
			return
		case <-s.serveDone:
			return
		case <-t.C:
			s.closeIdle()
		}
	}
}

// Engine returns the gin engine (for tests and for mounting extra handlers
// before Start).
func (s *Server) Engine() *gin.Engine { return s.engine }

// Handler returns the server's HTTP handler.
func (s *Server) Handler() http.Handler { return s.srv.Handler }

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
//
// Connections stay open: a request a proxy writes into a kept-alive one gets
// a real answer, with "Connection: close", so that the proxy does not reuse
// it; a connection idle for DrainIdleClose is closed. Shutdown, after
// drain_delay, closes the listener and whatever connection is left.
func (s *Server) BeginDrain() {
	if s.drain.Begin() {
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
	s.sweepDone = make(chan struct{})
	go s.sweepIdle()
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
	<-s.sweepDone
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
