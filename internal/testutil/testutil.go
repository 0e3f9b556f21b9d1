// Package testutil holds what redifx's tests share: JSON calls over real HTTP
// and tokens for the test environment. Only tests import it.
package testutil

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/redifx/redifx/modules/auth"
	"github.com/redifx/redifx/modules/config"
)

// Call sends method url with body (nil for none, a string as it is, anything
// else encoded as JSON), a bearer token when tok is not empty, and header
// name/value pairs. It returns the status and the answer decoded as a JSON
// object (nil when it is not one); a failed request fails the test.
func Call(t testing.TB, method, url, tok string, body any, header ...string) (int, map[string]any) {
	t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = bytes.NewReader([]byte(b))
	default:
		raw, err := json.Marshal(b)
		if err != nil {
			t.Fatalf("encoding the request body: %v", err)
		}
		rd = bytes.NewReader(raw)
	}
	req, err := http.NewRequest(method, url, rd)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	if tok != "" {
		req.Header.Set("Authorization", "Bearer "+tok)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&out)
	return resp.StatusCode, out
}

// Token mints an hour-long test-environment token for tenant, with subject
// "user-<tenant>" and perms, signed with secret.
func Token(t testing.TB, secret, tenant string, perms ...string) string {
	t.Helper()
	tok, err := auth.Mint(auth.Config{JWTSecret: secret}, config.Test, auth.TokenRequest{
		Subject: "user-" + tenant, TenantID: tenant, Permissions: perms, TTL: time.Hour,
	})
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// UncheckedToken signs an hour-long HS256 token with secret for tenant and
// perms without auth.Mint's checks, for tests of how a service answers a token
// Mint would refuse (a tenant id that keys cannot carry, say).
func UncheckedToken(t testing.TB, secret, tenant string, perms ...string) string {
	t.Helper()
	now := time.Now()
	tok, err := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{
		"sub": "user", "tenant_id": tenant, "permissions": perms,
		"iat": now.Unix(), "nbf": now.Unix(), "exp": now.Add(time.Hour).Unix(),
	}).SignedString([]byte(secret))
	if err != nil {
		t.Fatal(err)
	}
	return tok
}
