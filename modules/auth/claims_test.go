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

// exp, nbf and iat beyond the year 9999 are refused: the JWT library turned
// an nbf of 1e19 seconds (a token never valid) into a date in the distant
// past, and the token was accepted at once; likewise an iat of 1e19.
func TestNumericDatesOutOfRangeAreRefused(t *testing.T) {
	f := newFixture(t)
	v := verifier(t, auth.Config{JWTSecret: secret})
	for name, value := range map[string]any{
		"nbf 1e19": claims{"nbf": 1e19}, "nbf 2^63": claims{"nbf": 9223372036854775808.0}, "iat 1e19": claims{"iat": 1e19},
		"exp 1e19": claims{"exp": 1e19}, "exp 1e300": claims{"exp": 1e300}, "nbf -1e19": claims{"nbf": -1e19},
		"nbf year 10000": claims{"nbf": 253402300800}, "iat string": claims{"iat": "1"}, "exp null": claims{"exp": "null"},
	} {
		tok := sign(t, jwt.SigningMethodHS256, []byte(secret), valid(value.(claims)), "")
		if c, err := v.Verify(tok); err == nil {
			t.Errorf("%s: accepted as %+v", name, c)
		}
		if rec, body := f.do("GET", "/jobs", tok); rec.Code != 401 {
			t.Errorf("%s: %d %v", name, rec.Code, body)
		}
	}
	// The bounds themselves and ordinary dates pass.
	for name, c := range map[string]claims{
		"exp year 9999": {"exp": 253402300799}, "nbf 0": {"nbf": 0}, "iat 1": {"iat": 1}, "fractional": {"exp": float64(time.Now().Add(time.Hour).Unix()) + 0.5},
	} {
		if _, err := v.Verify(sign(t, jwt.SigningMethodHS256, []byte(secret), valid(c), "")); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
}
