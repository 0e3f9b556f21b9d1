package metrics_test

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/redifx/redifx/modules/metrics"
	"github.com/redifx/redifx/modules/redis/keyspace"
	"github.com/redifx/redifx/modules/redis/redistest"
)

// The Go API refuses tenants that keys cannot carry, naming tenant_id, and
// writes nothing for them; HTTP never sees them (the verifier answers 401
// naming tenant_id).
func TestInvalidTenantsAreRefused(t *testing.T) {
	srv := redistest.Start(t)
	e := start(t, srv.URL(), metrics.DefaultConfig())
	ctx := context.Background()
	for _, bad := range []string{"", "x:y", "{acme}", "a b", strings.Repeat("t", 129)} {
		var idErr *keyspace.IDError
		if _, _, err := e.dash.Load(ctx, bad); !errors.As(err, &idErr) || idErr.Field != "tenant_id" {
			t.Errorf("Load(%q): %v", bad, err)
		}
		if err := e.dash.Invalidate(ctx, bad); !errors.As(err, &idErr) || idErr.Field != "tenant_id" {
			t.Errorf("Invalidate(%q): %v", bad, err)
		}
		if body, info := e.dash.Get(ctx, bad); len(body) == 0 || info.Available {
			t.Errorf("Get(%q) cached or empty: %s %+v", bad, body, info)
		}
	}
	if keys, _ := srv.Client(t).Keys(ctx, "redifx:metrics:*").Result(); len(keys) != 0 {
		t.Errorf("refused tenants wrote %v", keys)
	}
	code, body := call(t, "GET", e.base+"/api/v1/metrics/dashboard", signedWithTenant(t, "x:y"))
	if code != 401 || body["field"] != "tenant_id" {
		t.Errorf("token with tenant x:y: %d %v", code, body)
	}
}

// signedWithTenant mints a token for any tenant (Mint itself refuses bad
// ones), signed with the test secret.
func signedWithTenant(t *testing.T, tenant string) string {
	t.Helper()
	return signHS256(t, map[string]any{"sub": "u", "tenant_id": tenant, "permissions": []string{"metrics.read"},
		"iat": time.Now().Unix(), "exp": time.Now().Add(time.Hour).Unix()})
}

// Redis unreachable: invalidate is 503 with Retry-After naming the
// condition ("unreachable"), and the dashboard is served uncached; a Redis
// that refuses writes (OOM) still serves the dashboard and invalidates.
func TestRedisConditionsNamedInAnswers(t *testing.T) {
	redistest.RequireReal(t) // CONFIG SET
	srv := redistest.Start(t)
	e := start(t, srv.URL(), metrics.DefaultConfig())
	read := token(t, "acme", "metrics.read")
	manage := token(t, "acme", "metrics.manage")
	rdb := srv.Client(t)
	ctx := context.Background()
	rdb.ConfigSet(ctx, "maxmemory-policy", "noeviction")
	rdb.ConfigSet(ctx, "maxmemory", "1")
	if code, d := call(t, "GET", e.base+"/api/v1/metrics/dashboard", read); code != 200 || d["cache"].(map[string]any)["available"] != false {
		t.Errorf("dashboard under OOM: %d %v", code, d)
	}
	if code, d := call(t, "POST", e.base+"/api/v1/metrics/cache/invalidate", manage); code != 200 {
		t.Errorf("invalidate under OOM: %d %v", code, d)
	}
	rdb.ConfigSet(ctx, "maxmemory", "0")
	srv.Kill()
	deadline := time.Now().Add(5 * time.Second)
	for e.mgr.Available() && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	req, _ := http.NewRequest("POST", e.base+"/api/v1/metrics/cache/invalidate", nil)
	req.Header.Set("Authorization", "Bearer "+manage)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	code, d := call(t, "POST", e.base+"/api/v1/metrics/cache/invalidate", manage)
	msg, _ := d["message"].(string)
	if code != 503 || resp.Header.Get("Retry-After") == "" || !strings.Contains(msg, "unreachable") || strings.Contains(msg, "down") {
		t.Errorf("invalidate with Redis gone: %d %v", code, d)
	}
	code, d = call(t, "GET", e.base+"/api/v1/metrics/dashboard", read)
	if code != 200 {
		t.Fatalf("dashboard with Redis gone: %d", code)
	}
	if s := d["needs_redis"].(map[string]any); s["available"] != false || strings.Contains(s["message"].(string), "down") {
		t.Errorf("a failed source's message: %v", s)
	}
}

// Every header and parameter of the metrics routes: never a 5xx.
func TestEveryMetricsHeaderAndParameterNever5xx(t *testing.T) {
	srv := redistest.Start(t)
	e := start(t, srv.URL(), metrics.DefaultConfig())
	read := token(t, "acme", "metrics.read", "metrics.manage")
	for _, path := range []string{"/api/v1/metrics/dashboard", "/api/v1/metrics/dashboard?tenant=globex&refresh=1&x=%00",
		"/api/v1/metrics/cache/invalidate", "/api/v1/metrics/cache/invalidate?tenant=" + strings.Repeat("t", 3000), "/metrics", "/metrics?name[]=x"} {
		for _, method := range []string{"GET", "POST", "PUT", "DELETE"} {
			for _, hdr := range [][2]string{{"Authorization", "Bearer " + read}, {"Authorization", ""}, {"Authorization", "Bearer x.y.z"},
				{"Authorization", "Basic " + read}, {"Content-Type", "text/plain"}, {"X-Request-ID", strings.Repeat("r", 600)}, {"Accept", "application/openmetrics-text"}} {
				req, err := http.NewRequest(method, e.base+path, strings.NewReader(`{"tenant":"globex"} trailing`))
				if err != nil {
					t.Fatal(err)
				}
				if hdr[0] != "Authorization" {
					req.Header.Set("Authorization", "Bearer "+read)
				}
				req.Header.Set(hdr[0], hdr[1])
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				resp.Body.Close()
				if resp.StatusCode >= 500 {
					t.Errorf("%s %s %s: %d", method, path, hdr[0], resp.StatusCode)
				}
			}
		}
	}
}

func signHS256(t *testing.T, c map[string]any) string {
	t.Helper()
	s, err := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims(c)).SignedString([]byte(secret))
	if err != nil {
		t.Fatal(err)
	}
	return s
}
