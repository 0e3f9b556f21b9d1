package redis

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/alicebob/miniredis/v2"
	goredis "github.com/redis/go-redis/v9"
	"go.uber.org/zap"
)

// State is where the Manager stands with Redis.
type State int32

// The states of a Manager.
const (
	// StateConnecting: built, not yet started.
	StateConnecting State = iota
	// StateReady: the last probe succeeded.
	StateReady
	// StateDegraded: Redis is unreachable; the manager keeps reconnecting.
	StateDegraded
	// StateClosed: stopped; every client is closed.
	StateClosed
)

func (s State) String() string {
	switch s {
	case StateConnecting:
		return "connecting"
	case StateReady:
		return "ready"
	case StateDegraded:
		return "degraded"
	case StateClosed:
		return "closed"
	}
	return fmt.Sprintf("State(%d)", int32(s))
}

// ErrUnavailable is wrapped by every error that means "Redis cannot be used right
// now": test with errors.Is and answer 503 with Retry-After.
var ErrUnavailable = errors.New("redis unavailable")

// The names of the logical clients. In standalone and sentinel mode each is its
// own client on its own database; in cluster mode (database 0 only) all share the
// cluster client and are kept apart by key prefix (see Manager.Prefix).
const (
	ClientDefault = "default"
	ClientCache   = "cache"
	ClientSession = "session"
	ClientPubSub  = "pubsub"
)

// ClientNames lists the logical clients, the default first.
var ClientNames = []string{ClientDefault, ClientCache, ClientSession, ClientPubSub}

// Manager owns the application's Redis clients: it builds them from Config,
// connects them at Start (failing, degrading or falling back to an embedded
// server as configured), probes Redis in the background, reconnects, and closes
// everything at Stop. It is safe for concurrent use.
type Manager struct {
	cfg     Config
	log     *zap.Logger
	clients map[string]goredis.UniversalClient
	unique  []namedClient // distinct clients, for probing, stats and closing

	dialer   *net.Dialer
	tls      *tls.Config
	addr     string // standalone: the address dialled (for the TLS-mismatch diagnosis)
	embedded atomic.Pointer[miniredis.Miniredis]
	// embeddedAddr is read by dial; kept apart because a closed miniredis
	// has no address and dials may still be queued at Stop.
	embeddedAddr atomic.Pointer[string]

	state     atomic.Int32
	lastErr   atomic.Pointer[error]
	downSince atomic.Int64 // unix nanos when the state last became degraded

	mu     sync.Mutex // serialises state transitions and their log lines
	cancel context.CancelFunc
	done   chan struct{}
}

type namedClient struct {
	name   string
	client goredis.UniversalClient
}

// NewManager builds the clients without connecting; Start connects. log may be
// nil.
func NewManager(cfg Config, log *zap.Logger) (*Manager, error) {
	if log == nil {
		log = zap.NewNop()
	}
	opts, err := cfg.clientOptions()
	if err != nil {
		return nil, err
	}
	m := &Manager{
		cfg:     cfg,
		log:     log.Named("redis"),
		clients: make(map[string]goredis.UniversalClient, len(ClientNames)),
		dialer:  &net.Dialer{Timeout: cfg.SocketConnectTimeout, KeepAlive: 30 * time.Second},
	}
	dbs := map[string]int{ClientDefault: cfg.DB, ClientCache: cfg.CacheDB, ClientSession: cfg.SessionDB, ClientPubSub: cfg.PubSubDB}
	switch {
	case opts.cluster != nil:
		c := goredis.NewClusterClient(opts.cluster)
		for _, name := range ClientNames {
			m.clients[name] = c
		}
		m.unique = []namedClient{{ClientDefault, c}}
	case opts.failover != nil:
		for _, name := range ClientNames {
			o := *opts.failover
			o.DB = dbs[name]
			o.ClientName = "redifx-" + name
			c := goredis.NewFailoverClient(&o)
			m.clients[name] = c
			m.unique = append(m.unique, namedClient{name, c})
		}
	default:
		if opts.standalone.DB != cfg.DB {
			dbs[ClientDefault] = opts.standalone.DB // the URL's database wins
		}
		m.tls = opts.standalone.TLSConfig
		m.addr = opts.standalone.Addr
		for _, name := range ClientNames {
			o := *opts.standalone
			o.DB = dbs[name]
			o.ClientName = "redifx-" + name
			o.TLSConfig = nil // applied by dial, which also redirects to the embedded server
			o.Dialer = m.dial
			c := goredis.NewClient(&o)
			m.clients[name] = c
			m.unique = append(m.unique, namedClient{name, c})
		}
	}
	m.state.Store(int32(StateConnecting))
	return m, nil
}

// dial connects standalone clients: to the embedded server once the fallback is
// active, else to Redis (over TLS when configured).
func (m *Manager) dial(ctx context.Context, network, addr string) (net.Conn, error) {
	if a := m.embeddedAddr.Load(); a != nil {
		return m.dialer.DialContext(ctx, "tcp", *a)
	}
	if m.tls == nil {
		return m.dialer.DialContext(ctx, network, addr)
	}
	d := &tls.Dialer{NetDialer: m.dialer, Config: m.tls}
	return d.DialContext(ctx, network, addr)
}

// Client returns the default client.
func (m *Manager) Client() goredis.UniversalClient { return m.clients[ClientDefault] }

// Named returns the client called name (see ClientNames), or nil.
func (m *Manager) Named(name string) goredis.UniversalClient { return m.clients[name] }

// Config returns the configuration the manager was built from.
func (m *Manager) Config() Config { return m.cfg }

// Prefix returns the key prefix for the logical client name: the configured
// key_prefix for the default client, and key_prefix + name + ":" for the others,
// which keeps them apart in cluster mode where every client shares database 0.
func (m *Manager) Prefix(name string) string {
	if name == ClientDefault || name == "" {
		return m.cfg.KeyPrefix
	}
	return m.cfg.KeyPrefix + name + ":"
}

// State returns the current state.
func (m *Manager) State() State { return State(m.state.Load()) }

// Available reports whether Redis can be used now (state ready).
func (m *Manager) Available() bool { return m.State() == StateReady }

// Embedded reports whether the clients talk to the embedded fallback server.
func (m *Manager) Embedded() bool { return m.embedded.Load() != nil }

// Err returns nil while Redis is available, else an error wrapping
// ErrUnavailable that says why.
func (m *Manager) Err() error {
	s := m.State()
	if s == StateReady {
		return nil
	}
	if p := m.lastErr.Load(); p != nil && s == StateDegraded {
		cond, ok := Condition(*p)
		var ce *ConfigError
		switch {
		case errors.As(*p, &ce):
			cond = CondRefused
		case !ok:
			cond = CondUnreachable
		}
		return &UnavailableError{Condition: cond, Err: fmt.Errorf("%s: %w", m.cfg.Addr(), *p)}
	}
	return &UnavailableError{Condition: CondUnreachable, Err: errors.New(s.String())}
}

// Start connects: it pings Redis, retrying with backoff for StartupWait (and
// never past ctx). If Redis stays unreachable it falls back to the embedded
// server when EmbeddedFallback is set (standalone mode), fails when Required,
// and otherwise starts degraded. In every case that does not fail, a background
// loop keeps probing until Stop.
//
// When Redis answers but refuses the configuration (wrong credentials, a user
// without permission, a certificate that does not verify: see ConfigError),
// Start fails at once in every environment, with the *ConfigError naming the
// setting: a configuration error is never a reason to fall back or to start
// degraded.
func (m *Manager) Start(ctx context.Context) error {
	err := m.connect(ctx)
	var reply goredis.Error
	if err != nil && !errors.As(err, &reply) { // no answer in RESP: is it the wrong protocol?
		if ce := m.tlsMismatch(ctx); ce != nil {
			err = ce
		}
	}
	var ce *ConfigError
	if errors.As(err, &ce) {
		m.setErr(err)
		m.log.Error("redis.init.refused", m.fields(
			zap.String("setting", ce.Setting), zap.String("problem", ce.Problem), zap.NamedError("cause", ce.Err))...)
		_ = m.closeClients()
		m.state.Store(int32(StateClosed))
		return fmt.Errorf("redis at %s: %w", m.cfg.Addr(), ce)
	}
	if err != nil && m.cfg.EmbeddedFallback && m.cfg.Mode == ModeStandalone {
		err = m.startEmbedded(ctx, err)
	}
	if err != nil {
		m.setErr(err)
		if m.cfg.Required {
			m.log.Error("redis.init.failed", m.fields(zap.Error(err))...)
			_ = m.closeClients()
			m.state.Store(int32(StateClosed))
			return fmt.Errorf("%w: cannot connect to %s: %v", ErrUnavailable, m.cfg.Addr(), err)
		}
		m.transition(StateDegraded, err)
	} else {
		m.transition(StateReady, nil)
		m.log.Info("redis.initialized", m.fields(zap.Bool("embedded", m.Embedded()))...)
	}
	loopCtx, cancel := context.WithCancel(context.Background())
	m.cancel = cancel
	m.done = make(chan struct{})
	go m.monitor(loopCtx)
	return nil
}

// connect pings until success, StartupWait elapses, or ctx ends.
func (m *Manager) connect(ctx context.Context) error {
	deadline := time.Now().Add(m.cfg.StartupWait)
	backoff := 50 * time.Millisecond
	var cause error // the last error that says more than "timed out"
	result := func(err error) error {
		if cause != nil && (errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled)) {
			return cause
		}
		return err
	}
	for {
		err := m.ping(ctx, m.attemptTimeout(deadline))
		var ce *ConfigError
		if err == nil || errors.As(err, &ce) {
			return err
		}
		if !errors.Is(err, context.DeadlineExceeded) && !errors.Is(err, context.Canceled) {
			cause = err
		}
		wait := min(backoff, time.Until(deadline))
		if wait <= 0 || ctx.Err() != nil {
			return result(err)
		}
		select {
		case <-ctx.Done():
			return result(err)
		case <-time.After(wait):
		}
		backoff = min(backoff*2, time.Second)
	}
}

func (m *Manager) attemptTimeout(deadline time.Time) time.Duration {
	t := addDurations(m.cfg.SocketConnectTimeout, m.cfg.SocketTimeout)
	if left := time.Until(deadline); left > 100*time.Millisecond && left < t {
		t = left
	}
	return max(t, 100*time.Millisecond)
}

// ping sends PING on every distinct client. An error that means Redis
// refused the configuration is a *ConfigError.
func (m *Manager) ping(ctx context.Context, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	for _, nc := range m.unique {
		if err := nc.client.Ping(ctx).Err(); err != nil {
			if ce := m.cfg.refused(err, nc.name); ce != nil {
				return ce
			}
			if len(m.unique) > 1 {
				return fmt.Errorf("client %s: %w", nc.name, err)
			}
			return err
		}
	}
	return nil
}

func (m *Manager) startEmbedded(ctx context.Context, cause error) error {
	srv := miniredis.NewMiniRedis()
	switch {
	case m.cfg.Username != "" && m.cfg.Password != "":
		srv.RequireUserAuth(m.cfg.Username, m.cfg.Password)
	case m.cfg.Password != "":
		srv.RequireAuth(m.cfg.Password)
	}
	if err := srv.StartAddr("127.0.0.1:0"); err != nil {
		return fmt.Errorf("%v; embedded fallback failed too: %w", cause, err)
	}
	addr := srv.Addr()
	m.embeddedAddr.Store(&addr)
	m.embedded.Store(srv)
	if err := m.ping(ctx, time.Second); err != nil {
		m.embedded.Store(nil)
		m.embeddedAddr.Store(nil)
		srv.Close()
		return fmt.Errorf("%v; embedded fallback failed too: %w", cause, err)
	}
	m.log.Warn("redis.embedded_fallback",
		zap.String("addr", m.cfg.Addr()),
		zap.String("embedded_addr", addr),
		zap.NamedError("cause", cause),
		zap.String("warning", "Redis is unreachable: using an in-process server; data is in memory only and lost at exit"))
	return nil
}

// monitor probes Redis every HealthInterval while ready and every
// ReconnectInterval while degraded, until ctx ends.
func (m *Manager) monitor(ctx context.Context) {
	defer close(m.done)
	for {
		interval := m.cfg.HealthInterval
		if m.State() != StateReady {
			interval = m.cfg.ReconnectInterval
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(interval):
		}
		m.probe(ctx)
	}
}

// probe pings once and moves between ready and degraded.
func (m *Manager) probe(ctx context.Context) error {
	err := m.ping(ctx, m.cfg.probeTimeout())
	if ctx.Err() != nil {
		return err
	}
	if err != nil {
		var ce *ConfigError
		if errors.As(err, &ce) && m.State() == StateDegraded && !m.refusedNow() {
			// Degraded already (unreachable, say), and now refused: say so.
			m.log.Error("redis.refused", m.fields(
				zap.String("setting", ce.Setting), zap.String("problem", ce.Problem), zap.NamedError("cause", ce.Err))...)
		}
		m.setErr(err)
		m.transition(StateDegraded, err)
		return err
	}
	m.transition(StateReady, nil)
	return nil
}

// refusedNow reports whether the last error was a *ConfigError.
func (m *Manager) refusedNow() bool {
	p := m.lastErr.Load()
	var ce *ConfigError
	return p != nil && errors.As(*p, &ce)
}

func (m *Manager) setErr(err error) { m.lastErr.Store(&err) }

// transition records a state change and logs it once.
func (m *Manager) transition(to State, cause error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	from := State(m.state.Load())
	if from == to || from == StateClosed {
		return
	}
	m.state.Store(int32(to))
	switch to {
	case StateDegraded:
		m.downSince.Store(time.Now().UnixNano())
		var ce *ConfigError
		if errors.As(cause, &ce) {
			// Redis is there but refuses redifx: a password rotated on the
			// server, a user disabled, a certificate replaced. An operator
			// must act; retrying alone will not bring it back.
			m.log.Error("redis.refused", m.fields(zap.String("from", from.String()), zap.Bool("required", m.cfg.Required),
				zap.String("setting", ce.Setting), zap.String("problem", ce.Problem), zap.NamedError("cause", ce.Err))...)
			return
		}
		m.log.Warn("redis.degraded", m.fields(zap.String("from", from.String()), zap.Bool("required", m.cfg.Required), zap.Error(cause))...)
	case StateReady:
		if from == StateDegraded {
			down := time.Since(time.Unix(0, m.downSince.Load()))
			m.log.Info("redis.reconnected", m.fields(zap.Duration("unavailable_for", down))...)
		}
	}
}

// fields are the identifying fields of every log event; never the password.
func (m *Manager) fields(extra ...zap.Field) []zap.Field {
	f := []zap.Field{zap.String("mode", m.cfg.Mode), zap.String("addr", m.cfg.Addr())}
	if m.cfg.Mode == ModeStandalone && m.cfg.URL == "" {
		f = append(f, zap.String("host", m.cfg.Host), zap.Int("port", m.cfg.Port))
	}
	f = append(f, zap.Int("db", m.cfg.DB), zap.Int("max_connections", m.cfg.MaxConnections))
	return append(f, extra...)
}

// Stop ends the background loop and closes every client (and the embedded
// server). After Stop, State is StateClosed.
func (m *Manager) Stop(ctx context.Context) error {
	if m.cancel != nil {
		m.cancel()
		select {
		case <-m.done:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	m.mu.Lock()
	already := State(m.state.Load()) == StateClosed
	m.state.Store(int32(StateClosed))
	m.mu.Unlock()
	if already {
		return nil
	}
	err := m.closeClients()
	if e := m.embedded.Load(); e != nil {
		e.Close()
	}
	m.log.Info("redis.closed", m.fields()...)
	return err
}

func (m *Manager) closeClients() error {
	var errs []error
	for _, nc := range m.unique {
		if err := nc.client.Close(); err != nil && !errors.Is(err, goredis.ErrClosed) {
			errs = append(errs, fmt.Errorf("closing client %s: %w", nc.name, err))
		}
	}
	return errors.Join(errs...)
}

// AddHook installs a go-redis hook (instrumentation, tracing) on every client.
// Call it before Start.
func (m *Manager) AddHook(h goredis.Hook) {
	for _, nc := range m.unique {
		nc.client.AddHook(h)
	}
}
