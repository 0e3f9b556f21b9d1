package realtime

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redifx/redifx/modules/redis"
	goredis "github.com/redis/go-redis/v9"
	"go.uber.org/zap"
)

// ErrFull is returned by register when a client limit is reached.
var ErrFull = errors.New("realtime: too many open streams")

// client is one open stream's mailbox.
type client struct {
	tenant   string
	channels map[string]bool // nil: every channel
	events   chan *Event     // bounded; full means too slow
	backfill chan struct{}   // cap 1: read history again (after a resubscribe)
	kicked   chan struct{}   // closed when the hub drops the client as too slow
	kickOnce sync.Once
}

func (c *client) wants(channel string) bool { return c.channels == nil || c.channels[channel] }

func (c *client) kick() bool {
	first := false
	c.kickOnce.Do(func() { close(c.kicked); first = true })
	return first
}

// Hub holds this process's single Redis subscription and fans events out to
// the local clients of each tenant.
type Hub struct {
	cfg   Config
	log   *zap.Logger
	mgr   *redis.Manager
	ps    goredis.UniversalClient
	store *store

	mu       sync.RWMutex
	tenants  map[string]map[*client]struct{}
	total    int
	reported map[string]bool   // tenants whose count was last reported non-zero
	lastSeen map[string]string // newest event id dispatched, by tenant
	reads    chan struct{}     // bounds concurrent Redis reads of stream openings
	replica  string            // this process, in presence counts

	stats Stats

	cancel     context.CancelFunc
	done       chan struct{}
	subscribed chan struct{} // closed at the first subscription confirmation

	presenceDone chan struct{}

	sessions sync.WaitGroup // stream goroutines
	stopping chan struct{}  // closed by Stop: streams end
	stopOnce sync.Once
}

// serve runs a stream's goroutine, tracked so that Stop waits for it.
func (h *Hub) serve(f func(stop <-chan struct{})) {
	h.sessions.Add(1)
	go func() {
		defer h.sessions.Done()
		f(h.stopping)
	}()
}

// Stats are the hub's counters, read by the metrics collector.
type Stats struct {
	Published         atomic.Uint64
	Delivered         atomic.Uint64
	Dropped           atomic.Uint64
	SlowDisconnects   atomic.Uint64
	Resubscribes      atomic.Uint64
	RejectedFull      atomic.Uint64
	ConnectedGauge    atomic.Int64
	SubscriptionAlive atomic.Bool
}

// NewHub builds a hub over the manager's clients; Start subscribes.
func NewHub(cfg Config, mgr *redis.Manager, log *zap.Logger) *Hub {
	if log == nil {
		log = zap.NewNop()
	}
	h := &Hub{
		cfg:      cfg,
		log:      log.Named("realtime"),
		mgr:      mgr,
		ps:       mgr.Named(redis.ClientPubSub),
		store:    newStore(mgr.Client(), mgr.Prefix(redis.ClientDefault), cfg),
		tenants:  map[string]map[*client]struct{}{},
		replica:  newReplicaID(),
		lastSeen: map[string]string{},
		stopping: make(chan struct{}),
		reads:    make(chan struct{}, cfg.MaxRedisReads),
	}
	h.store.callTTL = callRecordTTL(mgr.Config().SocketTimeout)
	return h
}

func newReplicaID() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// Stats returns the hub's counters.
func (h *Hub) Stats() *Stats { return &h.stats }

// subscribeWait bounds how long Start waits for the subscription, so that
// streams opened right after start are fed live; past it (Redis down), the hub
// keeps trying in the background.
const subscribeWait = 2 * time.Second

// Start runs the subscription loop until Stop, waiting briefly for the first
// subscription confirmation.
func (h *Hub) Start(ctx context.Context) error {
	loopCtx, cancel := context.WithCancel(context.Background())
	h.cancel = cancel
	h.done = make(chan struct{})
	h.subscribed = make(chan struct{})
	go h.subscribe(loopCtx)
	h.presenceDone = make(chan struct{})
	go func() {
		defer close(h.presenceDone)
		t := time.NewTicker(presenceTTL / 3)
		defer t.Stop()
		for {
			select {
			case <-loopCtx.Done():
				return
			case <-t.C:
				h.reportPresence(loopCtx)
			}
		}
	}()
	if h.mgr.Available() {
		select {
		case <-h.subscribed:
		case <-time.After(subscribeWait):
		case <-ctx.Done():
		}
	}
	return nil
}

// Stop ends every open stream and the subscription loop.
func (h *Hub) Stop(ctx context.Context) error {
	h.stopOnce.Do(func() { close(h.stopping) })
	streams := make(chan struct{})
	go func() { h.sessions.Wait(); close(streams) }()
	select {
	case <-streams:
	case <-ctx.Done():
		return ctx.Err()
	}
	if h.cancel == nil {
		return nil
	}
	h.cancel()
	for _, done := range []chan struct{}{h.done, h.presenceDone} {
		select {
		case <-done:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return nil
}

// subscribe keeps one SUBSCRIBE alive. go-redis resubscribes after a dropped
// connection; each confirmation after the first asks every client to read the
// history again, so nothing stored while the link was down is missed.
func (h *Hub) subscribe(ctx context.Context) {
	defer close(h.done)
	sub := h.ps.Subscribe(ctx, h.store.keys.pubsub())
	defer func() { _ = sub.Close() }()
	confirmed := false
	backoff := 50 * time.Millisecond
	for {
		msg, err := sub.ReceiveTimeout(ctx, 2*time.Second)
		if ctx.Err() != nil {
			return
		}
		if err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				// Idle: check the link; a dead one errors and is rebuilt.
				_ = sub.Ping(ctx)
				continue
			}
			h.stats.SubscriptionAlive.Store(false)
			select {
			case <-ctx.Done():
				return
			case <-time.After(backoff):
			}
			backoff = min(backoff*2, time.Second)
			continue
		}
		backoff = 50 * time.Millisecond
		switch m := msg.(type) {
		case *goredis.Subscription:
			if m.Kind != "subscribe" {
				continue
			}
			h.stats.SubscriptionAlive.Store(true)
			if confirmed {
				h.stats.Resubscribes.Add(1)
				h.log.Info("realtime.resubscribed")
			} else {
				close(h.subscribed)
			}
			confirmed = true
			// Clients connected while the subscription was down (or not yet up)
			// read what they missed from history.
			h.backfillAll()
		case *goredis.Message:
			ev, err := decodeEnvelope(m.Payload)
			if err != nil {
				h.log.Warn("realtime.bad_envelope", zap.Error(err))
				continue
			}
			h.dispatch(ev)
		}
	}
}

// dispatch hands ev to every local client of its tenant that wants its channel,
// without ever blocking: a client whose buffer is full is dropped. The SSE
// frames are built once here, not once per client. It also remembers the
// tenant's newest id, the starting point of streams opened from now on.
func (h *Hub) dispatch(ev *Event) {
	// Frames are built only when a local client wants the event (outside the
	// lock; under it only for a client that registered meanwhile).
	h.mu.RLock()
	wanted := h.wanted(ev)
	h.mu.RUnlock()
	if wanted {
		ev.buildFrames()
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	// The newest is the last to arrive (one tenant's announcements leave
	// Redis in id order), not the largest id: after a failover to a server
	// whose ids are smaller, a largest-ever id would make every stream opened
	// later skip live events until the ids caught up.
	h.lastSeen[ev.Tenant] = ev.ID
	for c := range h.tenants[ev.Tenant] {
		if !c.wants(ev.Channel) {
			continue
		}
		ev.buildFrames()
		select {
		case c.events <- ev:
		default:
			h.stats.Dropped.Add(1)
			if c.kick() {
				h.stats.SlowDisconnects.Add(1)
			}
		}
	}
}

// wanted reports whether a local client wants ev; h.mu is held.
func (h *Hub) wanted(ev *Event) bool {
	for c := range h.tenants[ev.Tenant] {
		if c.wants(ev.Channel) {
			return true
		}
	}
	return false
}

func (h *Hub) backfillAll() {
	h.mu.RLock()
	defer h.mu.RUnlock()
	for _, clients := range h.tenants {
		for c := range clients {
			select {
			case c.backfill <- struct{}{}:
			default:
			}
		}
	}
}

// register adds a client, within the limits, and returns the tenant's newest
// event id this process has seen ("" when none yet): live events after it
// reach the client, atomically with dispatch.
func (h *Hub) register(tenant string, channels map[string]bool) (*client, string, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.total >= h.cfg.MaxClients || len(h.tenants[tenant]) >= h.cfg.MaxClientsPerTenant {
		h.stats.RejectedFull.Add(1)
		return nil, "", ErrFull
	}
	c := &client{
		tenant: tenant, channels: channels,
		events:   make(chan *Event, h.cfg.ClientBuffer),
		backfill: make(chan struct{}, 1),
		kicked:   make(chan struct{}),
	}
	if h.tenants[tenant] == nil {
		h.tenants[tenant] = map[*client]struct{}{}
	}
	h.tenants[tenant][c] = struct{}{}
	h.total++
	h.stats.ConnectedGauge.Store(int64(h.total))
	return c, h.lastSeen[tenant], nil
}

// read runs a Redis read of a stream opening or catch-up, at most
// Config.MaxRedisReads at a time, so that a reconnect storm does not grow the
// connection pool.
func (h *Hub) read(ctx context.Context, f func() error) error {
	select {
	case h.reads <- struct{}{}:
	case <-ctx.Done():
		return ctx.Err()
	}
	defer func() { <-h.reads }()
	return f()
}

func (h *Hub) unregister(c *client) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if _, ok := h.tenants[c.tenant][c]; !ok {
		return
	}
	delete(h.tenants[c.tenant], c)
	if len(h.tenants[c.tenant]) == 0 {
		delete(h.tenants, c.tenant)
	}
	h.total--
	h.stats.ConnectedGauge.Store(int64(h.total))
}

// Clients returns the number of open streams in this process.
func (h *Hub) Clients() int {
	h.mu.RLock()
	defer h.mu.RUnlock()
	return h.total
}
