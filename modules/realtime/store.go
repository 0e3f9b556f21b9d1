package realtime

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	goredis "github.com/redis/go-redis/v9"
)

// Event is one stored event as streams deliver it.
type Event struct {
	// ID is the Redis Stream id: totally ordered per tenant.
	ID      string
	Tenant  string
	Channel string
	Type    string
	// Data is the event's JSON object.
	Data json.RawMessage

	// frame and frameAll are the event's SSE bytes for a single-channel
	// stream and for /events (with "source"), built once.
	frame, frameAll []byte
}

// buildFrames prepares the SSE bytes of the event.
func (e *Event) buildFrames() {
	if e.frame != nil {
		return
	}
	e.frame = sseFrame(e.ID, e.Type, e.Data)
	e.frameAll = sseFrame(e.ID, e.Type, withSource(e.Data, e.Channel))
}

// envelope is the pub/sub payload that tells every process about a stored event.
type envelope struct {
	Tenant  string          `json:"t"`
	ID      string          `json:"id"`
	Channel string          `json:"c"`
	Type    string          `json:"e"`
	Data    json.RawMessage `json:"d"`
}

// dataSep separates an envelope's head from its data (see publishScript): it
// cannot occur inside the head, whose strings escape every quote.
const dataSep = `,"d":`

// decodeEnvelope reads an announcement. The publish script writes the head
// (t, id, c, e) as JSON, then ,"d": and the event's data, which Publish
// encoded, then the closing brace: only the small head is decoded, the data
// is taken as it is. Anything else is decoded in full.
func decodeEnvelope(payload string) (*Event, error) {
	var env envelope
	i := strings.Index(payload, dataSep)
	if i > 0 && strings.HasSuffix(payload, "}") && i+len(dataSep) < len(payload)-1 {
		if err := json.Unmarshal([]byte(payload[:i]+"}"), &env); err == nil {
			env.Data = json.RawMessage(payload[i+len(dataSep) : len(payload)-1])
		} else {
			i = -1
		}
	}
	if i <= 0 || env.Data == nil {
		env = envelope{}
		if err := json.Unmarshal([]byte(payload), &env); err != nil {
			return nil, err
		}
	}
	if env.Tenant == "" || env.ID == "" {
		return nil, fmt.Errorf("envelope without tenant or id: %.100q", payload)
	}
	return &Event{ID: env.ID, Tenant: env.Tenant, Channel: env.Channel, Type: env.Type, Data: env.Data}, nil
}

// store keeps each tenant's events in one Redis Stream (every channel, the
// channel as a field) so that ids are totally ordered per tenant, also on
// Cluster: each tenant's stream is one key. The key's hash tag is the tenant.
type store struct {
	rdb     goredis.UniversalClient
	prefix  string // e.g. "redifx:realtime:"
	maxLen  int64
	ttl     time.Duration
	channel string // the one pub/sub channel of every process

	pubs publishQueue // events waiting for the next batch (see add)
}

func newStore(rdb goredis.UniversalClient, keyPrefix string, cfg Config) *store {
	return &store{
		rdb:     rdb,
		prefix:  keyPrefix + "realtime:",
		maxLen:  int64(cfg.HistorySize * len(Channels)),
		ttl:     cfg.HistoryTTL,
		channel: keyPrefix + "realtime:events",
	}
}

func (s *store) key(tenant string) string { return s.prefix + "{" + tenant + "}:stream" }

// onusKey holds the latest onu-status event of each ONU of tenant.
func (s *store) onusKey(tenant string) string { return s.prefix + "{" + tenant + "}:onus" }

// onusSeenKey holds when each ONU of tenant was last heard from (a sorted set
// by time), so that ONUs silent for longer than the history are dropped.
func (s *store) onusSeenKey(tenant string) string { return s.prefix + "{" + tenant + "}:onus:seen" }

// countsKey holds tenant's event counts by channel for the minute of t.
func (s *store) countsKey(tenant string, t time.Time) string {
	return s.prefix + "{" + tenant + "}:counts:" + strconv.FormatInt(t.Unix()/60, 10)
}

// after returns up to count events of tenant after id (exclusive).
func (s *store) after(ctx context.Context, tenant, id string, count int64) ([]*Event, error) {
	msgs, err := s.rdb.XRangeN(ctx, s.key(tenant), "("+id, "+", count).Result()
	if err != nil {
		return nil, err
	}
	out := make([]*Event, 0, len(msgs))
	for _, m := range msgs {
		out = append(out, toEvent(tenant, m))
	}
	return out, nil
}

// first returns the oldest id still held, or "" when there is no history.
func (s *store) first(ctx context.Context, tenant string) (string, error) {
	msgs, err := s.rdb.XRangeN(ctx, s.key(tenant), "-", "+", 1).Result()
	if err != nil || len(msgs) == 0 {
		return "", err
	}
	return msgs[0].ID, nil
}

func toEvent(tenant string, m goredis.XMessage) *Event {
	str := func(k string) string { v, _ := m.Values[k].(string); return v }
	return &Event{ID: m.ID, Tenant: tenant, Channel: str("c"), Type: str("e"), Data: json.RawMessage(str("d"))}
}

// streamID is a parsed Redis Stream id.
type streamID struct{ ms, seq uint64 }

func parseID(s string) (streamID, error) {
	msPart, seqPart, ok := strings.Cut(s, "-")
	ms, err1 := strconv.ParseUint(msPart, 10, 64)
	seq, err2 := strconv.ParseUint(seqPart, 10, 64)
	if !ok || err1 != nil || err2 != nil {
		return streamID{}, fmt.Errorf("not an event id: %q", s)
	}
	return streamID{ms, seq}, nil
}

func (a streamID) less(b streamID) bool { return a.ms < b.ms || a.ms == b.ms && a.seq < b.seq }

// idLess compares two valid ids.
func idLess(a, b string) bool {
	pa, _ := parseID(a)
	pb, _ := parseID(b)
	return pa.less(pb)
}
