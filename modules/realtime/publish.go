package realtime

import (
	"context"
	"fmt"
	"strconv"
	"sync"
	"time"

	goredis "github.com/redis/go-redis/v9"
)

// publishScript stores a batch of one tenant's events, trims the history by
// length and age, renews the key's TTL, and announces each event (one PUBLISH
// per event, the envelope every replica decodes) — atomically, so
// announcements of one tenant leave in id order.
//
// It also keeps two views for dashboards in the same slot: the latest state
// of each ONU (KEYS[2], a hash by serial, for onu-status events; KEYS[4] says
// when each was last heard from, and ONUs silent for longer than the history
// are dropped, a hundred at a time) and per-minute event counts by channel
// (KEYS[3], kept 61 minutes).
//
// ARGV: max_len, cutoff_id, ttl_ms, tenant, pubsub_channel, now_ms,
// cutoff_ms, n, then per event: channel, event_type, data, onu_serial.
// Returns the events' ids, in order.
var publishScript = goredis.NewScript(`
local tenant, pubsub, now, cutoff = ARGV[4], ARGV[5], ARGV[6], ARGV[7]
local ids, counts, onus = {}, {}, false
local i = 9
for k = 1, tonumber(ARGV[8]) do
  local ch, et, d, serial = ARGV[i], ARGV[i + 1], ARGV[i + 2], ARGV[i + 3]
  i = i + 4
  local id = redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[1], '*', 'c', ch, 'e', et, 'd', d)
  ids[k] = id
  if serial ~= '' then
    redis.call('HSET', KEYS[2], serial, d)
    redis.call('ZADD', KEYS[4], now, serial)
    onus = true
  end
  counts[ch] = (counts[ch] or 0) + 1
  local env = cjson.encode({t = tenant, id = id, c = ch, e = et})
  env = string.sub(env, 1, -2) .. ',"d":' .. d .. '}'
  redis.call('PUBLISH', pubsub, env)
end
redis.call('XTRIM', KEYS[1], 'MINID', '~', ARGV[2])
redis.call('PEXPIRE', KEYS[1], ARGV[3])
if onus then
  local stale = redis.call('ZRANGEBYSCORE', KEYS[4], '-inf', '(' .. cutoff, 'LIMIT', 0, 100)
  if #stale > 0 then
    redis.call('HDEL', KEYS[2], unpack(stale))
    redis.call('ZREM', KEYS[4], unpack(stale))
  end
  redis.call('PEXPIRE', KEYS[2], ARGV[3])
  redis.call('PEXPIRE', KEYS[4], ARGV[3])
end
for ch, c in pairs(counts) do redis.call('HINCRBY', KEYS[3], ch, c) end
redis.call('PEXPIRE', KEYS[3], 3660000)
return ids
`)

// maxPublishBatch bounds the events one flush stores.
const maxPublishBatch = 256

// publishReq is one event waiting to be stored.
type publishReq struct {
	tenant, channel, eventType, serial string
	data                               []byte

	id   string
	err  error
	lead bool          // set before wake: this caller flushes the next batch
	wake chan struct{} // the event is stored (or failed), or lead is set
}

// publishQueue combines concurrent publishes: the first caller flushes every
// event waiting at that moment, in one script call per tenant (one round trip
// for them all); callers arriving meanwhile wait, and the first of them then
// flushes the next batch. No goroutine of its own, so it works before Start
// and after Stop; with one caller at a time it is a single script call.
type publishQueue struct {
	mu      sync.Mutex
	waiting []*publishReq
	busy    bool
}

// add stores and announces one event; the id is returned once it is stored.
// onuSerial, for onu-status events, also records the ONU's latest state.
func (s *store) add(ctx context.Context, tenant, channel, eventType, onuSerial string, data []byte) (string, error) {
	r := &publishReq{tenant: tenant, channel: channel, eventType: eventType, serial: onuSerial, data: data, wake: make(chan struct{}, 1)}
	q := &s.pubs
	q.mu.Lock()
	q.waiting = append(q.waiting, r)
	if q.busy {
		q.mu.Unlock()
		// Bounded by the flush in progress (the client's timeouts), so the
		// caller's context is not watched here: leaving would strand the
		// batch this caller may have to lead.
		<-r.wake
		if !r.lead {
			return r.id, r.err
		}
		q.mu.Lock()
	}
	q.busy = true
	n := min(len(q.waiting), maxPublishBatch)
	batch := q.waiting[:n:n]
	q.waiting = q.waiting[n:]
	q.mu.Unlock()

	// The batch is stored with a context of its own: one caller's
	// cancellation must not fail the others' events.
	s.flushSafely(context.WithoutCancel(ctx), batch)

	q.mu.Lock()
	if len(q.waiting) > 0 {
		next := q.waiting[0]
		next.lead = true
		next.wake <- struct{}{}
	} else {
		q.busy = false
		q.waiting = nil
	}
	q.mu.Unlock()
	for _, b := range batch {
		if b != r {
			b.wake <- struct{}{}
		}
	}
	return r.id, r.err
}

// flushSafely is flush that turns a panic into every unsettled event's
// error: the waiting callers and the next leader must never be stranded.
func (s *store) flushSafely(ctx context.Context, batch []*publishReq) {
	defer func() {
		if p := recover(); p != nil {
			for _, r := range batch {
				if r.id == "" && r.err == nil {
					r.err = fmt.Errorf("storing the event: %v", p)
				}
			}
		}
	}()
	s.flush(ctx, batch)
}

// flush stores batch: one script call per tenant, pipelined.
func (s *store) flush(ctx context.Context, batch []*publishReq) {
	now := time.Now()
	cutoff := strconv.FormatInt(now.Add(-s.ttl).UnixMilli(), 10)
	var order []string
	groups := map[string][]*publishReq{}
	for _, r := range batch {
		if _, ok := groups[r.tenant]; !ok {
			order = append(order, r.tenant)
		}
		groups[r.tenant] = append(groups[r.tenant], r)
	}
	call := func(tenant string) ([]string, []any) {
		g := groups[tenant]
		keys := []string{s.key(tenant), s.onusKey(tenant), s.countsKey(tenant, now), s.onusSeenKey(tenant)}
		args := make([]any, 0, 8+4*len(g))
		args = append(args, s.maxLen, cutoff+"-0", s.ttl.Milliseconds(), tenant, s.channel, now.UnixMilli(), cutoff, len(g))
		for _, r := range g {
			args = append(args, r.channel, r.eventType, string(r.data), r.serial)
		}
		return keys, args
	}
	settle := func(tenant string, ids []string, err error) {
		for i, r := range groups[tenant] {
			switch {
			case err != nil:
				r.err = err
			case i < len(ids):
				r.id = ids[i]
			default:
				r.err = fmt.Errorf("the publish script answered %d ids for %d events", len(ids), len(groups[tenant]))
			}
		}
	}
	if len(order) == 1 {
		keys, args := call(order[0])
		ids, err := publishScript.Run(ctx, s.rdb, keys, args...).StringSlice()
		settle(order[0], ids, err)
		return
	}
	cmds := make([]*goredis.Cmd, len(order))
	_, _ = s.rdb.Pipelined(ctx, func(p goredis.Pipeliner) error {
		for i, tenant := range order {
			keys, args := call(tenant)
			cmds[i] = publishScript.EvalSha(ctx, p, keys, args...)
		}
		return nil
	})
	for i, tenant := range order {
		ids, err := cmds[i].StringSlice()
		if goredis.HasErrorPrefix(err, "NOSCRIPT") {
			// The script is not loaded on that node yet: Run loads it.
			keys, args := call(tenant)
			ids, err = publishScript.Run(ctx, s.rdb, keys, args...).StringSlice()
		}
		settle(tenant, ids, err)
	}
}
