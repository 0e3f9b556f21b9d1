package jobs

import goredis "github.com/redis/go-redis/v9"

// Every key lives under one hash tag ("<prefix>{jobs}:"), so each script runs
// on one Cluster node. KEYS[1] is that base's meta key (it routes the script);
// ARGV[1] is the base itself, from which the scripts build the keys of the
// jobs and schedules they read inside Redis, by the rule of keys.go and from
// its constants. Scripts keep user JSON (parameters, result, error_details)
// as opaque strings: they never decode it, so nothing is altered.
//
// No partial writes: a script reads and checks everything before its first
// write — its arguments, the kind of value each key it writes holds, that
// each counter holds an integer and stays within ±9e18 after the increment —
// so an error (a bad argument, a key of the wrong type, an overflow) leaves
// Redis as it was; it comes back as "ERR redifx jobs: …", which callers treat
// as a logic error (500), not as Redis being unavailable. A server condition
// such as OOM also comes at the first write, so it cannot cut a script in half
// either.
//
// Two ways to get there. The scripts that run for every job (enqueue,
// dequeue, renew, progress, finish) are written out: each learns the kind of
// value a key holds from the reads it makes anyway (a read that succeeded
// means the key holds that kind or nothing; EXISTS 0 means nothing), asks
// TYPE only for keys it writes without reading, checks its counters from one
// HMGET per hash, and makes as its first write the one whose key it did not
// check, which, if it fails, fails alone. The others (sweep, cancel, fire,
// requeue, schedule creation) stage their writes (w) and commit checks every
// staged write before applying them. EVALSHA runs a script's whole body on
// every call, helper definitions included, so each script takes only the
// helpers it uses.

// luaCore: the base, errors and integers.
const luaCore = `
local base = ARGV[1]
-- bad aborts the script with a logic error (before any write).
local function bad(msg) error({err = 'ERR redifx jobs: ' .. msg}) end
local function show(v) return string.sub(tostring(v), 1, 40) end
-- LIMIT bounds every counter (a little under 2^63, and exact as a double).
local LIMIT = 9e18
-- isint: v is a string Redis reads as an integer within ±LIMIT.
local function isint(v)
  return type(v) == 'string' and #v <= 20 and (v == '0' or string.match(v, '^-?[1-9]%d*$') ~= nil)
    and math.abs(tonumber(v)) < LIMIT
end
-- int returns argument v (named name) as a number, or aborts.
local function int(name, v)
  if not isint(v) then bad(name .. ' is not an integer: ' .. show(v)) end
  return tonumber(v)
end
`

// luaIdent checks ids and priorities.
const luaIdent = `
-- ident checks an id that names a key (keyspace.ValidateID's rule).
local function valid_ident(v)
  return type(v) == 'string' and #v >= 1 and #v <= 128 and string.match(v, '^[%w%._%-@%+=]+$') ~= nil
end
local function ident(name, v)
  if not valid_ident(v) then bad(name .. ' cannot name a key: ' .. show(v)) end
  return v
end
local prios = {critical = true, high = true, normal = true, low = true}
local function prio_ok(p)
  if not prios[p] then bad('priority is not one of critical, high, normal, low: ' .. show(p)) end
  return p
end
`

// luaRead: reads and checks of the written-out scripts.
const luaRead = `
-- read runs a read command; a key holding the wrong kind of value aborts the
-- script (reads come before the first write).
local function read(cmd, k, ...)
  local r = redis.pcall(cmd, k, ...)
  if type(r) == 'table' and r.err then bad(cmd .. ' ' .. k .. ': ' .. r.err) end
  return r
end
-- counter_problem: field f of hash k, whose value is cur (as read; false when
-- absent), does not hold an integer or would leave the bounds after adding d.
local function counter_problem(k, f, cur, d)
  if cur and not isint(cur) then return 'field ' .. f .. ' of ' .. k .. ' is not an integer: ' .. show(cur) end
  if math.abs((tonumber(cur) or 0) + d) >= LIMIT or math.abs(d) >= LIMIT then
    return 'counter ' .. f .. ' of ' .. k .. ' would overflow'
  end
  return nil
end
local function counter(k, f, cur, d)
  local p = counter_problem(k, f, cur, d)
  if p then bad(p) end
end
-- want aborts unless key k holds a value of kind t or nothing: for a key the
-- script writes without reading it.
local function want(k, t)
  local got = redis.call('TYPE', k).ok
  if got ~= 'none' and got ~= t then bad('key ' .. k .. ' holds a ' .. got .. ', not a ' .. t) end
end
`

// luaCounters: counters and many-valued writes of the written-out scripts.
const luaCounters = `
-- counters_check reads the fields of hash k that d (field -> delta) changes,
-- in one HMGET, aborts unless each can take its delta, and returns them.
local function counters_check(k, d)
  local fs = {}
  for f, v in pairs(d) do
    if v ~= 0 then fs[#fs + 1] = f end
  end
  if #fs > 0 then
    local cur = read('HMGET', k, unpack(fs))
    for i, f in ipairs(fs) do counter(k, f, cur[i], d[f]) end
  end
  return fs
end
-- counters_apply adds d's deltas for fields fs (from counters_check) to hash
-- k. Deltas go as integer strings: some Redis versions (7.2.0-7.2.4) turn a
-- Lua number such as 1e8 into "1e+08", which HINCRBY refuses.
local function counters_apply(k, d, fs)
  for _, f in ipairs(fs) do redis.call('HINCRBY', k, f, string.format('%d', d[f])) end
end
-- many runs cmd on key k with the values of list, a thousand at a time
-- (unpack is bounded); list holds whole pairs for a ZADD.
local function many(cmd, k, list)
  for i = 1, #list, 1000 do redis.call(cmd, k, unpack(list, i, math.min(i + 999, #list))) end
end
`

// luaItems: the item counters a job reports.
const luaItems = `
local item_fields = {items_processed = 1, items_succeeded = 2, items_failed = 3}
-- item_deltas adds to acc how the item counters in ARGV[from..to] (field,
-- value, ...) differ from old ({processed, succeeded, failed} as stored); a
-- new value must be an integer.
local function item_deltas(acc, old, from, to)
  for k = from, to - 1, 2 do
    local f = ARGV[k]
    local slot = item_fields[f]
    if slot then acc[f] = (acc[f] or 0) + int(f, ARGV[k + 1]) - (tonumber(old[slot]) or 0) end
  end
end
`

// luaKeys builds keys the way keys.go does.
const luaKeys = `
local function key(fam, part) return base .. fam .. ':' .. part end
local function jk(id) return key('` + famJob + `', id) end
local function qk(prio) return key('` + famQueue + `', prio) end
local function tk(tenant) return key('` + famTenant + `', tenant) end
local function stk(tenant) return key('` + famStats + `', tenant) end
local function sk(sid) return key('` + famSched + `', sid) end
local function srk(sid) return key('` + famSchedRuns + `', sid) end
local function stt(tenant) return key('` + famSchedT + `', tenant) end
local K_NOTIFY, K_DELAYED, K_LEASES = base .. '` + keyNotify + `', base .. '` + keyDelayed + `', base .. '` + keyLeases + `'
local K_EXPIRE, K_CANCEL, K_DUE = base .. '` + keyExpire + `', base .. '` + keyCancel + `', base .. '` + keySchedDue + `'
`

// luaPrelude: the staged writes of the scripts that do not run for every
// job, and their helpers.
const luaPrelude = luaCore + luaIdent + luaKeys + `
-- Staged writes: w(cmd, key, args...) queues a write; commit checks them all,
-- then applies them in order.
local staged = {}
local function w(...) staged[#staged + 1] = {...} end
local kinds = {HSET = 'hash', HDEL = 'hash', HINCRBY = 'hash', ZADD = 'zset', ZREM = 'zset',
  RPUSH = 'list', LPUSH = 'list', LREM = 'list', LTRIM = 'list', SADD = 'set', SREM = 'set',
  DEL = '', PEXPIRE = '', PUBLISH = ''}
local function commit()
  local types, vals, fresh = {}, {}, {}
  for _, c in ipairs(staged) do
    local cmd, k = c[1], c[2]
    local want = kinds[cmd]
    if want == nil then bad('unexpected command ' .. show(cmd)) end
    if want ~= '' then
      local t = types[k]
      if t == nil then
        t = redis.call('TYPE', k).ok
        fresh[k] = t == 'none'
      end
      if t ~= 'none' and t ~= want then bad('key ' .. k .. ' holds a ' .. t .. ', not a ' .. want) end
      types[k] = want
      vals[k] = vals[k] or {}
      if #c < 3 then bad(cmd .. ' ' .. k .. ' without arguments') end
    end
    if cmd == 'DEL' then
      types[k], vals[k], fresh[k] = 'none', {}, true
    elseif cmd == 'HSET' then
      if #c % 2 ~= 0 then bad('HSET ' .. k .. ' with a field without a value') end
      for i = 3, #c, 2 do vals[k][c[i]] = c[i + 1] end
    elseif cmd == 'HDEL' then
      for i = 3, #c do vals[k][c[i]] = false end
    elseif cmd == 'HINCRBY' then
      local f, d = c[3], c[4]
      local cur = vals[k][f]
      if cur == nil and not fresh[k] then cur = redis.call('HGET', k, f) end
      cur = cur or '0'
      if type(cur) ~= 'number' then
        if not isint(cur) then bad('field ' .. f .. ' of ' .. k .. ' is not an integer: ' .. show(cur)) end
        cur = tonumber(cur)
      end
      local v = cur + int('increment of ' .. f, d)
      if math.abs(v) >= LIMIT then bad('counter ' .. f .. ' of ' .. k .. ' would overflow') end
      vals[k][f] = v
    elseif cmd == 'ZADD' then
      if #c % 2 ~= 0 then bad('ZADD ' .. k .. ' with a score without a member') end
      for i = 3, #c, 2 do
        local s = tonumber(c[i])
        if s == nil or s ~= s then bad('score for ' .. k .. ' is not a number: ' .. show(c[i])) end
      end
    elseif cmd == 'LTRIM' then
      int('LTRIM start', tostring(c[3]))
      int('LTRIM stop', tostring(c[4]))
    elseif cmd == 'LREM' then
      int('LREM count', tostring(c[3]))
    elseif cmd == 'PEXPIRE' then
      if int('PEXPIRE time', tostring(c[3])) < 1 then bad('PEXPIRE time must be positive') end
    end
  end
  for _, c in ipairs(staged) do redis.call(unpack(c)) end
  staged = {}
end

-- notify wakes one idle worker (the list is bounded to 1,000 wake-ups).
local function notify()
  w('LPUSH', K_NOTIFY, '1')
  w('LTRIM', K_NOTIFY, 0, 999)
end
local function terminal(st)
  return st == 'completed' or st == 'failed' or st == 'cancelled' or st == 'timeout'
end
-- Each tenant's statistics (st:<tenant>): how many jobs are in each status,
-- the sums of their item counters, and duration_ms / durations over completed
-- jobs, kept by every script that changes them, so that reading them costs
-- the same whatever the history.
-- add stages a table of field -> delta to tenant's statistics. Deltas go
-- as integer strings: some Redis versions (7.2.0-7.2.4) turn a Lua number
-- such as 1e8 into "1e+08", which HINCRBY refuses.
local function add(tenant, deltas)
  if not tenant then bad('a job without tenant_id') end
  for f, d in pairs(deltas) do
    if d ~= 0 then w('HINCRBY', stk(tenant), f, string.format('%d', d)) end
  end
end
-- Poison records: a job whose hash is not a hash, whose tenant id cannot name
-- a key, whose priority is not one of the four, or whose tenant's statistics
-- hold a key of the wrong type, a counter that is not an integer or one that
-- would overflow. A script that handles many jobs at once (sweep here; dequeue
-- checks the same its own way) checks each with these before staging its writes and skips a poison one,
-- reporting it (id, reason) for the caller to log, so that one damaged record
-- cannot make every call fail and stall every worker.
-- hash_problem: job id's key holds something other than a hash (nil when it
-- is a hash or absent; absent is the caller's to handle).
local function hash_problem(id)
  local t = redis.call('TYPE', jk(id)).ok
  if t ~= 'hash' and t ~= 'none' then return 'its key holds a ' .. t .. ', not a hash' end
  return nil
end
local function type_problem(k, want)
  local t = redis.call('TYPE', k).ok
  if t ~= 'none' and t ~= want then return 'key ' .. k .. ' holds a ' .. t .. ', not a ' .. want end
  return nil
end
-- int_problem: field f of hash k (already checked to be a hash or absent)
-- does not hold an integer, or would leave the bounds after adding d.
local function int_problem(k, f, d, pending)
  local cur = redis.call('HGET', k, f)
  if cur and not isint(cur) then return 'field ' .. f .. ' of ' .. k .. ' is not an integer: ' .. show(cur) end
  if math.abs((tonumber(cur) or 0) + (pending or 0) + d) >= LIMIT then
    return 'counter ' .. f .. ' of ' .. k .. ' would overflow'
  end
  return nil
end
-- stats_planned: the deltas already staged per statistics key and field in
-- this call, so that stats_problem checks the sums the commit will write.
local stats_planned = {}
-- stats_problem: tenant cannot take the statistics deltas (see add); when it
-- can, the deltas are counted as planned.
local function stats_problem(tenant, deltas)
  if not valid_ident(tenant) then return 'tenant_id cannot name a key: ' .. show(tenant) end
  local k = stk(tenant)
  local p = type_problem(k, 'hash')
  if p then return p end
  local planned = stats_planned[k] or {}
  for f, d in pairs(deltas) do
    if d ~= 0 then
      p = int_problem(k, f, d, planned[f])
      if p then return p end
    end
  end
  for f, d in pairs(deltas) do planned[f] = (planned[f] or 0) + d end
  stats_planned[k] = planned
  return nil
end
local function pending_of(tenant)
  local p = redis.call('HMGET', stk(tenant), 'pending', 'retrying')
  return (tonumber(p[1]) or 0) + (tonumber(p[2]) or 0)
end
-- create_job stages a pending job and queues it (or delays it to run_at).
-- now and run_at are strings of milliseconds (Lua would format numbers back
-- through printf).
local function create_job(id, tenant, now, prio, run_at, fields)
  if redis.call('EXISTS', jk(id)) == 1 then bad('job ' .. id .. ' exists already') end
  w('HSET', jk(id), unpack(fields))
  w('ZADD', tk(tenant), now, id)
  w('HINCRBY', stk(tenant), 'pending', '1')
  for k = 1, #fields - 1, 2 do
    if fields[k] == 'items_total' then w('HINCRBY', stk(tenant), 'items_total', fields[k + 1]) end
  end
  if tonumber(run_at) > tonumber(now) then
    w('ZADD', K_DELAYED, run_at, id)
  else
    w('RPUSH', qk(prio), id)
    notify()
  end
end
-- finish_schedule stages the update of schedule sid, which job id came from.
local function finish_schedule(id, sid, outcome)
  w('SREM', srk(sid), id)
  if redis.call('EXISTS', sk(sid)) == 1 then
    if outcome == 'completed' then
      w('HINCRBY', sk(sid), 'successful_runs', '1')
    elseif outcome == 'failed' or outcome == 'timeout' then
      w('HINCRBY', sk(sid), 'failed_runs', '1')
    end
  end
end
-- schedule_of returns the schedule job id came from, or nil.
local function schedule_of(id)
  local sid = redis.call('HGET', jk(id), 'scheduled_job_id')
  if sid and sid ~= '' then return sid end
  return nil
end
-- put_back returns a running job to the front of its queue without spending
-- a retry: after a lost lease or a shutdown (recovered: counted in
-- recoveries), or unstarted from a busy worker's prefetch (not counted).
local function put_back(id, recovered)
  local prio, tenant = unpack(redis.call('HMGET', jk(id), 'priority', 'tenant_id'))
  prio_ok(prio)
  w('HSET', jk(id), 'status', 'pending')
  w('HDEL', jk(id), 'lease_token', 'worker', 'started_at')
  if recovered then w('HINCRBY', jk(id), 'recoveries', '1') end
  w('ZREM', K_LEASES, id)
  add(tenant, {running = -1, pending = 1})
  w('LPUSH', qk(prio), id)
  notify()
end
`

// enqueueScript: KEYS meta[, idempotency record]; ARGV base, id, tenant, now,
// max_pending, idem_hash, idem_ttl_ms, run_at, priority, field, value, ...
// Returns {"ok"|"dup"|"conflict"|"full", id}.
var enqueueScript = goredis.NewScript(luaCore + luaIdent + luaRead + `
local id, tenant, now = ident('id', ARGV[2]), ident('tenant_id', ARGV[3]), ARGV[4]
local max_pending = int('max_pending', ARGV[5])
local idem_hash, idem_ttl = ARGV[6], ARGV[7]
local run_at, prio = ARGV[8], prio_ok(ARGV[9])
int('now', now)
int('run_at', run_at)
local ik = KEYS[2]
if ik and int('idem_ttl', idem_ttl) < 1 then bad('idem_ttl must be positive') end
local jkey = base .. '` + famJob + `:' .. id
-- The id is new for every call: if its job exists, this is a repeat of this
-- very call (go-redis sends a script again after a read timeout, and Redis
-- may run both copies), which answers what the first copy did.
local exists = redis.call('EXISTS', jkey) == 1
if exists and read('HGET', jkey, 'tenant_id') == tenant then return {'ok', id} end
if ik then
  local prev = read('HMGET', ik, 'id', 'hash')
  if prev[1] then
    if prev[2] == idem_hash then return {'dup', prev[1]} end
    return {'conflict', prev[1]}
  end
end
local sk = base .. '` + famStats + `:' .. tenant
local s = read('HMGET', sk, 'pending', 'retrying', 'items_total')
if (tonumber(s[1]) or 0) + (tonumber(s[2]) or 0) >= max_pending then return {'full', ''} end
if #ARGV < 11 then bad('a job without fields') end
if #ARGV % 2 ~= 1 then bad('a job field without a value') end
if exists then bad('job ' .. id .. ' exists already') end
counter(sk, 'pending', s[1], 1)
local items
for i = 10, #ARGV, 2 do
  if ARGV[i] == 'items_total' then items = (items or 0) + int('items_total', ARGV[i + 1]) end
end
if items then counter(sk, 'items_total', s[3], items) end
local tkey, qkey = base .. '` + famTenant + `:' .. tenant, base .. '` + famQueue + `:' .. prio
want(tkey, 'zset')
local delayed = tonumber(run_at) > tonumber(now)
if not delayed then want(qkey, 'list') end
-- Every check is done. The first write's key (the delayed set, or the
-- wake-up list) was not checked: if it fails, it fails alone.
if delayed then
  redis.call('ZADD', base .. '` + keyDelayed + `', run_at, id)
else
  -- Wake one idle worker (the list is bounded to 1,000 wake-ups).
  local nk = base .. '` + keyNotify + `'
  if redis.call('LPUSH', nk, '1') > 1000 then redis.call('LTRIM', nk, 0, 999) end
  redis.call('RPUSH', qkey, id)
end
redis.call('HSET', jkey, unpack(ARGV, 10))
redis.call('ZADD', tkey, now, id)
redis.call('HINCRBY', sk, 'pending', '1')
if items then redis.call('HINCRBY', sk, 'items_total', string.format('%d', items)) end
if ik then
  redis.call('HSET', ik, 'id', id, 'hash', idem_hash)
  redis.call('PEXPIRE', ik, idem_ttl)
end
return {'ok', id}
`)

// dequeueScript: KEYS meta; ARGV base, now_ms, lease_expiry_ms, worker,
// count, token_prefix, prio1..prio4 (in the order to try). Takes up to count
// jobs, from the first queue in that order onwards; each job's lease token is
// token_prefix .. id. Returns {{id, token, {field, value, ...}, ...},
// {poison_id, reason, ...}}: each leased job with its hash as it was before
// the lease (the caller knows what the lease changed), so that running it
// needs no second round trip; then the poison records taken off the queues
// and skipped. Times stay strings: Lua would format numbers back through
// printf.
//
// Poison records: a job whose key is not a hash, without a tenant id or
// with one that cannot name a key, or whose tenant's statistics are not a
// hash or hold a count that is not an integer or would overflow. Each is
// skipped and reported (id, reason) for the caller to log, so that one
// damaged record cannot make every call fail and stall every worker.
var dequeueScript = goredis.NewScript(luaCore + luaIdent + luaRead + luaCounters + `
local now, expiry, worker, prefix = ARGV[2], ARGV[3], ARGV[4], ARGV[6]
int('now', now)
int('lease expiry', expiry)
local count = int('count', ARGV[5])
if count < 1 or count > 10000 then bad('count must be between 1 and 10000: ' .. show(ARGV[5])) end
if type(worker) ~= 'string' or type(prefix) ~= 'string' then bad('worker and token prefix are required') end
for i = 7, #ARGV do prio_ok(ARGV[i]) end
local JOB, ST = base .. '` + famJob + `:', base .. '` + famStats + `:'
local ids, trims = {}, {}
for i = 7, #ARGV do
  if #ids >= count then break end
  local q = base .. '` + famQueue + `:' .. ARGV[i]
  local got = read('LRANGE', q, 0, count - #ids - 1)
  if #got > 0 then
    trims[#trims + 1] = q
    trims[#trims + 1] = #got
  end
  for _, id in ipairs(got) do ids[#ids + 1] = id end
end
-- tstats[tenant]: the statistics key, its counts as read and the deltas
-- planned (or the problem that makes every job of the tenant poison).
local tstats = {}
local function take(tenant, st)
  local t = tstats[tenant]
  if not t then
    if not valid_ident(tenant) then return 'tenant_id cannot name a key: ' .. show(tenant) end
    local k = ST .. tenant
    local cur = redis.pcall('HMGET', k, 'pending', 'retrying', 'running')
    if cur.err then
      t = {problem = 'key ' .. k .. ' holds a ' .. redis.call('TYPE', k).ok .. ', not a hash'}
    else
      t = {k = k, cur = {pending = cur[1], retrying = cur[2], running = cur[3]}, d = {pending = 0, retrying = 0, running = 0}}
    end
    tstats[tenant] = t
  end
  if t.problem then return t.problem end
  local p = counter_problem(t.k, st, t.cur[st], t.d[st] - 1) or counter_problem(t.k, 'running', t.cur.running, t.d.running + 1)
  if p then return p end
  t.d[st] = t.d[st] - 1
  t.d.running = t.d.running + 1
  return nil
end
local out, leases, leased, seen, poison = {}, {}, {}, {}, {}
for _, id in ipairs(ids) do
  local jkey = JOB .. id
  local flat = redis.pcall('HGETALL', jkey)
  local problem
  if flat.err then
    problem = 'its key holds a ' .. redis.call('TYPE', jkey).ok .. ', not a hash'
  else
    local st, tenant
    for k = 1, #flat, 2 do
      local f = flat[k]
      if f == 'status' then st = flat[k + 1] elseif f == 'tenant_id' then tenant = flat[k + 1] end
    end
    -- Anything else (a job cancelled or finished meanwhile, an id queued
    -- twice) is dropped.
    if (st == 'pending' or st == 'retrying') and not seen[id] then
      if tenant then problem = take(tenant, st) else problem = 'it has no tenant_id' end
      if not problem then
        seen[id] = true
        local token = prefix .. id
        leased[#leased + 1] = jkey
        leased[#leased + 1] = token
        leases[#leases + 1] = expiry
        leases[#leases + 1] = id
        out[#out + 1] = id
        out[#out + 1] = token
        out[#out + 1] = flat
      end
    end
  end
  if problem then
    poison[#poison + 1] = id
    poison[#poison + 1] = problem
  end
end
-- Every check is done. The first write's key (leases) was not checked: if
-- it fails, it fails alone. The queues were read, the job keys are hashes
-- and the counts were checked.
many('ZADD', base .. '` + keyLeases + `', leases)
for i = 1, #trims, 2 do redis.call('LTRIM', trims[i], trims[i + 1], -1) end
-- Every queue is empty now: pending wake-ups are stale (each enqueue pushes a
-- new one), and would make idle workers dequeue for nothing.
if #ids < count then redis.call('DEL', base .. '` + keyNotify + `') end
for i = 1, #leased, 2 do
  redis.call('HSET', leased[i], 'status', 'running', 'started_at', now, 'lease_token', leased[i + 1], 'worker', worker)
end
for _, t in pairs(tstats) do
  if t.k then
    for f, d in pairs(t.d) do
      if d ~= 0 then redis.call('HINCRBY', t.k, f, string.format('%d', d)) end
    end
  end
end
return {out, poison}
`)

// renewScript: KEYS meta; ARGV base, now, lease_ms, id, token, id, token, ...
// Returns {id, state, ...} with state ok | lost | cancel.
var renewScript = goredis.NewScript(luaCore + `
local now, lease = int('now', ARGV[2]), int('lease', ARGV[3])
if (#ARGV - 3) % 2 ~= 0 then bad('a job id without a token') end
if math.abs(now + lease) >= LIMIT then bad('now + lease would overflow') end
local JOB, until_ = base .. '` + famJob + `:', string.format('%d', now + lease)
local out, leases = {}, {}
for i = 4, #ARGV, 2 do
  local id, token = ARGV[i], ARGV[i + 1]
  -- A key that is no longer a hash (damaged) is a lost lease, not an error
  -- that would fail the renewal of every other job.
  local h = redis.pcall('HMGET', JOB .. id, 'status', 'lease_token', 'cancel_requested')
  local state = 'lost'
  if not h.err and h[1] == 'running' and h[2] == token then
    state = 'ok'
    if h[3] == '1' then state = 'cancel' end
    leases[#leases + 1] = until_
    leases[#leases + 1] = id
  end
  out[#out + 1] = id
  out[#out + 1] = state
end
-- The only write: if leases holds the wrong kind of value, it fails alone.
for i = 1, #leases, 1000 do
  redis.call('ZADD', base .. '` + keyLeases + `', unpack(leases, i, math.min(i + 999, #leases)))
end
return out
`)

// finishScript records the outcome of a batch of jobs. KEYS meta; ARGV:
// base, now_ms, expire_at_ms (now + retention), then per job: id, token,
// outcome, retry_at_ms, n, then n field/value strings (everything the outcome
// changes besides the status and its times, attempts included: the lease
// makes the caller the only writer). outcome: completed | failed | timeout |
// cancelled | retry. Returns one "ok" or "lost" (the lease belongs to someone
// else now) per job. The lease token and worker stay in a finished job's
// hash: they say who ran it last.
var finishScript = goredis.NewScript(luaCore + luaRead + luaCounters + luaItems + `
local now, expire_at = ARGV[2], ARGV[3]
int('now', now)
int('expire_at', expire_at)
local JOB = base .. '` + famJob + `:'
local outcomes = {completed = true, failed = true, timeout = true, cancelled = true, retry = true}
-- writes: per job, its key, its fields and whether it has a cancel request
-- to clear; runs: per run of a schedule,
-- the schedule's runs key, the job id, and the schedule's key and counter
-- (false when there is none).
local out, done, writes, runs, expire, delayed, stats, sched = {}, {}, {}, {}, {}, {}, {}, {}
local i = 4
while i <= #ARGV do
  if i + 4 > #ARGV then bad('an incomplete job at argument ' .. i) end
  local id, token, outcome = ARGV[i], ARGV[i + 1], ARGV[i + 2]
  local retry_at, n = ARGV[i + 3], int('field count', ARGV[i + 4])
  if n < 0 or n % 2 ~= 0 or i + 4 + n > #ARGV then bad('bad field count ' .. n .. ' at argument ' .. i) end
  if not outcomes[outcome] then bad('unknown outcome ' .. show(outcome)) end
  if outcome == 'retry' then int('retry_at', retry_at) end
  local fields = {unpack(ARGV, i + 5, i + 4 + n)}
  local from, to = i + 5, i + 4 + n
  i = i + 5 + n
  local jkey = JOB .. id
  local h = read('HMGET', jkey, 'status', 'lease_token', 'tenant_id', 'scheduled_job_id', 'cancel_requested',
    'started_at', 'items_processed', 'items_succeeded', 'items_failed')
  local st, owner, tenant, sid, cancel = h[1], h[2], h[3], h[4], h[5]
  if st ~= 'running' or owner ~= token or done[id] then
    out[#out + 1] = 'lost'
  else
    if not tenant then bad('job ' .. id .. ' has no tenant_id') end
    done[id] = true
    done[#done + 1] = id
    local d = stats[tenant]
    if not d then
      d = {running = 0}
      stats[tenant] = d
    end
    d.running = d.running - 1
    item_deltas(d, {h[7], h[8], h[9]}, from, to)
    local to_st = outcome
    if outcome == 'retry' then to_st = 'retrying' end
    d[to_st] = (d[to_st] or 0) + 1
    if outcome == 'completed' and tonumber(h[6]) then
      d.duration_ms = (d.duration_ms or 0) + tonumber(now) - tonumber(h[6])
      d.durations = (d.durations or 0) + 1
    end
    if outcome == 'retry' then
      fields[#fields + 1] = 'status'
      fields[#fields + 1] = 'retrying'
      delayed[#delayed + 1] = retry_at
      delayed[#delayed + 1] = id
    else
      fields[#fields + 1] = 'status'
      fields[#fields + 1] = outcome
      fields[#fields + 1] = 'completed_at'
      fields[#fields + 1] = now
      if outcome == 'cancelled' then
        fields[#fields + 1] = 'cancelled_at'
        fields[#fields + 1] = now
      end
      expire[#expire + 1] = expire_at
      expire[#expire + 1] = id
    end
    writes[#writes + 1] = jkey
    writes[#writes + 1] = fields
    writes[#writes + 1] = cancel
    if outcome ~= 'retry' and sid and sid ~= '' then
      -- The schedule's keys were never read: check them (rare: scheduled jobs).
      local rk, sk = base .. '` + famSchedRuns + `:' .. sid, base .. '` + famSched + `:' .. sid
      want(rk, 'set')
      local f = false
      if outcome == 'completed' then f = 'successful_runs' elseif outcome == 'failed' or outcome == 'timeout' then f = 'failed_runs' end
      if f and redis.call('EXISTS', sk) == 1 then
        local c = sched[sk .. ' ' .. f]
        if not c then
          c = {cur = read('HGET', sk, f), d = 0}
          sched[sk .. ' ' .. f] = c
        end
        c.d = c.d + 1
        counter(sk, f, c.cur, c.d)
      else
        sk = false
      end
      runs[#runs + 1] = rk
      runs[#runs + 1] = id
      runs[#runs + 1] = sk
      runs[#runs + 1] = f
    end
    out[#out + 1] = 'ok'
  end
end
if #done == 0 then return out end
local fs = {}
for tenant, d in pairs(stats) do fs[tenant] = counters_check(base .. '` + famStats + `:' .. tenant, d) end
local K_EXPIRE, K_DELAYED = base .. '` + keyExpire + `', base .. '` + keyDelayed + `'
if #expire > 0 then want(K_EXPIRE, 'zset') end
if #delayed > 0 then want(K_DELAYED, 'zset') end
-- Every check is done. The first write's key (leases) was not checked: if
-- it fails, it fails alone.
many('ZREM', base .. '` + keyLeases + `', done)
for w = 1, #writes, 3 do
  redis.call('HSET', writes[w], unpack(writes[w + 1]))
  if writes[w + 2] then redis.call('HDEL', writes[w], 'cancel_requested') end
end
for r = 1, #runs, 4 do
  redis.call('SREM', runs[r], runs[r + 1])
  if runs[r + 2] then redis.call('HINCRBY', runs[r + 2], runs[r + 3], '1') end
end
many('ZADD', K_EXPIRE, expire)
many('ZADD', K_DELAYED, delayed)
for tenant, d in pairs(stats) do counters_apply(base .. '` + famStats + `:' .. tenant, d, fs[tenant]) end
return out
`)

// progressScript: KEYS meta; ARGV base, id, token, field, value, ... Stores a
// running job's progress while the caller still holds its lease (a worker
// that lost it must not overwrite the new owner's), keeping the tenant's item
// sums. Returns "ok" or "lost".
var progressScript = goredis.NewScript(luaCore + luaRead + luaCounters + luaItems + `
local id, token = ARGV[2], ARGV[3]
if not id or not token then bad('id and token are required') end
local jkey = base .. '` + famJob + `:' .. id
local h = read('HMGET', jkey, 'status', 'lease_token', 'tenant_id', 'items_processed', 'items_succeeded', 'items_failed')
if h[1] ~= 'running' or h[2] ~= token then return 'lost' end
if #ARGV < 5 then bad('no progress fields') end
if #ARGV % 2 ~= 1 then bad('a progress field without a value') end
if not h[3] then bad('a job without tenant_id') end
local d = {}
item_deltas(d, {h[4], h[5], h[6]}, 4, #ARGV)
local sk = base .. '` + famStats + `:' .. h[3]
local fs = counters_check(sk, d)
-- Every check is done; the job's key was read (a hash).
redis.call('HSET', jkey, unpack(ARGV, 4))
counters_apply(sk, d, fs)
return 'ok'
`)

// requeueScript: KEYS meta; ARGV base, id, token, recovered ("1": a shutdown
// puts it back; "0": a busy worker hands it on unstarted). Puts the caller's
// own running job back. Returns "ok" or "lost".
var requeueScript = goredis.NewScript(luaPrelude + `
local id, token = ARGV[2], ARGV[3]
if not id or not token then bad('id and token are required') end
local st, owner = unpack(redis.call('HMGET', jk(id), 'status', 'lease_token'))
if st ~= 'running' or owner ~= token then return 'lost' end
put_back(id, ARGV[4] == '1')
commit()
return 'ok'
`)

// sweepScript: KEYS meta; ARGV base, now, limit, retention_ms. Reclaims
// expired leases (cancel-requested ones become cancelled), promotes due
// delayed jobs and deletes expired finished jobs with their index entries.
// Returns {reclaimed, promoted, expired, {poison_id, reason, ...}, job_type,
// ...}: the poison records skipped and taken off their lists (see
// stats_problem), then the job types of the jobs put back.
var sweepScript = goredis.NewScript(luaPrelude + `
local now, limit, retention = int('now', ARGV[2]), int('limit', ARGV[3]), int('retention', ARGV[4])
if limit < 1 or limit > 10000 then bad('limit must be between 1 and 10000: ' .. show(ARGV[3])) end
if retention < 0 then bad('retention must not be negative') end
local reclaimed, promoted, expired, types, touched, poison = 0, 0, 0, {}, {}, {}
-- skip reports a poison record and takes it off the list it was found on,
-- so that it is not met again.
local function skip(list, id, problem)
  w('ZREM', list, id)
  poison[#poison + 1] = id
  poison[#poison + 1] = problem
end
-- sched_problem: the writes finish_schedule would stage for job id of
-- schedule sid cannot be made.
local function sched_problem(sid)
  if not valid_ident(sid) then return 'scheduled_job_id cannot name a key: ' .. show(sid) end
  return type_problem(srk(sid), 'set')
end
for _, id in ipairs(redis.call('ZRANGEBYSCORE', K_LEASES, '-inf', now, 'LIMIT', 0, limit)) do
  touched[id] = true
  local problem = hash_problem(id)
  local st, cancel, tenant, jtype, prio, rec, sid
  if not problem then
    st, cancel, tenant, jtype, prio, rec, sid = unpack(redis.call('HMGET', jk(id), 'status', 'cancel_requested', 'tenant_id',
      'job_type', 'priority', 'recoveries', 'scheduled_job_id'))
  end
  if problem then
    skip(K_LEASES, id, problem)
  elseif st == 'running' then
    if cancel == '1' then
      problem = (sid and sid ~= '' and sched_problem(sid)) or stats_problem(tenant, {running = -1, cancelled = 1})
    elseif not prios[prio] then
      problem = 'priority is not one of critical, high, normal, low: ' .. show(prio)
    else
      problem = int_problem(jk(id), 'recoveries', 1) or stats_problem(tenant, {running = -1, pending = 1})
    end
    if problem then
      skip(K_LEASES, id, problem)
    elseif cancel == '1' then
      add(tenant, {running = -1, cancelled = 1})
      w('ZREM', K_LEASES, id)
      w('HDEL', jk(id), 'lease_token', 'worker', 'cancel_requested')
      w('HSET', jk(id), 'status', 'cancelled', 'cancelled_at', ARGV[2], 'completed_at', ARGV[2])
      w('ZADD', K_EXPIRE, string.format('%d', now + retention), id)
      if sid and sid ~= '' then finish_schedule(id, sid, 'cancelled') end
      reclaimed = reclaimed + 1
    else
      put_back(id, true)
      types[#types + 1] = jtype
      reclaimed = reclaimed + 1
    end
  else
    w('ZREM', K_LEASES, id)
  end
end
for _, id in ipairs(redis.call('ZRANGEBYSCORE', K_DELAYED, '-inf', now, 'LIMIT', 0, limit)) do
  local problem = hash_problem(id)
  local st, prio
  if not problem then
    st, prio = unpack(redis.call('HMGET', jk(id), 'status', 'priority'))
    if (st == 'pending' or st == 'retrying') and not touched[id] and not prios[prio] then
      problem = 'priority is not one of critical, high, normal, low: ' .. show(prio)
    end
  end
  if problem then
    skip(K_DELAYED, id, problem)
  else
    w('ZREM', K_DELAYED, id)
    if (st == 'pending' or st == 'retrying') and not touched[id] then
      touched[id] = true
      w('RPUSH', qk(prio), id)
      notify()
      promoted = promoted + 1
    end
  end
end
for _, id in ipairs(redis.call('ZRANGEBYSCORE', K_EXPIRE, '-inf', now, 'LIMIT', 0, limit)) do
  if not touched[id] then
    local problem = hash_problem(id)
    local h = {}
    if not problem then
      h = redis.call('HMGET', jk(id), 'tenant_id', 'status', 'items_total', 'items_processed', 'items_succeeded',
        'items_failed', 'started_at', 'completed_at')
    end
    local tenant, st = h[1], h[2]
    local d
    if not problem and tenant then
      d = {items_total = -(tonumber(h[3]) or 0), items_processed = -(tonumber(h[4]) or 0),
        items_succeeded = -(tonumber(h[5]) or 0), items_failed = -(tonumber(h[6]) or 0)}
      if st then d[st] = -1 end
      if st == 'completed' and tonumber(h[7]) and tonumber(h[8]) then
        d.duration_ms = tonumber(h[7]) - tonumber(h[8])
        d.durations = -1
      end
      problem = stats_problem(tenant, d) or type_problem(tk(tenant), 'zset')
    end
    if problem then
      skip(K_EXPIRE, id, problem)
    else
      if d then
        w('ZREM', tk(tenant), id)
        add(tenant, d)
      end
      w('DEL', jk(id))
      w('ZREM', K_EXPIRE, id)
      expired = expired + 1
    end
  end
end
commit()
return {reclaimed, promoted, expired, poison, unpack(types)}
`)

// cancelScript: KEYS meta; ARGV base, id, tenant, now, retention_ms.
// Returns "notfound", "conflict", "cancelled" or "cancelling".
var cancelScript = goredis.NewScript(luaPrelude + `
local id, tenant = ARGV[2], ident('tenant_id', ARGV[3])
local now, retention = int('now', ARGV[4]), int('retention', ARGV[5])
if retention < 0 then bad('retention must not be negative') end
if not id then bad('id is required') end
local st, owner_tenant, prio, cancelled_at = unpack(redis.call('HMGET', jk(id), 'status', 'tenant_id', 'priority', 'cancelled_at'))
if not st or owner_tenant ~= tenant then return 'notfound' end
-- A repeat of this very call (same now; see enqueueScript) answers as the
-- first copy did.
if st == 'cancelled' and cancelled_at == ARGV[4] then return 'cancelled' end
if terminal(st) then return 'conflict' end
if st == 'running' then
  w('HSET', jk(id), 'cancel_requested', '1')
  w('PUBLISH', K_CANCEL, id)
  commit()
  return 'cancelling'
end
w('LREM', qk(prio_ok(prio)), 0, id)
w('ZREM', K_DELAYED, id)
add(tenant, {[st] = -1, cancelled = 1})
w('HSET', jk(id), 'status', 'cancelled', 'cancelled_at', ARGV[4], 'completed_at', ARGV[4])
w('ZADD', K_EXPIRE, string.format('%d', now + retention), id)
local sid = schedule_of(id)
if sid then finish_schedule(id, sid, 'cancelled') end
commit()
return 'cancelled'
`)

// fireScript: KEYS meta; ARGV base, schedule_id, slot, next, now, fire
// ("1"/"0"), max_pending, job_id, tenant, prio, field, value, ...
// Advances the schedule from slot to next exactly once across replicas, and
// when asked, creates the slot's job within max_concurrent_runs. Returns
// "stale", "inactive", "skipped", "busy", "full" or "fired".
var fireScript = goredis.NewScript(luaPrelude + `
-- Times stay strings (see add).
local sid, slot, nxt, now, fire = ident('schedule id', ARGV[2]), ARGV[3], ARGV[4], ARGV[5], ARGV[6]
local max_pending, id, tenant, prio = int('max_pending', ARGV[7]), ident('id', ARGV[8]), ident('tenant_id', ARGV[9]), prio_ok(ARGV[10])
int('next', nxt)
int('now', now)
local cur, active, maxc = unpack(redis.call('HMGET', sk(sid), 'next_run_at', 'is_active', 'max_concurrent_runs'))
if cur ~= slot then return 'stale' end
if active ~= '1' then
  w('ZREM', K_DUE, sid)
  commit()
  return 'inactive'
end
w('HSET', sk(sid), 'next_run_at', nxt)
w('ZADD', K_DUE, nxt, sid)
if fire ~= '1' then
  w('HINCRBY', sk(sid), 'skipped_runs', '1')
  commit()
  return 'skipped'
end
local ak = srk(sid)
-- Drop members whose job is gone or finished (expired, cancelled elsewhere).
local members = redis.call('SMEMBERS', ak)
local live = #members
for _, jid in ipairs(members) do
  local st = redis.call('HGET', jk(jid), 'status')
  if not st or terminal(st) then
    w('SREM', ak, jid)
    live = live - 1
  end
end
if live >= int('max_concurrent_runs', maxc or '1') then
  w('HINCRBY', sk(sid), 'skipped_runs', '1')
  commit()
  return 'busy'
end
if pending_of(tenant) >= max_pending then
  w('HINCRBY', sk(sid), 'skipped_runs', '1')
  commit()
  return 'full'
end
local fields = {}
for i = 11, #ARGV do fields[#fields + 1] = ARGV[i] end
if #fields < 2 then bad('a job without fields') end
create_job(id, tenant, now, prio, '0', fields)
w('SADD', ak, id)
w('HINCRBY', sk(sid), 'total_runs', '1')
w('HSET', sk(sid), 'last_run_at', now)
commit()
return 'fired'
`)

// createScheduleScript: KEYS meta; ARGV base, schedule_id, tenant,
// max_schedules, created_at (ms), next_run_at (ms, or "" for an inactive
// schedule), field, value, ... Stores a new schedule unless the tenant has
// max_schedules already: the count and the write are one step, so concurrent
// creates never exceed it. Returns "ok" or "full".
var createScheduleScript = goredis.NewScript(luaPrelude + `
local sid, tenant = ident('schedule id', ARGV[2]), ident('tenant_id', ARGV[3])
local max, created, nxt = int('max_schedules', ARGV[4]), ARGV[5], ARGV[6]
int('created_at', created)
if nxt ~= '' then int('next_run_at', nxt) end
-- A new id for every call: an existing schedule means a repeat of this call
-- (see enqueueScript), which answers what the first copy did.
if redis.call('EXISTS', sk(sid)) == 1 and redis.call('HGET', sk(sid), 'tenant_id') == tenant then return 'ok' end
if redis.call('ZCARD', stt(tenant)) >= max then return 'full' end
local fields = {}
for i = 7, #ARGV do fields[#fields + 1] = ARGV[i] end
if #fields < 2 then bad('a schedule without fields') end
w('HSET', sk(sid), unpack(fields))
w('HSET', sk(sid), 'next_run_at', nxt)
w('ZADD', stt(tenant), created, sid)
if nxt ~= '' then w('ZADD', K_DUE, nxt, sid) end
commit()
return 'ok'
`)
