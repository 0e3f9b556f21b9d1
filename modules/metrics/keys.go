package metrics

import "github.com/redifx/redifx/modules/redis/keyspace"

// Every Redis key this package writes is built here: prefix + "metrics:{" +
// tenant + "}:" + a fixed suffix. The tenant passes keyspace.ValidateID, so it
// holds neither ':' nor braces and the closing brace ends it: two different
// tenants never share a key, and the braces make it the Cluster hash tag.

// keys builds the key names of one key prefix (e.g. "redifx:").
type keys struct{ base string }

func newKeys(keyPrefix string) keys { return keys{base: keyPrefix + "metrics:"} }

// ErrInvalidTenant is wrapped by the error of a tenant id that cannot be
// carried in a key; the error names tenant_id.
var ErrInvalidTenant = keyspace.ErrInvalidID

// checkTenant returns a *keyspace.IDError naming tenant_id when tenant cannot
// be carried in a key.
func checkTenant(tenant string) error { return keyspace.ValidateID("tenant_id", tenant) }

// dashboard holds tenant's computed dashboard.
func (k keys) dashboard(tenant string) string { return k.base + "{" + tenant + "}:dashboard" }

// lock is held by the replica computing tenant's cold dashboard.
func (k keys) lock(tenant string) string { return k.base + "{" + tenant + "}:lock" }
