package jobs

import goredis "github.com/redis/go-redis/v9"

// Every key lives under one hash tag ("<prefix>{jobs}:"), so each script runs
// on one Cluster node. KEYS[1] is that base's meta key (it routes the script);
// ARGV[1] is the base itself, from which the other keys are built. Scripts keep
// user JSON (parameters, result, error_details) as opaque strings: they never
// decode it, so nothing is altered.

const luaPrelude = `
local base = ARGV[1]
local function jk(id) return base .. 'job:' .. id end
-- notify wakes one idle worker (the list is bounded to 1,000 wake-ups).
local function notify()
  if redis.call('LPUSH', base .. 'notify', '1') > 1000 then
    redis.call('LTRIM', base .. 'notify', 0, 999)
  end
end
local function terminal(st)
  return st == 'completed' or st == 'failed' or st == 'cancelled' or st == 'timeout'
end
-- Each tenant's statistics (st:<tenant>): how many jobs are in each status,
-- the sums of their item counters, and duration_ms / durations over completed
-- jobs, kept by every script that changes them, so that reading them costs
-- the same whatever the history.
local function stk(tenant) return base .. 'st:' .. tenant end
-- add applies a table of field -> delta to tenant's statistics. Deltas go
-- as integer strings: some Redis versions (7.2.0-7.2.4) turn a Lua number
-- such as 1e8 into "1e+08", which HINCRBY refuses.
local function add(tenant, deltas)
  for f, d in pairs(deltas) do
    if d ~= 0 then redis.call('HINCRBY', stk(tenant), f, string.format('%d', d)) end
  end
end
local function pending_of(tenant)
  local p = redis.call('HMGET', stk(tenant), 'pending', 'retrying')
  return (tonumber(p[1]) or 0) + (tonumber(p[2]) or 0)
end
local item_fields = {items_processed = 1, items_succeeded = 2, items_failed = 3}
-- item_deltas adds to acc how the item counters in fields (field, value, ...)
-- differ from old ({processed, succeeded, failed} as stored).
local function item_deltas(acc, old, fields)
  for k = 1, #fields - 1, 2 do
    local slot = item_fields[fields[k]]
    if slot then
      local f = fields[k]
      acc[f] = (acc[f] or 0) + (tonumber(fields[k + 1]) or 0) - (tonumber(old[slot]) or 0)
    end
  end
end
-- create_job stores a pending job and queues it (or delays it to run_at).
-- now and run_at are strings of milliseconds (Lua would format numbers back
-- through printf).
local function create_job(id, tenant, now, prio, run_at, fields)
  redis.call('HSET', jk(id), unpack(fields))
  redis.call('ZADD', base .. 't:' .. tenant, now, id)
  redis.call('HINCRBY', stk(tenant), 'pending', 1)
  for k = 1, #fields - 1, 2 do
    if fields[k] == 'items_total' then redis.call('HINCRBY', stk(tenant), 'items_total', fields[k + 1]) end
  end
  if tonumber(run_at) > tonumber(now) then
    redis.call('ZADD', base .. 'delayed', run_at, id)
  else
    redis.call('RPUSH', base .. 'q:' .. prio, id)
    notify()
  end
end
-- finish_schedule updates schedule sid, which job id came from.
local function finish_schedule(id, sid, outcome)
  redis.call('SREM', base .. 's:active:' .. sid, id)
  if redis.call('EXISTS', base .. 's:' .. sid) == 1 then
    if outcome == 'completed' then
      redis.call('HINCRBY', base .. 's:' .. sid, 'successful_runs', 1)
    elseif outcome == 'failed' or outcome == 'timeout' then
      redis.call('HINCRBY', base .. 's:' .. sid, 'failed_runs', 1)
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
  redis.call('HSET', jk(id), 'status', 'pending')
  redis.call('HDEL', jk(id), 'lease_token', 'worker', 'started_at')
  if recovered then redis.call('HINCRBY', jk(id), 'recoveries', 1) end
  redis.call('ZREM', base .. 'leases', id)
  add(tenant, {running = -1, pending = 1})
  redis.call('LPUSH', base .. 'q:' .. prio, id)
  notify()
end
`

// enqueueScript: ARGV base, id, tenant, now, max_pending, idem_key, idem_hash,
// idem_ttl_ms, run_at, priority, field, value, ...
// Returns {"ok"|"dup"|"conflict"|"full", id}.
var enqueueScript = goredis.NewScript(luaPrelude + `
local id, tenant, now, max_pending = ARGV[2], ARGV[3], ARGV[4], tonumber(ARGV[5])
local idem_key, idem_hash, idem_ttl = ARGV[6], ARGV[7], ARGV[8]
local run_at, prio = ARGV[9], ARGV[10]
local ik = base .. 'idem:' .. tenant .. ':' .. idem_key
if idem_key ~= '' then
  local prev = redis.call('HMGET', ik, 'id', 'hash')
  if prev[1] then
    if prev[2] == idem_hash then return {'dup', prev[1]} end
    return {'conflict', prev[1]}
  end
end
if pending_of(tenant) >= max_pending then return {'full', ''} end
local fields = {}
for i = 11, #ARGV do fields[#fields + 1] = ARGV[i] end
create_job(id, tenant, now, prio, run_at, fields)
if idem_key ~= '' then
  redis.call('HSET', ik, 'id', id, 'hash', idem_hash)
  redis.call('PEXPIRE', ik, idem_ttl)
end
return {'ok', id}
`)

// dequeueScript: ARGV base, now_ms, lease_expiry_ms, worker, count,
// token_prefix, prio1..prio4 (in the order to try). Takes up to count jobs,
// from the first queue in that order onwards; each job's lease token is
// token_prefix .. id. Returns {id, token, {field, value, ...}, ...}: each
// leased job with its hash as it was before the lease (the caller knows what
// the lease changed), so that running it needs no second round trip. Needs
// Redis 6.2+ (LPOP with a count). Times stay strings: Lua would format
// numbers back through printf.
var dequeueScript = goredis.NewScript(luaPrelude + `
local now, expiry, worker, count, prefix = ARGV[2], ARGV[3], ARGV[4], tonumber(ARGV[5]), ARGV[6]
local ids = {}
for i = 7, 10 do
  if #ids >= count then break end
  local got = redis.call('LPOP', base .. 'q:' .. ARGV[i], count - #ids)
  if got then
    for _, id in ipairs(got) do ids[#ids + 1] = id end
  end
end
-- Every queue is empty now: pending wake-ups are stale (each enqueue pushes a
-- new one), and would make idle workers dequeue for nothing.
if #ids < count then redis.call('DEL', base .. 'notify') end
local out, leases, taken = {}, {}, {}
for _, id in ipairs(ids) do
  local flat = redis.call('HGETALL', jk(id))
  local st, tenant
  for k = 1, #flat, 2 do
    local f = flat[k]
    if f == 'status' then st = flat[k + 1] elseif f == 'tenant_id' then tenant = flat[k + 1] end
  end
  -- Anything else (a job cancelled or finished meanwhile) is dropped.
  if st == 'pending' or st == 'retrying' then
    local token = prefix .. id
    redis.call('HSET', jk(id), 'status', 'running', 'started_at', now, 'lease_token', token, 'worker', worker)
    leases[#leases + 1] = expiry
    leases[#leases + 1] = id
    local d = taken[tenant] or {running = 0}
    taken[tenant] = d
    d[st] = (d[st] or 0) - 1
    d.running = d.running + 1
    out[#out + 1] = id
    out[#out + 1] = token
    out[#out + 1] = flat
  end
end
if #leases > 0 then redis.call('ZADD', base .. 'leases', unpack(leases)) end
for tenant, d in pairs(taken) do add(tenant, d) end
return out
`)

// renewScript: ARGV base, now, lease_ms, id, token, id, token, ...
// Returns {id, state, ...} with state ok | lost | cancel.
var renewScript = goredis.NewScript(luaPrelude + `
local now, lease = tonumber(ARGV[2]), tonumber(ARGV[3])
local out = {}
for i = 4, #ARGV, 2 do
  local id, token = ARGV[i], ARGV[i + 1]
  local st, owner, cancel = unpack(redis.call('HMGET', jk(id), 'status', 'lease_token', 'cancel_requested'))
  local state = 'ok'
  if st ~= 'running' or owner ~= token then
    state = 'lost'
  else
    redis.call('ZADD', base .. 'leases', now + lease, id)
    if cancel == '1' then state = 'cancel' end
  end
  out[#out + 1] = id
  out[#out + 1] = state
end
return out
`)

// finishScript records the outcome of a batch of jobs. ARGV: base, now_ms,
// expire_at_ms (now + retention), then per job: id, token, outcome,
// retry_at_ms, n, then n field/value strings (everything the outcome changes
// besides the status and its times, attempts included: the lease makes the
// caller the only writer). outcome: completed | failed | timeout | cancelled
// | retry. Returns one "ok" or "lost" (the lease belongs to someone else now)
// per job. The lease token and worker stay in a finished job's hash: they say
// who ran it last.
var finishScript = goredis.NewScript(luaPrelude + `
local now, expire_at = ARGV[2], ARGV[3]
local out, done, expire, delayed, stats = {}, {}, {}, {}, {}
local i = 4
while i <= #ARGV do
  local id, token, outcome = ARGV[i], ARGV[i + 1], ARGV[i + 2]
  local retry_at, n = ARGV[i + 3], tonumber(ARGV[i + 4])
  local fields = {}
  for j = 1, n do fields[j] = ARGV[i + 4 + j] end
  i = i + 5 + n
  local h = redis.call('HMGET', jk(id), 'status', 'lease_token', 'tenant_id', 'scheduled_job_id', 'cancel_requested',
    'started_at', 'items_processed', 'items_succeeded', 'items_failed')
  local st, owner, tenant, sid, cancel = h[1], h[2], h[3], h[4], h[5]
  if st ~= 'running' or owner ~= token then
    out[#out + 1] = 'lost'
  else
    done[#done + 1] = id
    local d = stats[tenant] or {running = 0}
    stats[tenant] = d
    d.running = d.running - 1
    item_deltas(d, {h[7], h[8], h[9]}, fields)
    local to = outcome
    if outcome == 'retry' then to = 'retrying' end
    d[to] = (d[to] or 0) + 1
    if outcome == 'completed' and h[6] then
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
    redis.call('HSET', jk(id), unpack(fields))
    if cancel then redis.call('HDEL', jk(id), 'cancel_requested') end
    if outcome ~= 'retry' and sid and sid ~= '' then finish_schedule(id, sid, outcome) end
    out[#out + 1] = 'ok'
  end
end
if #done > 0 then redis.call('ZREM', base .. 'leases', unpack(done)) end
if #expire > 0 then redis.call('ZADD', base .. 'expire', unpack(expire)) end
if #delayed > 0 then redis.call('ZADD', base .. 'delayed', unpack(delayed)) end
for tenant, d in pairs(stats) do add(tenant, d) end
return out
`)

// requeueScript: ARGV base, id, token, recovered ("1": a shutdown puts it
// back; "0": a busy worker hands it on unstarted). Puts the caller's own
// running job back.
// Returns "ok" or "lost".
var requeueScript = goredis.NewScript(luaPrelude + `
local id, token = ARGV[2], ARGV[3]
local st, owner = unpack(redis.call('HMGET', jk(id), 'status', 'lease_token'))
if st ~= 'running' or owner ~= token then return 'lost' end
put_back(id, ARGV[4] == '1')
return 'ok'
`)

// sweepScript: ARGV base, now, limit, retention_ms. Reclaims expired leases
// (cancel-requested ones become cancelled), promotes due delayed jobs and
// deletes expired finished jobs with their index entries. Returns
// {reclaimed, promoted, expired, job_type, ...}: the job types are those of
// the jobs put back.
var sweepScript = goredis.NewScript(luaPrelude + `
local now, limit, retention = tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])
local reclaimed, promoted, expired, types = 0, 0, 0, {}
for _, id in ipairs(redis.call('ZRANGEBYSCORE', base .. 'leases', '-inf', now, 'LIMIT', 0, limit)) do
  local st, cancel, tenant, jtype = unpack(redis.call('HMGET', jk(id), 'status', 'cancel_requested', 'tenant_id', 'job_type'))
  if st == 'running' then
    if cancel == '1' then
      add(tenant, {running = -1, cancelled = 1})
      redis.call('ZREM', base .. 'leases', id)
      redis.call('HDEL', jk(id), 'lease_token', 'worker', 'cancel_requested')
      redis.call('HSET', jk(id), 'status', 'cancelled', 'cancelled_at', ARGV[2], 'completed_at', ARGV[2])
      redis.call('ZADD', base .. 'expire', now + retention, id)
      local sid = schedule_of(id)
      if sid then finish_schedule(id, sid, 'cancelled') end
    else
      put_back(id, true)
      types[#types + 1] = jtype
    end
    reclaimed = reclaimed + 1
  else
    redis.call('ZREM', base .. 'leases', id)
  end
end
for _, id in ipairs(redis.call('ZRANGEBYSCORE', base .. 'delayed', '-inf', now, 'LIMIT', 0, limit)) do
  redis.call('ZREM', base .. 'delayed', id)
  local st, prio = unpack(redis.call('HMGET', jk(id), 'status', 'priority'))
  if st == 'pending' or st == 'retrying' then
    redis.call('RPUSH', base .. 'q:' .. prio, id)
    notify()
    promoted = promoted + 1
  end
end
for _, id in ipairs(redis.call('ZRANGEBYSCORE', base .. 'expire', '-inf', now, 'LIMIT', 0, limit)) do
  local h = redis.call('HMGET', jk(id), 'tenant_id', 'status', 'items_total', 'items_processed', 'items_succeeded', 'items_failed',
    'started_at', 'completed_at')
  local tenant, st = h[1], h[2]
  if tenant then
    redis.call('ZREM', base .. 't:' .. tenant, id)
    local d = {items_total = -(tonumber(h[3]) or 0), items_processed = -(tonumber(h[4]) or 0),
      items_succeeded = -(tonumber(h[5]) or 0), items_failed = -(tonumber(h[6]) or 0)}
    d[st] = -1
    if st == 'completed' and h[7] and h[8] then
      d.duration_ms = tonumber(h[7]) - tonumber(h[8])
      d.durations = -1
    end
    add(tenant, d)
  end
  redis.call('DEL', jk(id))
  redis.call('ZREM', base .. 'expire', id)
  expired = expired + 1
end
return {reclaimed, promoted, expired, unpack(types)}
`)

// cancelScript: ARGV base, id, tenant, now, retention_ms.
// Returns "notfound", "conflict", "cancelled" or "cancelling".
var cancelScript = goredis.NewScript(luaPrelude + `
local id, tenant, now, retention = ARGV[2], ARGV[3], tonumber(ARGV[4]), tonumber(ARGV[5])
local st, owner_tenant, prio = unpack(redis.call('HMGET', jk(id), 'status', 'tenant_id', 'priority'))
if not st or owner_tenant ~= tenant then return 'notfound' end
if terminal(st) then return 'conflict' end
if st == 'running' then
  redis.call('HSET', jk(id), 'cancel_requested', '1')
  redis.call('PUBLISH', base .. 'cancel', id)
  return 'cancelling'
end
redis.call('LREM', base .. 'q:' .. prio, 0, id)
redis.call('ZREM', base .. 'delayed', id)
add(tenant, {[st] = -1, cancelled = 1})
redis.call('HSET', jk(id), 'status', 'cancelled', 'cancelled_at', ARGV[4], 'completed_at', ARGV[4])
redis.call('ZADD', base .. 'expire', now + retention, id)
local sid = schedule_of(id)
if sid then finish_schedule(id, sid, 'cancelled') end
return 'cancelled'
`)

// fireScript: ARGV base, schedule_id, slot, next, now, fire ("1"/"0"),
// max_pending, job_id, tenant, prio, field, value, ...
// Advances the schedule from slot to next exactly once across replicas, and
// when asked, creates the slot's job within max_concurrent_runs. Returns
// "stale", "inactive", "skipped", "busy", "full" or "fired".
var fireScript = goredis.NewScript(luaPrelude + `
-- Times stay strings (see add).
local sid, slot, nxt, now, fire = ARGV[2], ARGV[3], ARGV[4], ARGV[5], ARGV[6]
local max_pending, id, tenant, prio = tonumber(ARGV[7]), ARGV[8], ARGV[9], ARGV[10]
local sk = base .. 's:' .. sid
local cur, active, maxc = unpack(redis.call('HMGET', sk, 'next_run_at', 'is_active', 'max_concurrent_runs'))
if cur ~= slot then return 'stale' end
if active ~= '1' then
  redis.call('ZREM', base .. 's:due', sid)
  return 'inactive'
end
redis.call('HSET', sk, 'next_run_at', nxt)
redis.call('ZADD', base .. 's:due', nxt, sid)
if fire ~= '1' then
  redis.call('HINCRBY', sk, 'skipped_runs', 1)
  return 'skipped'
end
local ak = base .. 's:active:' .. sid
-- Drop members whose job is gone or finished (expired, cancelled elsewhere).
for _, jid in ipairs(redis.call('SMEMBERS', ak)) do
  local st = redis.call('HGET', jk(jid), 'status')
  if not st or terminal(st) then redis.call('SREM', ak, jid) end
end
if redis.call('SCARD', ak) >= tonumber(maxc or '1') then
  redis.call('HINCRBY', sk, 'skipped_runs', 1)
  return 'busy'
end
if pending_of(tenant) >= max_pending then
  redis.call('HINCRBY', sk, 'skipped_runs', 1)
  return 'full'
end
local fields = {}
for i = 11, #ARGV do fields[#fields + 1] = ARGV[i] end
create_job(id, tenant, now, prio, '0', fields)
redis.call('SADD', ak, id)
redis.call('HINCRBY', sk, 'total_runs', 1)
redis.call('HSET', sk, 'last_run_at', now)
return 'fired'
`)

// progressScript: ARGV base, id, token, field, value, ... Stores a running
// job's progress while the caller still holds its lease (a worker that lost
// it must not overwrite the new owner's), keeping the tenant's item sums.
// Returns "ok" or "lost".
var progressScript = goredis.NewScript(luaPrelude + `
local id, token = ARGV[2], ARGV[3]
local h = redis.call('HMGET', jk(id), 'status', 'lease_token', 'tenant_id', 'items_processed', 'items_succeeded', 'items_failed')
if h[1] ~= 'running' or h[2] ~= token then return 'lost' end
local fields = {}
for i = 4, #ARGV do fields[#fields + 1] = ARGV[i] end
redis.call('HSET', jk(id), unpack(fields))
local d = {}
item_deltas(d, {h[4], h[5], h[6]}, fields)
add(h[3], d)
return 'ok'
`)
