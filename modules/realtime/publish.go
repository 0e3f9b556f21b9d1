package realtime

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/redifx/redifx/modules/redis"
	goredis "github.com/redis/go-redis/v9"
)

// publishScript stores a batch of one tenant's events, trims the history by
// length, bytes and age, renews the keys' TTLs, and announces each event (one
// PUBLISH per event, the envelope every replica decodes) — atomically, so
// announcements of one tenant leave in id order.
//
// Every check comes before the first write (arguments, the kind of value each
// key holds, idempotency records, counters), so an error leaves nothing
// half-written; past the checks it only writes. The kind of value a key
// holds is learnt from the reads the script makes anyway (XLEN, GET, HMGET,
// through pcall: a read that succeeded means that kind or nothing); TYPE is
// asked only for the ONU views, which are written without being read. Redis refuses a script for
// OOM at its first write only, so OOM leaves nothing behind either.
//
// An event with an idempotency key (KEYS[idx]) whose record exists is not
// stored again: its answer is "=" and the stored id when the fingerprint
// matches, "!" and the stored id when it does not. Otherwise the event is
// stored and the record written with it.
//
// It also keeps two views for dashboards in the same slot: the latest state
// of each ONU (KEYS[2], a hash by serial, for onu-status events; KEYS[4] says
// when each was last heard from, and ONUs silent for longer than the history
// are dropped, a hundred at a time) and per-minute event counts by channel
// (KEYS[3], kept 61 minutes from its first count: a minute is read for the
// hour after it). KEYS[5] holds the bytes the history holds (channel, type
// and data of each event), recounted when it is missing.
//
// A call may name a record of its own (KEYS[call_idx], a unique name per
// call): the script writes its answers there, and a call whose record exists
// is a repeat of one that ran — go-redis sends a command again when its reply
// times out, and Redis runs both copies once it answers — so it returns the
// recorded answers and writes nothing. Without it, a publish during a stall
// longer than redis.socket_timeout was stored twice.
//
// KEYS: stream, onus, counts, onus_seen, stream_bytes, then the batch's
// idempotency records and the call record. ARGV: max_len, cutoff_ms, ttl_ms,
// tenant, pubsub_channel, now_ms, max_bytes, n, then per event: channel,
// event_type, data, onu_serial, idempotency key index in KEYS (0: none),
// fingerprint; then, optionally, call_idx and the call record's ttl_ms.
// Returns one answer per event, in order.
var publishScript = goredis.NewScript(`
local function bad(what) return redis.error_reply('ERR realtime publish: ' .. what) end
local function int(v, lo)
  local x = tonumber(v)
  if x == nil or x ~= math.floor(x) or x < lo or x > 9007199254740991 then return nil end
  return x
end
-- read runs a read command on KEYS[i]: its answer and true, or nil and
-- false when the key holds the wrong kind of value. A read that succeeded
-- means the key holds that kind of value or nothing: writing it cannot fail.
local function read(cmd, i, ...)
  local r = redis.pcall(cmd, KEYS[i], ...)
  if type(r) == 'table' and r.err then return nil, false end
  return r, true
end
local maxLen, cutoff, ttl = int(ARGV[1], 1), int(ARGV[2], 0), int(ARGV[3], 1)
local tenant, pubsub, now, maxBytes, n = ARGV[4], ARGV[5], int(ARGV[6], 0), int(ARGV[7], 1), int(ARGV[8], 0)
if not maxLen then return bad('max_len must be a positive integer') end
if not cutoff then return bad('cutoff_ms must be a non-negative integer') end
if not ttl then return bad('ttl_ms must be a positive integer') end
if not now then return bad('now_ms must be a non-negative integer') end
if not maxBytes then return bad('max_bytes must be a positive integer') end
if not n then return bad('n must be a non-negative integer') end
if tenant == nil or tenant == '' or pubsub == nil or pubsub == '' then return bad('tenant and pubsub channel are required') end
local callIdx, callTTL = 0, 0
if #ARGV == 10 + 6 * n then
  callIdx, callTTL = int(ARGV[9 + 6 * n], 6), int(ARGV[10 + 6 * n], 1)
  if not callIdx or callIdx > #KEYS then return bad('call record index') end
  if not callTTL then return bad('call record ttl_ms must be a positive integer') end
elseif #ARGV ~= 8 + 6 * n then
  return bad('expected ' .. (8 + 6 * n) .. ' or ' .. (10 + 6 * n) .. ' arguments, got ' .. #ARGV)
end
if #KEYS < 5 then return bad('expected at least 5 keys') end
-- Numbers go to Redis as integer strings: Lua would write 2^53 as 9.007e+15.
local function str(x) return string.format('%d', x) end
-- A repeat of a call that ran already (the client timed out and sent it
-- again) answers what that call answered, and writes nothing.
if callIdx ~= 0 then
  local done, ok = read('GET', callIdx)
  if not ok then return bad('the call record holds the wrong kind of value') end
  if done then
    local prev = {}
    for a in string.gmatch(done, '[^,]+') do prev[#prev + 1] = a end
    if #prev ~= n then return bad('the call record is corrupt') end
    return prev
  end
end
local len, lenOK = read('XLEN', 1)
if not lenOK then return bad('key 1 holds the wrong kind of value') end
local total, totalOK = read('GET', 5)
if not totalOK then return bad('key 5 holds the wrong kind of value') end
-- recs[k]: event k's idempotency record (false: none), read once; added:
-- the events to store (an event whose key an earlier one of this call
-- stores is answered with that one's id).
local counts, chans, recs, serials, added, storing = {}, {}, {}, false, 0, {}
for k = 0, n - 1 do
  local a = 9 + 6 * k
  local ch, et, d, idx = ARGV[a], ARGV[a + 1], ARGV[a + 2], tonumber(ARGV[a + 4])
  if ch == '' or et == '' then return bad('event ' .. (k + 1) .. ' needs a channel and a type') end
  if string.sub(d, 1, 1) ~= '{' or string.sub(d, -1) ~= '}' then return bad('event ' .. (k + 1) .. ' data must be a JSON object') end
  if idx == nil or idx ~= math.floor(idx) or (idx ~= 0 and (idx < 6 or idx > #KEYS)) then return bad('event ' .. (k + 1) .. ' idempotency key index') end
  local rec = false
  if idx ~= 0 then
    local ok
    rec, ok = read('GET', idx)
    if not ok then return bad('idempotency key ' .. idx .. ' holds the wrong kind of value') end
    if rec and not string.find(rec, '^%d+%-%d+ ') then return bad('idempotency record ' .. idx .. ' is corrupt') end
  end
  recs[k] = rec
  if not rec and not storing[idx] then
    added = added + 1
    if idx ~= 0 then storing[idx] = true end
  end
  if ARGV[a + 3] ~= '' then serials = true end
  if not counts[ch] then counts[ch] = 0; chans[#chans + 1] = ch end
  counts[ch] = counts[ch] + 1
end
if #chans > 0 then
  local cur, ok = read('HMGET', 3, unpack(chans))
  if not ok then return bad('key 3 holds the wrong kind of value') end
  for i, v in ipairs(cur) do
    if v and not int(v, 0) then return bad('count of ' .. chans[i] .. ' is not a small integer') end
  end
end
-- The ONU views are written without being read: check them.
if serials then
  for i, want in pairs({[2] = 'hash', [4] = 'zset'}) do
    local t = redis.call('TYPE', KEYS[i]).ok
    if t ~= 'none' and t ~= want then return bad('key ' .. i .. ' holds the wrong kind of value') end
  end
end
local function size(fields)
  local s = 0
  for j = 2, #fields, 2 do s = s + #fields[j] end
  return s
end
if total then
  total = int(total, 0)
  if not total then return bad('the byte count is corrupt') end
else
  total = 0
  local from = '-'
  while true do
    local got = redis.call('XRANGE', KEYS[1], from, '+', 'COUNT', 200)
    for _, e in ipairs(got) do total = total + size(e[2]) end
    if #got < 200 then break end
    from = '(' .. got[#got][1]
  end
end
-- Over the length by a few events (the usual case once the history is
-- full): the events the new ones push out, and the one after them, are read
-- now, and each XADD drops the oldest (MAXLEN =).
local over, pushed = len + added - maxLen, false
if over > 0 and over < len and over < 100 then
  pushed = redis.call('XRANGE', KEYS[1], '-', '+', 'COUNT', over + 1)
end
-- Every check is done: from here on the script only writes.
local out, written, onus = {}, {}, false
for k = 0, n - 1 do
  local a = 9 + 6 * k
  local ch, et, d, serial, idx, fp = ARGV[a], ARGV[a + 1], ARGV[a + 2], ARGV[a + 3], tonumber(ARGV[a + 4]), ARGV[a + 5]
  -- An earlier event of this call may have used the same key.
  local rec = recs[k]
  if idx ~= 0 and written[idx] then rec = written[idx] end
  if rec then
    local id, was = string.match(rec, '^(%d+%-%d+) (.*)$')
    if was == fp then out[k + 1] = '=' .. id else out[k + 1] = '!' .. id end
    counts[ch] = counts[ch] - 1
  else
    local id
    if pushed then
      id = redis.call('XADD', KEYS[1], 'MAXLEN', str(maxLen), '*', 'c', ch, 'e', et, 'd', d)
    else
      id = redis.call('XADD', KEYS[1], '*', 'c', ch, 'e', et, 'd', d)
      len = len + 1
    end
    out[k + 1] = id
    total = total + #ch + #et + #d
    if idx ~= 0 then
      written[idx] = id .. ' ' .. fp
      redis.call('SET', KEYS[idx], written[idx], 'PX', str(ttl))
    end
    if serial ~= '' then
      redis.call('HSET', KEYS[2], serial, d)
      redis.call('ZADD', KEYS[4], str(now), serial)
      onus = true
    end
    local env = cjson.encode({t = tenant, id = id, c = ch, e = et})
    env = string.sub(env, 1, -2) .. ',"d":' .. d .. '}'
    redis.call('PUBLISH', pubsub, env)
  end
end
-- Trim the oldest events while the history is over its length or byte budget,
-- or older than the cutoff. The new events are never older than the cutoff,
-- and a single event is never over the budget, so the newest event always
-- stays; a batch larger than the budget (or the length) keeps its newest
-- part, like any burst: its older events were delivered live but are not
-- resumable, and a resume from them gets a reset. Over the
-- length, one read takes the events to drop and the one after them, whose
-- age says whether to go on.
local trim = true
if pushed then
  for j = 1, over do total = total - size(pushed[j][2]) end
  len = maxLen
  -- The oldest event left was read: go on only if it is too old or the
  -- history over its byte budget.
  local first = pushed[over + 1]
  trim = total > maxBytes or (first ~= nil and tonumber(string.match(first[1], '^(%d+)')) < cutoff)
end
while trim and len > 0 do
  local got
  if total > maxBytes then
    got = redis.call('XRANGE', KEYS[1], '-', '+', 'COUNT', 100)
  elseif len > maxLen then
    got = redis.call('XRANGE', KEYS[1], '-', '+', 'COUNT', math.min(len - maxLen, 99) + 1)
  else
    got = redis.call('XRANGE', KEYS[1], '-', '(' .. str(cutoff) .. '-0', 'COUNT', 100)
  end
  local del = {}
  for _, e in ipairs(got) do
    local ms = tonumber(string.match(e[1], '^(%d+)'))
    if len > maxLen or total > maxBytes or ms < cutoff then
      del[#del + 1] = e[1]
      total = total - size(e[2])
      len = len - 1
    else
      break
    end
  end
  if #del > 0 then redis.call('XDEL', KEYS[1], unpack(del)) end
  if #del < #got or #got == 0 then break end
end
if len == 0 or total < 0 then total = 0 end
if len > 0 then
  redis.call('PEXPIRE', KEYS[1], str(ttl))
  redis.call('SET', KEYS[5], str(total), 'PX', str(ttl))
else
  redis.call('DEL', KEYS[5])
end
if onus then
  local stale = redis.call('ZRANGEBYSCORE', KEYS[4], '-inf', '(' .. str(cutoff), 'LIMIT', 0, 100)
  if #stale > 0 then
    redis.call('HDEL', KEYS[2], unpack(stale))
    redis.call('ZREM', KEYS[4], unpack(stale))
  end
  redis.call('PEXPIRE', KEYS[2], str(ttl))
  redis.call('PEXPIRE', KEYS[4], str(ttl))
end
-- The counts of a minute are read for the hour after it: the key's TTL is
-- set when a count starts (the key is made then), not renewed after.
local counted = false
for _, ch in ipairs(chans) do
  if counts[ch] > 0 and redis.call('HINCRBY', KEYS[3], ch, counts[ch]) == counts[ch] then counted = true end
end
if counted then redis.call('PEXPIRE', KEYS[3], 3660000) end
if callIdx ~= 0 then redis.call('SET', KEYS[callIdx], table.concat(out, ','), 'PX', str(callTTL)) end
return out
`)

// newCallID returns a name for one script call's record: 128 random bits.
func newCallID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// maxPublishBatch bounds the events one flush stores.
const maxPublishBatch = 256

// publishReq is one event waiting to be stored.
type publishReq struct {
	tenant, channel, eventType, serial string
	data                               []byte
	idemKey, fingerprint               string // idemKey "": no idempotency

	id       string
	replayed bool // the idempotency key was answered before: id is that answer
	err      error
	lead     bool          // set before wake: this caller flushes the next batch
	wake     chan struct{} // the event is stored (or failed), or lead is set
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

// add stores and announces one event; r.id is set once it is stored.
// r.serial, for onu-status events, also records the ONU's latest state.
func (s *store) add(ctx context.Context, r *publishReq) error {
	r.wake = make(chan struct{}, 1)
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
			return r.err
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
	return r.err
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
	cutoff := max(now.Add(-s.ttl).UnixMilli(), 0)
	var order []string
	groups := map[string][]*publishReq{}
	for _, r := range batch {
		if _, ok := groups[r.tenant]; !ok {
			order = append(order, r.tenant)
		}
		groups[r.tenant] = append(groups[r.tenant], r)
	}
	// Each tenant's call is built once: a repeat of it (NOSCRIPT, or
	// go-redis after a timeout) carries the same call record.
	type tenantCall struct {
		keys []string
		args []any
	}
	calls := map[string]tenantCall{}
	call := func(tenant string) ([]string, []any) {
		if c, ok := calls[tenant]; ok {
			return c.keys, c.args
		}
		g := groups[tenant]
		keys := []string{s.keys.stream(tenant), s.keys.onus(tenant), s.keys.counts(tenant, now), s.keys.onusSeen(tenant), s.keys.streamBytes(tenant)}
		args := make([]any, 0, 10+6*len(g))
		args = append(args, s.maxLen, cutoff, s.ttl.Milliseconds(), tenant, s.keys.pubsub(), now.UnixMilli(), s.maxBytes, len(g))
		for _, r := range g {
			idx := 0
			if r.idemKey != "" {
				keys = append(keys, s.keys.idem(tenant, r.idemKey))
				idx = len(keys)
			}
			args = append(args, r.channel, r.eventType, string(r.data), r.serial, idx, r.fingerprint)
		}
		keys = append(keys, s.keys.call(tenant, newCallID()))
		args = append(args, len(keys), s.callTTL.Milliseconds())
		calls[tenant] = tenantCall{keys, args}
		return keys, args
	}
	settle := func(tenant string, ids []string, err error) {
		for i, r := range groups[tenant] {
			switch {
			case err != nil:
				r.err = err
			case i < len(ids):
				r.settle(ids[i])
			default:
				r.err = fmt.Errorf("the publish script answered %d ids for %d events", len(ids), len(groups[tenant]))
			}
		}
	}
	if len(order) == 1 {
		keys, args := call(order[0])
		ids, err := publishScript.Run(ctx, s.rdb, keys, args...).StringSlice()
		settle(order[0], ids, redis.Classify(err))
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
		settle(tenant, ids, redis.Classify(err))
	}
}

// settle reads the script's answer for r: an id, "=" and the id an
// idempotency key was answered with, or "!" and that id when the key was used
// with a different request.
func (r *publishReq) settle(answer string) {
	switch {
	case strings.HasPrefix(answer, "="):
		r.id, r.replayed = answer[1:], true
	case strings.HasPrefix(answer, "!"):
		r.err = fmt.Errorf("%w (it was answered with event %s)", ErrIdempotencyConflict, answer[1:])
	default:
		r.id = answer
	}
}
