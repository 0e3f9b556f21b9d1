package auth_test

import (
	"encoding/json"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/golang-jwt/jwt/v5"
)

// A token in ?access_token= follows the header's rules: over 8 KiB or not
// token68 text it is refused (before, a 9 KiB token refused in the header
// opened a stream from the query), and two access_token parameters are 400
// naming access_token (before, the first silently counted). The header still
// wins over the parameter; non-streaming routes and POST ignore it.
func TestQueryTokenFollowsTheHeaderRulesAndIsSentOnce(t *testing.T) {
	f := newFixture(t)
	perms := claims{"permissions": []string{"realtime.read", "jobs.read"}}
	tok := sign(t, jwt.SigningMethodHS256, []byte(secret), valid(perms), "")
	other := sign(t, jwt.SigningMethodHS256, []byte(secret), valid(claims{"permissions": []string{"realtime.read"}, "tenant_id": "globex"}), "")
	big := sign(t, jwt.SigningMethodHS256, []byte(secret), valid(claims{"permissions": []string{"realtime.read"}, "pad": strings.Repeat("p", 7<<10)}), "")
	if len(big) <= 8<<10 {
		t.Fatalf("the big token is only %d bytes", len(big))
	}
	for _, q := range []string{big, tok + "%20", "%20" + tok, tok + "%00", "a.b.c=d", ""} {
		rec, body := f.do("GET", "/stream?access_token="+q, "")
		if rec.Code != 401 || body["error"] != "unauthorized" || rec.Header().Get("WWW-Authenticate") == "" {
			t.Errorf("query token %.40q…: %d %v", q, rec.Code, body)
		}
		// The header refuses the same token.
		if !strings.Contains(q, "%") && q != "" {
			if rec, _ := f.do("GET", "/stream", q); rec.Code != 401 {
				t.Errorf("header token %.40q…: %d", q, rec.Code)
			}
		}
	}
	for name, target := range map[string]string{
		"two parameters":  "/stream?access_token=" + tok + "&access_token=" + other,
		"same twice":      "/stream?access_token=" + tok + "&access_token=" + tok,
		"empty and token": "/stream?access_token=&access_token=" + tok,
	} {
		rec, body := f.do("GET", target, "")
		if rec.Code != 400 || body["field"] != "access_token" || body["error"] == nil || body["message"] == nil {
			t.Errorf("%s: %d %v", name, rec.Code, body)
		}
	}
	// With the header, the header counts (as documented), whatever the
	// parameter holds.
	for _, q := range []string{other, other + "&access_token=" + tok, big, "garbage"} {
		if rec, body := f.do("GET", "/stream?access_token="+q, tok); rec.Code != 200 || body["tenant"] != "acme" {
			t.Errorf("header and access_token=%.30q: %d %v", q, rec.Code, body)
		}
	}
	// Still accepted: one token, in one place.
	if rec, body := f.do("GET", "/stream?access_token="+tok, ""); rec.Code != 200 || body["tenant"] != "acme" {
		t.Errorf("query token alone: %d %v", rec.Code, body)
	}
	if rec, body := f.do("GET", "/stream", tok); rec.Code != 200 {
		t.Errorf("header token alone: %d %v", rec.Code, body)
	}
	// Where the parameter is not a way to send a token, it is not looked at.
	if rec, _ := f.do("GET", "/jobs?access_token="+other, tok); rec.Code != 200 {
		t.Errorf("non-streaming route, header token and a stray parameter: %d", rec.Code)
	}
	req := httptest.NewRequest("POST", "/stream?access_token="+other, nil)
	req.Header.Set("Authorization", "Bearer "+sign(t, jwt.SigningMethodHS256, []byte(secret), valid(claims{"permissions": []string{"realtime.publish"}}), ""))
	rec := httptest.NewRecorder()
	f.engine.ServeHTTP(rec, req)
	if rec.Code != 200 {
		t.Errorf("POST stream route with a stray parameter: %d", rec.Code)
	}
}

// Two Authorization headers with different values are 400 naming
// Authorization (before, the first counted, whatever the second said); the
// same header repeated is that header.
func TestTwoDifferentAuthorizationHeadersAre400(t *testing.T) {
	f := newFixture(t)
	tok := sign(t, jwt.SigningMethodHS256, []byte(secret), valid(nil), "")
	other := sign(t, jwt.SigningMethodHS256, []byte(secret), valid(claims{"tenant_id": "globex"}), "")
	do := func(values ...string) (int, map[string]any) {
		req := httptest.NewRequest("GET", "/jobs", nil)
		for _, v := range values {
			req.Header.Add("Authorization", v)
		}
		rec := httptest.NewRecorder()
		f.engine.ServeHTTP(rec, req)
		var body map[string]any
		_ = json.Unmarshal(rec.Body.Bytes(), &body)
		return rec.Code, body
	}
	for _, pair := range [][]string{{"Bearer " + tok, "Bearer " + other}, {"Bearer " + tok, "Bearer garbage"}, {"Bearer garbage", "Bearer " + tok}, {"Bearer " + tok, ""}} {
		if code, body := do(pair...); code != 400 || body["field"] != "Authorization" || body["error"] != "invalid_request" {
			t.Errorf("%.20q…: %d %v", pair, code, body)
		}
	}
	if code, body := do("Bearer "+tok, "Bearer "+tok); code != 200 || body["tenant"] != "acme" {
		t.Errorf("one header repeated: %d %v", code, body)
	}
}
