package realtime

import (
	"strconv"
	"time"

	"github.com/redifx/redifx/modules/redis/keyspace"
)

// Every Redis key and pub/sub channel this package writes is built here.
//
// A tenant's keys are prefix + "realtime:{" + tenant + "}:" + a fixed suffix
// (the braces are the Cluster hash tag, so every key of one tenant is in one
// slot). The tenant passes keyspace.ValidateID, so it contains neither ':' nor
// '{' nor '}', and the closing brace ends it without ambiguity: two different
// tenants never share a key, and the fixed suffixes never collide with each
// other. The only free-form part, an Idempotency-Key, is length-prefixed
// (keyspace.Part) and comes last. The pub/sub channel is one per key prefix
// (not per tenant: every process subscribes once); tenants are told apart in
// the envelope.

// keys builds the key names of one key prefix (e.g. "redifx:").
type keys struct {
	base string // prefix + "realtime:"
}

func newKeys(keyPrefix string) keys { return keys{base: keyPrefix + "realtime:"} }

// checkTenant returns an error naming tenant_id when tenant cannot be carried
// in a key; every exported API of the package calls it before building one.
func checkTenant(tenant string) error {
	if err := keyspace.ValidateID("tenant_id", tenant); err != nil {
		return &ValidationError{Field: "tenant_id", Message: err.(*keyspace.IDError).Reason}
	}
	return nil
}

func (k keys) tenant(tenant, suffix string) string { return k.base + "{" + tenant + "}:" + suffix }

// pubsub is the one channel every process subscribes to.
func (k keys) pubsub() string { return k.base + "events" }

// stream holds the tenant's events (every channel).
func (k keys) stream(tenant string) string { return k.tenant(tenant, "stream") }

// streamBytes holds the bytes the tenant's stream holds, as the history byte
// budget counts them (see publishScript).
func (k keys) streamBytes(tenant string) string { return k.tenant(tenant, "stream-bytes") }

// onus holds the latest onu-status event of each ONU of tenant (a hash by
// serial; the serial is a hash field, never part of a key name).
func (k keys) onus(tenant string) string { return k.tenant(tenant, "onus") }

// onusSeen holds when each ONU of tenant was last heard from (a sorted set by
// time), so that ONUs silent for longer than the history are dropped.
func (k keys) onusSeen(tenant string) string { return k.tenant(tenant, "onus:seen") }

// counts holds tenant's event counts by channel for the minute of t.
func (k keys) counts(tenant string, t time.Time) string {
	return k.tenant(tenant, "counts:"+strconv.FormatInt(t.Unix()/60, 10))
}

// clients holds each replica's count of tenant's open streams.
func (k keys) clients(tenant string) string { return k.tenant(tenant, "clients") }

// call records what one publish script call answered (see publishScript);
// id is random hex.
func (k keys) call(tenant, id string) string { return k.tenant(tenant, "call:"+id) }

// idem holds the event id an Idempotency-Key of tenant was answered with.
func (k keys) idem(tenant, key string) string { return k.tenant(tenant, "idem:"+keyspace.Part(key)) }
