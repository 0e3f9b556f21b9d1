package auth_test

import (
	"encoding/base64"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/redifx/redifx/modules/auth"
)

// signRaw signs payload, a claim set written by hand (a map cannot hold one
// member twice), with HS256.
func signRaw(t *testing.T, payload string) string {
	t.Helper()
	enc := base64.RawURLEncoding.EncodeToString
	unsigned := enc([]byte(`{"alg":"HS256","typ":"JWT"}`)) + "." + enc([]byte(payload))
	sig, err := jwt.SigningMethodHS256.Sign(unsigned, []byte(secret))
	if err != nil {
		t.Fatal(err)
	}
	return unsigned + "." + enc(sig)
}

// A claim spelled in another case, or given twice, is refused: encoding/json
// matched names without regard to case and let the last one win, so a token
// that every other verifier reads as tenant acme was tenant evil here (and
// "Permissions" granted what "permissions" did not). Every claim redifx reads
// is covered, over HTTP (401) and through Verify.
func TestClaimsSpelledInAnotherCaseOrTwiceAreRefused(t *testing.T) {
	f := newFixture(t)
	v := verifier(t, auth.Config{JWTSecret: secret})
	now := time.Now()
	exp := now.Add(time.Hour).Unix()
	variants := map[string]any{
		"Tenant_ID": "evil", "TENANT_ID": "evil", "Permissions": []string{"jobs.read", "jobs.write"},
		"ROLES": []string{"admin"}, "Sub": "mallory", "ſub": "mallory", "EXP": exp + 3600, "Nbf": now.Unix(),
		"IAT": now.Unix(), "Iss": "https://idp.example", "AUD": "redifx", "Jti": "x",
	}
	for name, value := range variants {
		tok := sign(t, jwt.SigningMethodHS256, []byte(secret), valid(claims{name: value}), "")
		if c, err := v.Verify(tok); err == nil {
			t.Errorf("claim %q beside its canonical spelling: accepted as %+v", name, c)
		}
		if rec, body := f.do("GET", "/jobs", tok); rec.Code != 401 || body["error"] != "unauthorized" {
			t.Errorf("claim %q: %d %v", name, rec.Code, body)
		}
	}
	// Alone (without the canonical spelling) it is refused too.
	tok := sign(t, jwt.SigningMethodHS256, []byte(secret), valid(claims{"tenant_id": nil, "Tenant_ID": "evil", "permissions": nil, "roles": []string{"admin"}}), "")
	if rec, body := f.do("GET", "/jobs", tok); rec.Code != 401 {
		t.Errorf("Tenant_ID alone: %d %v", rec.Code, body)
	}
	// A member given twice, whatever the values.
	for _, payload := range []string{
		`{"sub":"alice","tenant_id":"acme","tenant_id":"evil","permissions":["jobs.read"],"iss":"https://idp.example","aud":"redifx","exp":%d}`,
		`{"sub":"alice","tenant_id":"acme","permissions":["jobs.read"],"permissions":["jobs.read"],"iss":"https://idp.example","aud":"redifx","exp":%d}`,
		`{"sub":"alice","tenant_id":"acme","permissions":["jobs.read"],"iss":"https://idp.example","aud":"redifx","exp":%[1]d,"exp":%[1]d}`,
	} {
		tok := signRaw(t, fmt.Sprintf(payload, exp))
		if rec, body := f.do("GET", "/jobs", tok); rec.Code != 401 {
			t.Errorf("%s: %d %v", payload, rec.Code, body)
		}
	}
	// The same claims written once each, and members redifx does not read in
	// any case (an IdP's own claims), pass.
	ok := `{"sub":"alice","tenant_id":"acme","permissions":["jobs.read"],"iss":"https://idp.example","aud":"redifx","exp":%d,"Email":"a@example.com","email":"a@example.com","Tenant":"x"}`
	if rec, body := f.do("GET", "/jobs", signRaw(t, fmt.Sprintf(ok, exp))); rec.Code != 200 || body["tenant"] != "acme" {
		t.Errorf("a well-formed token: %d %v", rec.Code, body)
	}
	if c, err := v.Verify(sign(t, jwt.SigningMethodHS256, []byte(secret), valid(nil), "")); err != nil || c.TenantID != "acme" || strings.Join(c.Permissions, ",") != "jobs.read" {
		t.Errorf("a minted-style token: %+v %v", c, err)
	}
}
