package auth_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/redifx/redifx/modules/auth"
	"github.com/redifx/redifx/modules/config"
	"github.com/redifx/redifx/modules/redis/keyspace"
)

// tenantsKeysCannotCarry are tenant ids that keyspace.ValidateID refuses:
// the key separator, hash-tag braces, spaces, control and non-ASCII bytes, and
// one byte over the length limit.
var tenantsKeysCannotCarry = []string{"x:y", "a{b}", "{acme}", "a b", "tab\t", "é", "new\nline", strings.Repeat("t", keyspace.MaxIDLen+1)}

// A genuine token whose tenant_id keys cannot carry is refused with 401 and a
// JSON error naming tenant_id (before, it was accepted, and x + "y:z" met
// "x:y" + z in a key).
func TestTokenWithATenantKeysCannotCarryIs401NamingTenantID(t *testing.T) {
	f := newFixture(t)
	v := verifier(t, auth.Config{JWTSecret: secret})
	for _, tenant := range tenantsKeysCannotCarry {
		tok := sign(t, jwt.SigningMethodHS256, []byte(secret), valid(claims{"tenant_id": tenant}), "")
		_, err := v.Verify(tok)
		var idErr *keyspace.IDError
		if !errors.Is(err, auth.ErrUnauthenticated) || !errors.As(err, &idErr) || idErr.Field != "tenant_id" {
			t.Errorf("Verify with tenant %q: %v", tenant, err)
		}
		rec, body := f.do("GET", "/jobs", tok)
		if rec.Code != 401 || body["error"] != "unauthorized" || body["field"] != "tenant_id" || !strings.Contains(body["message"].(string), "tenant_id") {
			t.Errorf("tenant %q: %d %v", tenant, rec.Code, body)
		}
		if rec.Header().Get("WWW-Authenticate") == "" {
			t.Errorf("tenant %q: 401 without WWW-Authenticate", tenant)
		}
	}
	// The longest tenant keys carry, and every byte they admit, still pass.
	for _, tenant := range []string{strings.Repeat("t", keyspace.MaxIDLen), "a.b_c-d@e+f=g", "0"} {
		tok := sign(t, jwt.SigningMethodHS256, []byte(secret), valid(claims{"tenant_id": tenant}), "")
		if rec, body := f.do("GET", "/jobs", tok); rec.Code != 200 || body["tenant"] != tenant {
			t.Errorf("tenant %q: %d %v", tenant, rec.Code, body)
		}
	}
}

// Mint (behind `redifx token`) refuses such a tenant, naming it.
func TestMintRefusesATenantKeysCannotCarry(t *testing.T) {
	cfg := auth.Config{JWTSecret: secret}
	for _, tenant := range tenantsKeysCannotCarry {
		_, err := auth.Mint(cfg, config.Test, auth.TokenRequest{Subject: "bob", TenantID: tenant, TTL: time.Hour})
		if err == nil || !strings.Contains(err.Error(), "tenant_id") || !strings.Contains(err.Error(), "tenant "+`"`) {
			t.Errorf("Mint with tenant %q: %v", tenant, err)
		}
	}
	if _, err := auth.Mint(cfg, config.Test, auth.TokenRequest{Subject: "bob", TenantID: "acme", TTL: time.Hour}); err != nil {
		t.Errorf("a good tenant: %v", err)
	}
}

// ValidUntil is exp + leeway: the instant from which Verify refuses.
func TestValidUntilIsWhereVerifyStartsRefusing(t *testing.T) {
	const leeway = 30 * time.Second
	v := verifier(t, auth.Config{JWTSecret: secret, Leeway: leeway})
	exp := time.Now().Add(-10 * time.Second).Truncate(time.Second)
	c, err := v.Verify(sign(t, jwt.SigningMethodHS256, []byte(secret), valid(claims{"exp": exp.Unix()}), ""))
	if err != nil {
		t.Fatalf("10 s past exp inside a 30 s leeway: %v", err)
	}
	if got := c.ValidUntil(); !got.Equal(exp.Add(leeway)) {
		t.Errorf("ValidUntil %s, want exp + leeway %s", got, exp.Add(leeway))
	}
	if (&auth.Caller{}).ValidUntil() != (time.Time{}) {
		t.Error("a caller without expiry has a ValidUntil")
	}
}
