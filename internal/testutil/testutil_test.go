package testutil_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/redifx/redifx/internal/testutil"
	"github.com/redifx/redifx/modules/auth"
	"github.com/redifx/redifx/modules/config"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestCallSendsAndDecodes(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		w.WriteHeader(http.StatusTeapot)
		_ = json.NewEncoder(w).Encode(map[string]any{
			"method": r.Method, "auth": r.Header.Get("Authorization"), "type": r.Header.Get("Content-Type"),
			"key": r.Header.Get("Idempotency-Key"), "body": string(body),
		})
	}))
	defer srv.Close()
	code, out := testutil.Call(t, "POST", srv.URL, "tok", map[string]any{"a": 1}, "Idempotency-Key", "k1")
	if code != http.StatusTeapot || out["method"] != "POST" || out["auth"] != "Bearer tok" || out["type"] != "application/json" ||
		out["key"] != "k1" || out["body"] != `{"a":1}` {
		t.Errorf("%d %v", code, out)
	}
	_, out = testutil.Call(t, "GET", srv.URL, "", `{"raw":true}`)
	if out["auth"] != "" || out["body"] != `{"raw":true}` {
		t.Errorf("a string body is sent as it is, no token without one: %v", out)
	}
	_, out = testutil.Call(t, "DELETE", srv.URL, "", nil)
	if out["body"] != "" {
		t.Errorf("no body: %v", out)
	}
}

func TestTokenVerifies(t *testing.T) {
	secret := "testutil-secret-0123456789abcdefghij"
	v, err := auth.NewVerifier(auth.Config{JWTSecret: secret}, config.Test)
	if err != nil {
		t.Fatal(err)
	}
	c, err := v.Verify(testutil.Token(t, secret, "acme", "jobs.read", "jobs.write"))
	if err != nil {
		t.Fatal(err)
	}
	if c.TenantID != "acme" || c.Subject != "user-acme" || len(c.Permissions) != 2 {
		t.Errorf("%+v", c)
	}
}
