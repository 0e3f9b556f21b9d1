package keyspace_test

import (
	"errors"
	"math/rand"
	"strings"
	"testing"
	"testing/quick"

	"github.com/redifx/redifx/modules/redis/keyspace"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// ids draws from the admitted alphabet and ':' so that collisions are likely
// under a non-injective scheme.
func ids(r *rand.Rand, n int) string {
	const alphabet = "ab:.-"
	b := make([]byte, 1+r.Intn(n))
	for i := range b {
		b[i] = alphabet[r.Intn(len(alphabet))]
	}
	return string(b)
}

func TestValidateID(t *testing.T) {
	for _, ok := range []string{"acme", "t-1", "A.b_c@d+e=f", strings.Repeat("x", keyspace.MaxIDLen)} {
		if err := keyspace.ValidateID("tenant_id", ok); err != nil {
			t.Errorf("%q: %v", ok, err)
		}
	}
	for _, bad := range []string{"", "x:y", "a{b", "a}b", "a b", "tab\t", "nl\n", "é", "a/b", "a*", strings.Repeat("x", keyspace.MaxIDLen+1)} {
		err := keyspace.ValidateID("tenant_id", bad)
		var ie *keyspace.IDError
		if !errors.As(err, &ie) || ie.Field != "tenant_id" || !errors.Is(err, keyspace.ErrInvalidID) {
			t.Errorf("%q: want an IDError naming tenant_id, got %v", bad, err)
		}
		if err != nil && !strings.HasPrefix(err.Error(), "tenant_id ") {
			t.Errorf("%q: message %q does not name the field", bad, err)
		}
	}
}

// Two different (id, free-form part) pairs never give the same key when the id
// is valid and the free part is length-prefixed.
func TestKeysAreInjective(t *testing.T) {
	key := func(tenant, part string) string { return "idem:" + tenant + ":" + keyspace.Part(part) }
	f := func(t1, p1, t2, p2 string) bool {
		if keyspace.ValidateID("t", t1) != nil || keyspace.ValidateID("t", t2) != nil {
			return true
		}
		return (key(t1, p1) == key(t2, p2)) == (t1 == t2 && p1 == p2)
	}
	if err := quick.Check(f, &quick.Config{MaxCount: 20000}); err != nil {
		t.Error(err)
	}
	r := rand.New(rand.NewSource(1))
	seen := map[string][2]string{}
	for range 200000 {
		t1, p1 := ids(r, 4), ids(r, 4)
		if keyspace.ValidateID("t", t1) != nil {
			continue
		}
		k := key(t1, p1)
		if prev, ok := seen[k]; ok && prev != [2]string{t1, p1} {
			t.Fatalf("%q and %q both make %q", prev, [2]string{t1, p1}, k)
		}
		seen[k] = [2]string{t1, p1}
	}
	// The collision the old scheme had.
	if key("x", "y:z") == key("x:y", "z") {
		t.Error("collision")
	}
	g := func(a, x, b, y string) bool {
		return (keyspace.Part(a)+x == keyspace.Part(b)+y) == (a == b && x == y)
	}
	if err := quick.Check(g, &quick.Config{MaxCount: 20000}); err != nil {
		t.Error(err)
	}
}
