package auth_test

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"math/big"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/golang-jwt/jwt/v5"
	"github.com/redifx/redifx/modules/auth"
	"github.com/redifx/redifx/modules/config"
	"github.com/redifx/redifx/modules/httpserver"
	"go.uber.org/goleak"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

const secret = "test-secret-0123456789-abcdefghijklmnop"

type claims map[string]any

func valid(extra claims) jwt.MapClaims {
	now := time.Now()
	c := jwt.MapClaims{
		"sub": "alice", "tenant_id": "acme", "permissions": []string{"jobs.read"},
		"iat": now.Unix(), "nbf": now.Unix(), "exp": now.Add(time.Hour).Unix(),
		"iss": "https://idp.example", "aud": "redifx",
	}
	for k, v := range extra {
		if v == nil {
			delete(c, k)
		} else {
			c[k] = v
		}
	}
	return c
}

func sign(t *testing.T, m jwt.SigningMethod, key any, c jwt.MapClaims, kid string) string {
	t.Helper()
	tok := jwt.NewWithClaims(m, c)
	if kid != "" {
		tok.Header["kid"] = kid
	}
	s, err := tok.SignedString(key)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func writePEM(t *testing.T, pub any) string {
	t.Helper()
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(t.TempDir(), "key.pem")
	if err := os.WriteFile(p, pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func verifier(t *testing.T, cfg auth.Config) *auth.Verifier {
	t.Helper()
	cfg.Issuer, cfg.Audience = "https://idp.example", "redifx"
	if cfg.Leeway == 0 {
		cfg.Leeway = 5 * time.Second
	}
	v, err := auth.NewVerifier(cfg, config.Test)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func alterSignature(tok string) string {
	parts := strings.Split(tok, ".")
	sig, _ := base64.RawURLEncoding.DecodeString(parts[2])
	sig[len(sig)/2] ^= 0x01
	parts[2] = base64.RawURLEncoding.EncodeToString(sig)
	return strings.Join(parts, ".")
}

func unsignedNone(c jwt.MapClaims) string {
	tok, _ := jwt.NewWithClaims(jwt.SigningMethodNone, c).SignedString(jwt.UnsafeAllowNoneSignatureType)
	return tok
}

func TestVerifyRejections(t *testing.T) {
	rsaKey, _ := rsa.GenerateKey(rand.Reader, 2048)
	rsaPEM := writePEM(t, &rsaKey.PublicKey)
	hs := verifier(t, auth.Config{JWTSecret: secret})
	rs := verifier(t, auth.Config{PublicKeyFile: rsaPEM})
	pemBytes, _ := os.ReadFile(rsaPEM)

	cases := []struct {
		name string
		v    *auth.Verifier
		tok  string
	}{
		{"garbage", hs, "not-a-jwt"},
		{"empty", hs, ""},
		{"two segments", hs, "a.b"},
		{"expired", hs, sign(t, jwt.SigningMethodHS256, []byte(secret), valid(claims{"exp": time.Now().Add(-time.Minute).Unix()}), "")},
		{"no exp", hs, sign(t, jwt.SigningMethodHS256, []byte(secret), valid(claims{"exp": nil}), "")},
		{"not yet valid", hs, sign(t, jwt.SigningMethodHS256, []byte(secret), valid(claims{"nbf": time.Now().Add(time.Minute).Unix()}), "")},
		{"issued in the future", hs, sign(t, jwt.SigningMethodHS256, []byte(secret), valid(claims{"iat": time.Now().Add(time.Minute).Unix()}), "")},
		{"wrong secret", hs, sign(t, jwt.SigningMethodHS256, []byte("another-secret-0123456789-abcdefghij"), valid(nil), "")},
		{"altered signature", hs, alterSignature(sign(t, jwt.SigningMethodHS256, []byte(secret), valid(nil), ""))},
		{"altered payload", hs, func() string {
			p := strings.Split(sign(t, jwt.SigningMethodHS256, []byte(secret), valid(nil), ""), ".")
			body, _ := json.Marshal(valid(claims{"tenant_id": "other"}))
			p[1] = base64.RawURLEncoding.EncodeToString(body)
			return strings.Join(p, ".")
		}()},
		{"alg none", hs, unsignedNone(valid(nil))},
		{"wrong issuer", hs, sign(t, jwt.SigningMethodHS256, []byte(secret), valid(claims{"iss": "https://evil"}), "")},
		{"no issuer", hs, sign(t, jwt.SigningMethodHS256, []byte(secret), valid(claims{"iss": nil}), "")},
		{"wrong audience", hs, sign(t, jwt.SigningMethodHS256, []byte(secret), valid(claims{"aud": "other"}), "")},
		{"no sub", hs, sign(t, jwt.SigningMethodHS256, []byte(secret), valid(claims{"sub": nil}), "")},
		{"HS384 with an RSA key configured", rs, sign(t, jwt.SigningMethodHS384, []byte(secret), valid(nil), "")},
		{"HS256 signed with the RSA public key as secret", rs, sign(t, jwt.SigningMethodHS256, pemBytes, valid(nil), "")},
		{"RS256 with only a secret configured", hs, sign(t, jwt.SigningMethodRS256, rsaKey, valid(nil), "")},
		{"RS256 altered signature", rs, alterSignature(sign(t, jwt.SigningMethodRS256, rsaKey, valid(nil), ""))},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if c, err := tc.v.Verify(tc.tok); err == nil {
				t.Fatalf("accepted: %+v", c)
			} else if !errors.Is(err, auth.ErrUnauthenticated) {
				t.Fatalf("error does not wrap ErrUnauthenticated: %v", err)
			}
		})
	}
	// And the valid ones pass.
	if _, err := hs.Verify(sign(t, jwt.SigningMethodHS256, []byte(secret), valid(nil), "")); err != nil {
		t.Errorf("valid HS256: %v", err)
	}
	if _, err := rs.Verify(sign(t, jwt.SigningMethodRS256, rsaKey, valid(nil), "")); err != nil {
		t.Errorf("valid RS256: %v", err)
	}
}

func TestECDSAAndEdDSAKeys(t *testing.T) {
	ec, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	v := verifier(t, auth.Config{PublicKeyFile: writePEM(t, &ec.PublicKey)})
	if _, err := v.Verify(sign(t, jwt.SigningMethodES256, ec, valid(nil), "")); err != nil {
		t.Errorf("ES256: %v", err)
	}
	pub, priv, _ := ed25519.GenerateKey(rand.Reader)
	v = verifier(t, auth.Config{PublicKeyFile: writePEM(t, pub)})
	if _, err := v.Verify(sign(t, jwt.SigningMethodEdDSA, priv, valid(nil), "")); err != nil {
		t.Errorf("EdDSA: %v", err)
	}
	if _, err := v.Verify(sign(t, jwt.SigningMethodHS256, []byte(secret), valid(nil), "")); err == nil {
		t.Error("HS256 accepted with only an Ed25519 key")
	}
}

func TestExpiryWithLeeway(t *testing.T) {
	v := verifier(t, auth.Config{JWTSecret: secret, Leeway: 30 * time.Second})
	justExpired := sign(t, jwt.SigningMethodHS256, []byte(secret), valid(claims{"exp": time.Now().Add(-10 * time.Second).Unix()}), "")
	if _, err := v.Verify(justExpired); err != nil {
		t.Errorf("expired 10s ago with 30s leeway: %v", err)
	}
	long := sign(t, jwt.SigningMethodHS256, []byte(secret), valid(claims{"exp": time.Now().Add(-time.Minute).Unix()}), "")
	if _, err := v.Verify(long); err == nil {
		t.Error("expired 60s ago accepted with 30s leeway")
	}
	soon := sign(t, jwt.SigningMethodHS256, []byte(secret), valid(claims{"nbf": time.Now().Add(10 * time.Second).Unix()}), "")
	if _, err := v.Verify(soon); err != nil {
		t.Errorf("nbf in 10s with 30s leeway: %v", err)
	}
}

func jwk(t *testing.T, kid, alg string, pub any) map[string]any {
	t.Helper()
	b64 := func(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }
	switch k := pub.(type) {
	case *rsa.PublicKey:
		return map[string]any{"kty": "RSA", "kid": kid, "alg": alg, "n": b64(k.N.Bytes()), "e": b64(big.NewInt(int64(k.E)).Bytes())}
	case *ecdsa.PublicKey:
		pt, _ := k.Bytes()
		return map[string]any{"kty": "EC", "kid": kid, "alg": alg, "crv": "P-256", "x": b64(pt[1:33]), "y": b64(pt[33:])}
	}
	t.Fatalf("unsupported %T", pub)
	return nil
}

func writeJWKS(t *testing.T, path string, keys ...map[string]any) {
	t.Helper()
	b, _ := json.Marshal(map[string]any{"keys": keys})
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
}

func TestJWKSChoosesKeyByKidAndReloads(t *testing.T) {
	k1, _ := rsa.GenerateKey(rand.Reader, 2048)
	k2, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	k3, _ := rsa.GenerateKey(rand.Reader, 2048)
	path := filepath.Join(t.TempDir(), "jwks.json")
	writeJWKS(t, path, jwk(t, "one", "RS256", &k1.PublicKey), jwk(t, "two", "ES256", &k2.PublicKey))
	v := verifier(t, auth.Config{JWKSFile: path})

	if _, err := v.Verify(sign(t, jwt.SigningMethodRS256, k1, valid(nil), "one")); err != nil {
		t.Errorf("kid one: %v", err)
	}
	if _, err := v.Verify(sign(t, jwt.SigningMethodES256, k2, valid(nil), "two")); err != nil {
		t.Errorf("kid two: %v", err)
	}
	if _, err := v.Verify(sign(t, jwt.SigningMethodRS256, k1, valid(nil), "two")); err == nil {
		t.Error("RS256 token accepted under the ES256 kid")
	}
	if _, err := v.Verify(sign(t, jwt.SigningMethodRS256, k3, valid(nil), "three")); err == nil {
		t.Error("unknown kid accepted")
	}
	// Rotation: key three is added, key one retired.
	writeJWKS(t, path, jwk(t, "two", "ES256", &k2.PublicKey), jwk(t, "three", "RS256", &k3.PublicKey))
	if err := v.Reload(); err != nil {
		t.Fatal(err)
	}
	if _, err := v.Verify(sign(t, jwt.SigningMethodRS256, k3, valid(nil), "three")); err != nil {
		t.Errorf("rotated-in key: %v", err)
	}
	if _, err := v.Verify(sign(t, jwt.SigningMethodRS256, k1, valid(nil), "one")); err == nil {
		t.Error("retired key still accepted")
	}
	// A broken file keeps the old keys.
	if err := os.WriteFile(path, []byte("{not json"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := v.Reload(); err == nil {
		t.Error("broken JWKS reloaded")
	}
	if _, err := v.Verify(sign(t, jwt.SigningMethodRS256, k3, valid(nil), "three")); err != nil {
		t.Errorf("old keys lost after a failed reload: %v", err)
	}
}

func TestCallerPermissionsAndAdminTenant(t *testing.T) {
	c := &auth.Caller{Subject: "a", TenantID: "acme", Permissions: []string{"jobs.read"}}
	if !c.Has("jobs.read") || c.Has("jobs.write") {
		t.Error("plain permissions")
	}
	admin := &auth.Caller{Subject: "root", TenantID: "acme", Roles: []string{"admin"}}
	if !admin.Has("jobs.cancel") || !admin.Has("metrics.manage") {
		t.Error("admin holds every permission")
	}
	if !admin.CanAccessTenant("acme") || admin.CanAccessTenant("globex") || admin.CanAccessTenant("") {
		t.Error("admin must be limited to its own tenant")
	}
}

type fixture struct {
	engine *gin.Engine
	logs   *observer.ObservedLogs
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	core, logs := observer.New(zap.DebugLevel)
	log := zap.New(core)
	v := verifier(t, auth.Config{JWTSecret: secret})
	a := auth.NewAuthenticator(v, log)
	s := httpserver.New(httpserver.Options{Config: httpserver.DefaultConfig(), Log: log, Environment: config.Test,
		Routes: []httpserver.Route{a, httpserver.RouteFunc(func(r gin.IRouter) {
			ok := func(c *gin.Context) { c.JSON(200, gin.H{"tenant": auth.CallerOf(c).TenantID}) }
			r.GET("/jobs", a.Require(auth.PermJobsRead), ok)
			r.POST("/jobs", a.Require(auth.PermJobsWrite), ok)
			r.GET("/stream", a.RequireStream(auth.PermRealtimeRead), ok)
			r.POST("/stream", a.RequireStream(auth.PermRealtimePublish), ok)
			r.GET("/tenants/:tenant", a.Require(), func(c *gin.Context) {
				if !auth.CallerOf(c).CanAccessTenant(c.Param("tenant")) {
					httpserver.Error(c, 404, "not_found", "no such tenant")
					return
				}
				ok(c)
			})
		})}})
	return &fixture{engine: s.Engine(), logs: logs}
}

func (f *fixture) do(method, target, token string) (*httptest.ResponseRecorder, map[string]any) {
	req := httptest.NewRequest(method, target, nil)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	rec := httptest.NewRecorder()
	f.engine.ServeHTTP(rec, req)
	var body map[string]any
	_ = json.Unmarshal(rec.Body.Bytes(), &body)
	return rec, body
}

func TestMiddlewareStatuses(t *testing.T) {
	f := newFixture(t)
	tok := func(extra claims) string { return sign(t, jwt.SigningMethodHS256, []byte(secret), valid(extra), "") }
	reader := tok(nil)
	admin := tok(claims{"permissions": nil, "roles": []string{"admin"}})
	noTenant := tok(claims{"tenant_id": nil})
	expired := tok(claims{"exp": time.Now().Add(-time.Hour).Unix()})

	cases := []struct {
		name, method, target, token string
		status                      int
		code                        string
	}{
		{"no token", "GET", "/jobs", "", 401, "unauthorized"},
		{"expired", "GET", "/jobs", expired, 401, "unauthorized"},
		{"ok", "GET", "/jobs", reader, 200, ""},
		{"missing permission", "POST", "/jobs", reader, 403, "forbidden"},
		{"admin has every permission", "POST", "/jobs", admin, 200, ""},
		{"token without tenant", "GET", "/jobs", noTenant, 403, "forbidden"},
		{"admin of acme, own tenant", "GET", "/tenants/acme", admin, 200, ""},
		{"admin of acme, other tenant", "GET", "/tenants/globex", admin, 404, "not_found"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			rec, body := f.do(tc.method, tc.target, tc.token)
			if rec.Code != tc.status || (tc.code != "" && body["error"] != tc.code) {
				t.Errorf("%d %v", rec.Code, body)
			}
			if tc.status == 401 && rec.Header().Get("WWW-Authenticate") == "" {
				t.Error("401 without WWW-Authenticate")
			}
		})
	}
	// 401 bodies are identical whatever failed; the reason is only in the debug log.
	_, a := f.do("GET", "/jobs", "")
	_, b := f.do("GET", "/jobs", expired)
	if a["message"] != b["message"] {
		t.Errorf("401 messages differ: %v / %v", a, b)
	}
	if e := f.logs.FilterMessage("auth.rejected").All(); len(e) < 2 || e[0].Level != zap.DebugLevel || e[0].ContextMap()["request_id"] == "" {
		t.Errorf("rejections not logged at debug with request ID: %v", e)
	}
}

func TestQueryTokenOnlyOnGETStreamingRoutesAndRedactedFromLogs(t *testing.T) {
	f := newFixture(t)
	tok := sign(t, jwt.SigningMethodHS256, []byte(secret), valid(claims{"permissions": []string{"realtime.read", "realtime.publish", "jobs.read"}}), "")
	if rec, _ := f.do("GET", "/stream?access_token="+tok, ""); rec.Code != 200 {
		t.Errorf("GET stream with query token: %d", rec.Code)
	}
	if rec, _ := f.do("POST", "/stream?access_token="+tok, ""); rec.Code != 401 {
		t.Errorf("POST stream with query token: %d", rec.Code)
	}
	if rec, _ := f.do("GET", "/jobs?access_token="+tok, ""); rec.Code != 401 {
		t.Errorf("non-streaming route with query token: %d", rec.Code)
	}
	for _, e := range f.logs.All() {
		for k, v := range e.ContextMap() {
			if s, ok := v.(string); ok && strings.Contains(s, tok) {
				t.Errorf("token in log field %s of %s", k, e.Message)
			}
		}
	}
	if len(f.logs.FilterMessage("http.request").All()) == 0 {
		t.Error("no access log lines to check")
	}
}

func TestWhoAmI(t *testing.T) {
	f := newFixture(t)
	exp := time.Now().Add(time.Hour).Truncate(time.Second)
	tok := sign(t, jwt.SigningMethodHS256, []byte(secret), valid(claims{"exp": exp.Unix(), "tenant_id": nil, "roles": []string{"admin"}}), "")
	rec, body := f.do("GET", "/api/v1/auth/whoami", tok)
	if rec.Code != 200 || body["sub"] != "alice" || body["tenant_id"] != "" || body["expires_at"] != exp.UTC().Format(time.RFC3339) {
		t.Errorf("%d %v", rec.Code, body)
	}
	if roles := body["roles"].([]any); len(roles) != 1 || roles[0] != "admin" {
		t.Errorf("roles %v", roles)
	}
	if rec, _ := f.do("GET", "/api/v1/auth/whoami", ""); rec.Code != 401 {
		t.Errorf("no token: %d", rec.Code)
	}
}

func TestParseBearer(t *testing.T) {
	good := map[string]string{"Bearer abc.def.ghi": "abc.def.ghi", "bearer a-b_c": "a-b_c", "BEARER  x==": "x=="}
	for in, want := range good {
		if got, err := auth.ParseBearer(in); err != nil || got != want {
			t.Errorf("%q: %q %v", in, got, err)
		}
	}
	for _, in := range []string{"", "Bearer", "Bearer ", "Basic abc", "Bearerabc", "Bearer a b", "Bearer a=b", "Bearer a\x00", "Bearer " + strings.Repeat("a", 9000)} {
		if _, err := auth.ParseBearer(in); err == nil {
			t.Errorf("%q accepted", in)
		}
	}
}

func FuzzParseBearer(f *testing.F) {
	for _, s := range []string{"Bearer abc.def.ghi", "bearer x", "Basic Zm9v", "", "Bearer  a==", "Bearer a=b"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, header string) {
		tok, err := auth.ParseBearer(header)
		if err != nil {
			return
		}
		if tok == "" || len(tok) > 8<<10 || strings.ContainsAny(tok, " \t\r\n") {
			t.Fatalf("ParseBearer(%q) = %q", header, tok)
		}
		if !strings.HasSuffix(header, tok) {
			t.Fatalf("token %q is not the header's tail %q", tok, header)
		}
	})
}

func TestMint(t *testing.T) {
	cfg := auth.Config{JWTSecret: secret, Issuer: "https://idp.example", Audience: "redifx", Leeway: time.Second}
	tok, err := auth.Mint(cfg, config.Test, auth.TokenRequest{Subject: "bob", TenantID: "acme", Permissions: []string{"jobs.read"}, Roles: []string{"admin"}, TTL: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	v := verifier(t, cfg)
	c, err := v.Verify(tok)
	if err != nil || c.Subject != "bob" || c.TenantID != "acme" || !c.IsAdmin() {
		t.Fatalf("%+v %v", c, err)
	}
	if _, err := auth.Mint(cfg, config.Production, auth.TokenRequest{Subject: "bob", TTL: time.Hour}); !errors.Is(err, auth.ErrMintRefused) {
		t.Errorf("production: %v", err)
	}
}

func TestConfigValidation(t *testing.T) {
	short := auth.Config{JWTSecret: "short"}
	if err := short.Validate(config.Production); err == nil || !strings.Contains(err.Error(), "at least 32 bytes") {
		t.Errorf("short secret in production: %v", err)
	}
	if err := short.Validate(config.Development); err != nil {
		t.Errorf("short secret in development: %v", err)
	}
	none := auth.DefaultConfig()
	if err := none.Validate(config.Production); err == nil {
		t.Error("no key in production accepted")
	}
	if err := none.Validate(config.Development); err != nil {
		t.Errorf("no key in development: %v", err)
	}
	if v, err := auth.NewVerifier(none, config.Development); err != nil || !v.UsesDevelopmentSecret() {
		t.Errorf("development secret: %v", err)
	}
}
