package jobs

import (
	"errors"

	"github.com/redifx/redifx/modules/redis/keyspace"
)

// Every Redis key the jobs module writes is built here, by one rule:
//
//	<prefix>{jobs}:<name>                       a fixed key (no ':' in name)
//	<prefix>{jobs}:<family>:<part>[:<part>…]    a family of keys
//
// Names and families are fixed words without ':'; a part is an identifier
// that keyspace.ValidateID admits (tenant ids, job and schedule ids — no ':',
// no braces) or a priority (one of Priorities), and only the last part of a
// key may be free-form, length-prefixed with keyspace.Part (the idempotency
// key). So a key names its family and parts unambiguously: two different
// (family, parts) never make one key (TestKeysAreInjective checks every
// function below). Every key shares the hash tag {jobs}, so each script runs
// on one Cluster node.
//
// The keys:
//
//	meta                 routes every script (KEYS[1]); never written
//	notify               list: wake-ups for idle workers (at most 1,000)
//	delayed              zset: jobs waiting for run_at or a retry, by due time (ms)
//	leases               zset: running jobs, by lease expiry (ms)
//	expire               zset: finished jobs, by when they are deleted (ms)
//	cancel               pub/sub channel: cancellations (job id)
//	sched-due            zset: active schedules, by next run (ms)
//	job:<id>             hash: a job
//	q:<priority>         list: job ids ready to run
//	t:<tenant>           zset: a tenant's jobs, by creation time (ms)
//	st:<tenant>          hash: a tenant's counts by status and item/duration sums
//	idem:<tenant>:<Part(key)>  hash: an Idempotency-Key's job id and request hash (24 h)
//	sched:<id>           hash: a schedule
//	sched-runs:<id>      set: a schedule's jobs that have not finished
//	sched-t:<tenant>     zset: a tenant's schedules, by creation time (ms)
//
// The Lua scripts (scripts.go) build job:, q:, st:, sched: and sched-runs:
// keys from ids they read inside Redis by the same rule, from the same
// constants (luaKeys); the idempotency key, the only one with a free-form
// part, is built here and passed in KEYS.
//
// Compatibility: until this layout, idempotency keys were idem:<tenant>:<key>
// and schedules lived under s:<id>, s:active:<id>, s:t:<tenant> and s:due.
// redifx has not shipped, so no migration is done: data under the old names is
// not read.
const (
	keyMeta      = "meta"
	keyNotify    = "notify"
	keyDelayed   = "delayed"
	keyLeases    = "leases"
	keyExpire    = "expire"
	keyCancel    = "cancel"
	keySchedDue  = "sched-due"
	famJob       = "job"
	famQueue     = "q"
	famTenant    = "t"
	famStats     = "st"
	famIdem      = "idem"
	famSched     = "sched"
	famSchedRuns = "sched-runs"
	famSchedT    = "sched-t"
)

// keys builds the module's keys under one base, "<prefix>{jobs}:".
type keys struct{ base string }

func newKeys(prefix string) keys { return keys{base: prefix + "{jobs}:"} }

func (k keys) fixed(name string) string              { return k.base + name }
func (k keys) family(fam string, part string) string { return k.base + fam + ":" + part }

func (k keys) meta() string     { return k.fixed(keyMeta) }
func (k keys) notify() string   { return k.fixed(keyNotify) }
func (k keys) delayed() string  { return k.fixed(keyDelayed) }
func (k keys) leases() string   { return k.fixed(keyLeases) }
func (k keys) expire() string   { return k.fixed(keyExpire) }
func (k keys) cancel() string   { return k.fixed(keyCancel) }
func (k keys) schedDue() string { return k.fixed(keySchedDue) }

// job is job id's hash.
func (k keys) job(id string) string { return k.family(famJob, id) }

// queue is the list of ready jobs of priority p (one of Priorities).
func (k keys) queue(p string) string { return k.family(famQueue, p) }

// tenantJobs is tenant's index of jobs.
func (k keys) tenantJobs(tenant string) string { return k.family(famTenant, tenant) }

// stats is tenant's statistics hash.
func (k keys) stats(tenant string) string { return k.family(famStats, tenant) }

// idem is the record of tenant's Idempotency-Key key (free-form, last).
func (k keys) idem(tenant, key string) string {
	return k.family(famIdem, tenant) + ":" + keyspace.Part(key)
}

// sched is schedule id's hash.
func (k keys) sched(id string) string { return k.family(famSched, id) }

// schedRuns is the set of schedule id's unfinished jobs.
func (k keys) schedRuns(id string) string { return k.family(famSchedRuns, id) }

// tenantScheds is tenant's index of schedules.
func (k keys) tenantScheds(tenant string) string { return k.family(famSchedT, tenant) }

// checkTenant refuses a tenant id that cannot be carried in a key, with a
// FieldError naming tenant_id.
func checkTenant(tenant string) error {
	var ie *keyspace.IDError
	if errors.As(keyspace.ValidateID("tenant_id", tenant), &ie) {
		return &FieldError{Field: "tenant_id", Message: ie.Reason}
	}
	return nil
}

// validID reports whether id (of a job or a schedule) can name a key; an id
// that cannot was never stored, so callers answer ErrNotFound.
func validID(id string) bool { return keyspace.ValidateID("id", id) == nil }
