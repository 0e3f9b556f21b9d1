package metrics

import (
	"errors"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/redifx/redifx/modules/redis/keyspace"
)

// Property: two different (tenant, key family) pairs never map to one key.
func TestKeysAreInjective(t *testing.T) {
	k := newKeys("redifx:")
	const alphabet = "ab0.._--@@++==Z9"
	type owner struct{ family, tenant string }
	seen := map[string]owner{}
	r := rand.New(rand.NewPCG(3, 4))
	for range 20000 {
		b := make([]byte, 1+r.IntN(6))
		for i := range b {
			b[i] = alphabet[r.IntN(len(alphabet))]
		}
		tenant := string(b)
		if err := checkTenant(tenant); err != nil {
			t.Fatalf("generator made an invalid tenant %q: %v", tenant, err)
		}
		for _, kv := range []struct{ key, family string }{{k.dashboard(tenant), "dashboard"}, {k.lock(tenant), "lock"}} {
			o := owner{kv.family, tenant}
			if prev, ok := seen[kv.key]; ok && prev != o {
				t.Fatalf("%q is the key of %+v and of %+v", kv.key, prev, o)
			}
			seen[kv.key] = o
		}
	}
}

func TestCheckTenantNamesTheField(t *testing.T) {
	for _, bad := range []string{"", "a:b", "{x}", "a b", strings.Repeat("x", 129)} {
		var idErr *keyspace.IDError
		if err := checkTenant(bad); !errors.As(err, &idErr) || idErr.Field != "tenant_id" || !errors.Is(err, ErrInvalidTenant) {
			t.Errorf("%q: %v", bad, err)
		}
	}
}
