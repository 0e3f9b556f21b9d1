package realtime

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/redifx/redifx/modules/redis"
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
	rdb      goredis.UniversalClient
	keys     keys
	maxLen   int64
	maxBytes int64
	ttl      time.Duration
	// callTTL is how long a publish script call's record is kept: longer
	// than go-redis may take to send the call again (see publishScript).
	callTTL time.Duration

	pubs publishQueue // events waiting for the next batch (see add)
}

// newStore builds the store, for a client with the default
// redis.socket_timeout (NewHub sets callTTL for the real one).
func newStore(rdb goredis.UniversalClient, keyPrefix string, cfg Config) *store {
	return &store{
		rdb:      rdb,
		keys:     newKeys(keyPrefix),
		maxLen:   int64(cfg.HistorySize * len(Channels)),
		maxBytes: cfg.HistoryMaxBytes,
		ttl:      cfg.HistoryTTL,
		callTTL:  callRecordTTL(redis.DefaultConfig().SocketTimeout),
	}
}

// callRecordTTL covers every attempt go-redis makes (up to four, each
// bounded by the socket timeout, with backoffs under a second), with a wide
// margin, and at least a minute.
func callRecordTTL(socketTimeout time.Duration) time.Duration {
	return max(time.Minute, 10*(socketTimeout+time.Second))
}

// after returns up to count events of tenant after id (exclusive).
func (s *store) after(ctx context.Context, tenant, id string, count int64) ([]*Event, error) {
	msgs, err := s.rdb.XRangeN(ctx, s.keys.stream(tenant), "("+id, "+", count).Result()
	if err != nil {
		return nil, redis.Classify(err)
	}
	out := make([]*Event, 0, len(msgs))
	for _, m := range msgs {
		out = append(out, toEvent(tenant, m))
	}
	return out, nil
}

// bounds returns the oldest and the newest id the history holds, or "", ""
// when it holds nothing.
func (s *store) bounds(ctx context.Context, tenant string) (first, last string, err error) {
	var oldest, newest *goredis.XMessageSliceCmd
	_, err = s.rdb.Pipelined(ctx, func(p goredis.Pipeliner) error {
		oldest = p.XRangeN(ctx, s.keys.stream(tenant), "-", "+", 1)
		newest = p.XRevRangeN(ctx, s.keys.stream(tenant), "+", "-", 1)
		return nil
	})
	if err != nil {
		return "", "", redis.Classify(err)
	}
	if o, n := oldest.Val(), newest.Val(); len(o) > 0 && len(n) > 0 {
		return o[0].ID, n[0].ID, nil
	}
	return "", "", nil
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
