package realtime

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/redifx/redifx/modules/auth"
	"github.com/redifx/redifx/modules/httpserver"
	"github.com/redifx/redifx/modules/redis"
)

// AllChannels is the path segment of the stream of every channel.
const AllChannels = "events"

// Handlers serves /api/v1/realtime.
type Handlers struct {
	hub   *Hub
	authn *auth.Authenticator
	drain *httpserver.Drain
	cfg   Config
}

// NewHandlers builds the HTTP side of hub. drain may be nil (never drains).
func NewHandlers(hub *Hub, authn *auth.Authenticator, drain *httpserver.Drain) *Handlers {
	if drain == nil {
		drain = httpserver.NewDrain()
	}
	return &Handlers{hub: hub, authn: authn, drain: drain, cfg: hub.cfg}
}

// Register implements httpserver.Route.
func (h *Handlers) Register(r gin.IRouter) {
	g := r.Group("/api/v1/realtime", h.cors)
	g.OPTIONS("/:channel", h.preflight)
	g.GET("/:channel", h.authn.RequireStream(auth.PermRealtimeRead), h.stream)
	g.POST("/:channel", h.authn.Require(auth.PermRealtimePublish), h.publish)
}

func (h *Handlers) allowedOrigin(origin string) bool {
	return origin != "" && (slices.Contains(h.cfg.AllowedOrigins, "*") || slices.Contains(h.cfg.AllowedOrigins, origin))
}

func (h *Handlers) cors(c *gin.Context) {
	if origin := c.GetHeader("Origin"); h.allowedOrigin(origin) {
		c.Header("Access-Control-Allow-Origin", origin)
		c.Header("Vary", "Origin")
		c.Header("Access-Control-Expose-Headers", "X-Request-ID, Retry-After, Idempotent-Replayed")
	}
	c.Next()
}

func (h *Handlers) preflight(c *gin.Context) {
	if !h.allowedOrigin(c.GetHeader("Origin")) {
		httpserver.Error(c, http.StatusForbidden, "forbidden", "origin not allowed")
		return
	}
	c.Header("Access-Control-Allow-Methods", "GET, POST, OPTIONS")
	c.Header("Access-Control-Allow-Headers", "Authorization, Content-Type, Idempotency-Key, Last-Event-ID, X-Request-ID")
	c.Header("Access-Control-Max-Age", "600")
	c.Status(http.StatusNoContent)
}

func (h *Handlers) unavailable(c *gin.Context, msg string) {
	httpserver.Unavailable(c, h.cfg.ClientRetry, msg)
}

// bodyOverhead is how much larger than max_event_bytes a request body may be:
// the stored event is the body re-encoded compactly, with tenant_id and
// timestamp added.
const bodyOverhead = 4 << 10

func (h *Handlers) publish(c *gin.Context) {
	channel := c.Param("channel")
	if !ValidChannel(channel) {
		httpserver.Error(c, http.StatusNotFound, "not_found", "unknown channel "+strconv.Quote(channel))
		return
	}
	if owner := ChannelOwner(channel); owner != "" {
		httpserver.Error(c, http.StatusForbidden, "forbidden", "channel "+channel+" is written by the "+owner+" module only")
		return
	}
	key, ok := singleHeader(c, "Idempotency-Key")
	if !ok {
		return
	}
	if len(key) > MaxIdempotencyKeyBytes {
		h.fail(c, invalid("Idempotency-Key", "must be at most %d bytes, got %d", MaxIdempotencyKeyBytes, len(key)))
		return
	}
	if !httpserver.JSONContentType(c) {
		return
	}
	limit := int64(h.cfg.MaxEventBytes) + bodyOverhead
	raw, err := io.ReadAll(http.MaxBytesReader(c.Writer, c.Request.Body, limit))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			if tooBig.Limit < limit { // http.max_body_bytes is the smaller limit
				httpserver.BodyReadError(c, err)
				return
			}
			httpserver.Error(c, http.StatusRequestEntityTooLarge, "event_too_large",
				"the request body is over "+strconv.FormatInt(limit, 10)+" bytes; realtime.max_event_bytes is "+strconv.Itoa(h.cfg.MaxEventBytes))
			return
		}
		httpserver.BodyReadError(c, err) // 408 past http.read_timeout, else 400
		return
	}
	// One JSON object and nothing after it, no key twice, bounded nesting:
	// the same rules as every other body (httpserver.BindJSON).
	if field, err := httpserver.CheckJSONObject(raw); err != nil {
		if field == "" {
			field = "body"
		}
		c.AbortWithStatusJSON(http.StatusBadRequest, gin.H{"error": "invalid_body", "message": "the request body must be one JSON object: " + err.Error(), "field": field})
		return
	}
	// Numbers are kept as they were written (json.Number): decoded as
	// float64, an integer such as 12345678901234567890 would be stored
	// rounded, as another number than the caller sent.
	var body map[string]any
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	if err := dec.Decode(&body); err != nil || body == nil {
		msg := "the request body must be one JSON object"
		if err != nil {
			msg += ": " + err.Error()
		}
		c.AbortWithStatusJSON(http.StatusBadRequest, gin.H{"error": "invalid_body", "message": msg, "field": "body"})
		return
	}
	id, replayed, err := h.hub.publish(c.Request.Context(), auth.CallerOf(c).TenantID, channel, key, body, false)
	if err != nil {
		h.fail(c, err)
		return
	}
	if replayed {
		c.Header("Idempotent-Replayed", "true")
	}
	c.JSON(http.StatusAccepted, gin.H{"id": id})
}

// fail answers a publish's error: the caller's mistakes with 4xx naming what
// is wrong, a Redis condition with 503 naming it, anything else with 500.
func (h *Handlers) fail(c *gin.Context, err error) {
	var ve *ValidationError
	var tl *TooLargeError
	switch {
	case errors.As(err, &ve):
		c.AbortWithStatusJSON(http.StatusBadRequest, gin.H{"error": "validation_error", "message": ve.Error(), "field": ve.Field})
	case errors.As(err, &tl):
		httpserver.Error(c, http.StatusRequestEntityTooLarge, "event_too_large", tl.Error())
	case errors.Is(err, ErrWrongTenant):
		httpserver.Error(c, http.StatusForbidden, "forbidden", "tenant_id must be the caller's tenant")
	case errors.Is(err, ErrOwnedChannel):
		httpserver.Error(c, http.StatusForbidden, "forbidden", err.Error())
	case errors.Is(err, ErrIdempotencyConflict):
		httpserver.Error(c, http.StatusUnprocessableEntity, "idempotency_conflict", "this Idempotency-Key was used with a different event")
	case errors.Is(err, redis.ErrUnavailable):
		h.unavailable(c, "cannot publish: "+redis.Describe(err))
	case errors.Is(err, context.Canceled):
		c.Abort() // the client left
	default:
		httpserver.Internal(c, h.hub.log, "publishing the event", err)
	}
}

func (h *Handlers) stream(c *gin.Context) {
	name := c.Param("channel")
	var channels map[string]bool
	var names []string
	switch {
	case name == AllChannels:
		names = Channels
	case ValidChannel(name):
		channels = map[string]bool{name: true}
		names = []string{name}
	default:
		httpserver.Error(c, http.StatusNotFound, "not_found", "unknown channel "+strconv.Quote(name))
		return
	}
	lastID, ok := singleHeader(c, "Last-Event-ID")
	if !ok {
		return
	}
	if lastID != "" {
		if _, err := parseID(lastID); err != nil {
			c.AbortWithStatusJSON(http.StatusBadRequest, gin.H{"error": "invalid_last_event_id",
				"message": "Last-Event-ID is not an event id of this service (<milliseconds>-<sequence>)", "field": "Last-Event-ID"})
			return
		}
	}
	if h.drain.Draining() {
		h.unavailable(c, "this instance is shutting down; reconnect")
		return
	}
	if err := h.hub.mgr.Err(); err != nil {
		h.unavailable(c, "realtime is unavailable: "+redis.Describe(err))
		return
	}
	caller := auth.CallerOf(c)
	tenant := caller.TenantID

	// Where this client stands: after lastID (resume; see resumePoint), or
	// after the newest event this process has dispatched for the tenant,
	// taken atomically with registration: events dispatched from then on
	// arrive live. A resuming client's history is read after registering, and
	// live events at or before what history replayed are skipped
	// (session.replayedUpTo), so each event arrives once.
	ctx := c.Request.Context()
	var reset *resetInfo
	cursor := lastID
	if lastID != "" {
		var first, last string
		err := h.hub.read(ctx, func() (err error) { first, last, err = h.hub.store.bounds(ctx, tenant); return err })
		switch {
		case errors.Is(err, redis.ErrUnavailable):
			h.unavailable(c, "realtime is unavailable: "+redis.Describe(err))
			return
		case errors.Is(err, context.Canceled):
			c.Abort()
			return
		case err != nil:
			httpserver.Internal(c, h.hub.log, "reading the history", err)
			return
		}
		reset, cursor = resumePoint(lastID, first, last)
	}
	cl, seen, err := h.hub.register(tenant, channels)
	if err != nil {
		h.unavailable(c, "too many open streams; retry later")
		return
	}
	known := lastID != ""
	if !known && seen != "" {
		cursor, known = seen, true
	}
	if !known {
		cursor = "0-0" // nothing seen yet: every live event is new
	}
	connectedAt := time.Now()

	// The stream leaves the HTTP server: the connection is taken over and
	// served by a small goroutine of the hub, so an idle client costs neither
	// the server's per-request goroutine and buffers nor the middleware's
	// stack. (The access log therefore records the stream's start only.)
	hdr := c.Writer.Header().Clone()
	hdr.Set("Content-Type", "text/event-stream")
	hdr.Set("Cache-Control", "no-cache")
	hdr.Set("Connection", "close")
	hdr.Set("X-Accel-Buffering", "no")
	c.Status(http.StatusOK) // for the access log and metrics
	conn, rw, err := c.Writer.Hijack()
	if err != nil {
		h.hub.unregister(cl)
		httpserver.Error(c, http.StatusInternalServerError, "internal_error", "streaming is not supported on this connection")
		return
	}
	if rw.Reader.Buffered() > 0 {
		// A client that pipelines requests after a stream is not an SSE client.
		h.hub.unregister(cl)
		_ = conn.Close()
		return
	}
	w := newSSEWriter(conn, h.cfg.WriteTimeout)
	w.head(hdr)
	w.retry(h.cfg.ClientRetry)
	w.eventJSON("connected", gin.H{"channels": names})
	if reset != nil {
		w.eventJSON("reset", gin.H{"reason": reset.reason, "cause": reset.cause, "last_event_id": lastID})
	}
	s := &session{h: h, cl: cl, w: w, all: channels == nil, cursor: cursor, cursorKnown: known, connectedAt: connectedAt, resume: lastID != ""}
	if s.resume {
		s.replayedUpTo = cursor // the client has everything up to its resume point
	}
	h.hub.serve(func(stop <-chan struct{}) { s.serve(conn, caller.ValidUntil(), stop) })
}

// singleHeader returns the value of header name, trimmed, "" when absent. A
// header given more than once with different values is ambiguous — which one
// would count is not for the server to guess — and is answered with 400
// naming it (ok false); repeats of one value are that value.
func singleHeader(c *gin.Context, name string) (string, bool) {
	values := c.Request.Header.Values(name)
	if len(values) == 0 {
		return "", true
	}
	v := strings.TrimSpace(values[0])
	for _, other := range values[1:] {
		if strings.TrimSpace(other) != v {
			c.AbortWithStatusJSON(http.StatusBadRequest, gin.H{"error": "validation_error",
				"message": name + " is given more than once with different values; send it once", "field": name})
			return "", false
		}
	}
	return v, true
}

// resetInfo is what an "event: reset" says.
type resetInfo struct{ cause, reason string }

// Causes of a reset.
const (
	resetBehind = "behind" // the id is older than the history: events were dropped
	resetAhead  = "ahead"  // the id is newer than the history: Redis lost events
	resetEmpty  = "empty"  // the history holds nothing
)

// resumePoint decides how a stream resumed after lastID starts, given the
// oldest and newest ids the history holds ("" when it is empty). It returns
// the reset to announce (nil for a plain resume) and the cursor: the stream
// replays what follows the cursor, and live events after it follow.
//
// An id inside the history (its bounds included) resumes right after it. An
// id older than the history resets and replays the whole history. An id newer
// than the newest stored one is legitimate after a failover or a Redis restart
// that lost the last events: it resets and continues after the newest stored
// event, so that every event stored from now on is delivered (were the cursor
// the client's id, events with smaller new ids would be skipped). An empty
// history resets and delivers everything stored from now on.
func resumePoint(lastID, first, last string) (*resetInfo, string) {
	switch {
	case first == "":
		return &resetInfo{resetEmpty, "the history is empty: events up to the requested one are no longer held"}, "0-0"
	case idLess(lastID, first):
		return &resetInfo{resetBehind, "the requested event is older than the history"}, lastID
	case idLess(last, lastID):
		return &resetInfo{resetAhead, "the requested event is ahead of the history: the server lost its newest events (a failover or a restart of Redis); delivery continues with the next events"}, last
	}
	return nil, lastID
}

// session is one open stream.
type session struct {
	h           *Handlers
	cl          *client
	w           *sseWriter
	all         bool
	cursor      string
	cursorKnown bool // false until the first event when the tenant had none
	// replayedUpTo is the newest id the client has from history (its resume
	// point, then each catch-up's last event), "" when none: live events at
	// or before it were sent from history already. Live events are compared
	// with it, not with the cursor, so that a cursor ahead of Redis's ids (an
	// id Redis lost in a failover, dispatched live before) never swallows the
	// events that follow.
	replayedUpTo string
	connectedAt  time.Time // start of a catch-up when the cursor is not known
	resume       bool      // the client sent Last-Event-ID
}

const shutdownReason = "this instance is shutting down; reconnect with Last-Event-ID"

// end sends the event that says why the stream closes.
func (s *session) end(event, reason string) {
	s.w.eventJSON(event, gin.H{"reason": reason})
	_ = s.w.flush()
}

// serve runs the stream on conn until it ends, then closes conn and
// unregisters the client. stop closes when the hub stops.
func (s *session) serve(conn net.Conn, expires time.Time, stop <-chan struct{}) {
	defer s.h.hub.unregister(s.cl)
	defer func() { _ = conn.Close() }()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	// The client sends nothing more; a read returns only when it goes away.
	go func() {
		var b [1]byte
		_, _ = conn.Read(b[:])
		cancel()
	}()
	if s.w.flush() != nil {
		return
	}
	if s.resume && !s.catchUp(ctx) {
		return
	}
	s.run(ctx, expires, stop)
}

// isNew reports whether a live event was not sent from history already.
func (s *session) isNew(ev *Event) bool {
	return s.replayedUpTo == "" || idLess(s.replayedUpTo, ev.ID)
}

func (s *session) send(ev *Event) {
	ev.buildFrames()
	if s.all {
		s.w.frame(ev.frameAll)
	} else {
		s.w.frame(ev.frame)
	}
	s.cursor, s.cursorKnown = ev.ID, true
	s.h.hub.stats.Delivered.Add(1)
}

// catchUp sends every stored event after the cursor. A Redis error leaves the
// stream open: the next resubscription asks again.
func (s *session) catchUp(ctx context.Context) bool {
	if !s.cursorKnown {
		// No event since this client connected: read from a little before
		// it connected (clocks of this host and Redis may differ).
		s.cursor = strconv.FormatInt(s.connectedAt.Add(-5*time.Second).UnixMilli(), 10) + "-0"
	}
	for {
		var evs []*Event
		err := s.h.hub.read(ctx, func() (err error) {
			evs, err = s.h.hub.store.after(ctx, s.cl.tenant, s.cursor, 500)
			return err
		})
		if err != nil {
			return ctx.Err() == nil
		}
		for _, ev := range evs {
			if s.cl.wants(ev.Channel) {
				s.send(ev)
			} else {
				s.cursor = ev.ID
			}
			s.replayedUpTo = ev.ID
		}
		if len(evs) > 0 && s.w.flush() != nil {
			return false
		}
		if len(evs) < 500 {
			return true
		}
	}
}

func (s *session) run(ctx context.Context, expires time.Time, stop <-chan struct{}) {
	heartbeat := time.NewTicker(s.h.cfg.HeartbeatInterval)
	defer heartbeat.Stop()
	var expiry <-chan time.Time
	if !expires.IsZero() {
		t := time.NewTimer(time.Until(expires))
		defer t.Stop()
		expiry = t.C
	}
	for {
		select {
		case ev := <-s.cl.events:
			if !s.isNew(ev) {
				continue // already sent from history
			}
			s.send(ev)
			// Send whatever else is queued in the same write.
			for more := true; more; {
				select {
				case ev := <-s.cl.events:
					if s.isNew(ev) {
						s.send(ev)
					}
				default:
					more = false
				}
			}
			if s.w.flush() != nil {
				return
			}
		case <-s.cl.backfill:
			if !s.catchUp(ctx) {
				return
			}
		case <-heartbeat.C:
			s.w.comment("heartbeat " + time.Now().UTC().Format(time.RFC3339))
			if s.w.flush() != nil {
				return
			}
		case <-s.cl.kicked:
			s.end("slow_client", "too slow to keep up; reconnect with Last-Event-ID")
			return
		case <-expiry:
			s.end("token_expired", "the access token expired; reconnect with a fresh token and Last-Event-ID")
			return
		case <-s.h.drain.Done():
			s.end("shutdown", shutdownReason)
			return
		case <-stop:
			s.end("shutdown", shutdownReason)
			return
		case <-ctx.Done():
			return
		}
	}
}
