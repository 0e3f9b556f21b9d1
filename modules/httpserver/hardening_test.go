package httpserver_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/redifx/redifx/modules/health"
)

// Every header, query parameter, path and body that the module itself
// handles (the request ID, the health endpoints and their parameters, the
// body limit and read timeout, unknown routes and methods) is answered below
// 500, with a JSON error for a 4xx of this module, and never panics.
func TestWhatTheModuleHandlesNeverYields5xx(t *testing.T) {
	cfg := testConfig()
	cfg.MaxBodyBytes = 1024
	cfg.ReadTimeout = time.Second
	ok := health.NewCheck("redis", true, func(context.Context) health.Result {
		return health.Result{Status: health.StatusHealthy, Message: "ok"}
	})
	f := start(t, cfg, echoRoutes(), ok)

	req := func(method, target string, hdr ...string) string {
		return method + " " + target + " HTTP/1.1\r\nHost: x\r\n" + strings.Join(hdr, "") + "\r\n"
	}
	long := strings.Repeat("a", 5000)
	cases := map[string]string{
		"request id empty":         req("GET", "/health", "X-Request-ID: \r\n"),
		"request id 128":           req("GET", "/health", "X-Request-ID: "+strings.Repeat("r", 128)+"\r\n"),
		"request id 129":           req("GET", "/health", "X-Request-ID: "+strings.Repeat("r", 129)+"\r\n"),
		"request id huge":          req("GET", "/health", "X-Request-ID: "+long+"\r\n"),
		"request id spaces":        req("GET", "/health", "X-Request-ID: a b c\r\n"),
		"request id utf-8":         req("GET", "/health", "X-Request-ID: \xc3\xa9t\xc3\xa9\r\n"),
		"request id invalid utf-8": req("GET", "/health", "X-Request-ID: \xff\xfe\r\n"),
		"request id control":       req("GET", "/health", "X-Request-ID: a\x01b\r\n"),
		"request id twice":         req("GET", "/health", "X-Request-ID: a\r\nX-Request-ID: b\r\n"),
		"forwarded garbage":        req("GET", "/health", "X-Forwarded-For: not-an-ip, ::::, 999.1.1.1\r\n"),
		"forwarded huge":           req("GET", "/health", "X-Forwarded-For: "+long+"\r\n"),
		"real ip garbage":          req("GET", "/health", "X-Real-IP: \xff\r\n"),
		"health query":             req("GET", "/health?verbose=1&verbose=0&x"),
		"health bad escape":        req("GET", "/health?access_token=%zz&token=%"),
		"health redacted params":   req("GET", "/health/live?access_token=a&token=b&password=c&page=1"),
		"ready query":              req("GET", "/health/ready?timeout=0&services=redis"),
		"ready trailing slash":     req("GET", "/health/ready/"),
		"double slash":             req("GET", "//health"),
		"check by name":            req("GET", "/health/redis?x=y"),
		"check unknown":            req("GET", "/health/nope"),
		"check name encoded":       req("GET", "/health/%2e%2e%2fetc"),
		"check name nul":           req("GET", "/health/redis%00"),
		"check name long":          req("GET", "/health/"+long),
		"check name utf-8":         req("GET", "/health/%C3%A9"),
		"check name invalid utf-8": req("GET", "/health/%FF%FE"),
		"head":                     req("HEAD", "/health"),
		"options":                  req("OPTIONS", "/health/ready"),
		"delete":                   req("DELETE", "/health/live"),
		"post with body":           req("POST", "/health", "Content-Length: 2\r\n") + "{}",
		"get with body":            req("GET", "/health/ready", "Content-Length: 5\r\n") + "hello",
		"get with huge length":     req("GET", "/health", "Content-Length: 99999999999\r\n"),
		"get with negative length": req("GET", "/health", "Content-Length: -1\r\n"),
		"get with bad length":      req("GET", "/health", "Content-Length: abc\r\n"),
		"body over the limit":      req("POST", "/echo", "Content-Length: 2000\r\n") + strings.Repeat("x", 2000),
		"chunked over the limit":   req("POST", "/echo", "Transfer-Encoding: chunked\r\n") + fmt.Sprintf("%x\r\n%s\r\n0\r\n\r\n", 2000, strings.Repeat("x", 2000)),
		"chunked malformed":        req("POST", "/echo", "Transfer-Encoding: chunked\r\n") + "zz\r\nabc\r\n0\r\n\r\n",
		"body shorter than length": req("POST", "/echo", "Content-Length: 10\r\n") + `{}`,
		"content type garbage":     req("POST", "/echo", "Content-Type: ;;;\r\nContent-Length: 2\r\n") + "{}",
		"unknown route":            req("GET", "/nope?x=%zz"),
		"unknown route with body":  req("PUT", "/nope", "Content-Length: 3\r\n") + "abc",
		"absolute form":            req("GET", "http://x/health"),
		"asterisk":                 req("OPTIONS", "*"),
		"http/1.0":                 strings.Replace(req("GET", "/health"), "HTTP/1.1", "HTTP/1.0", 1),
		"expect continue":          req("POST", "/echo", "Expect: 100-continue\r\nContent-Length: 2\r\n") + "{}",
		"expect unknown":           req("POST", "/echo", "Expect: something\r\nContent-Length: 2\r\n") + "{}",
		"header too large":         req("GET", "/health", "X-Big: "+strings.Repeat("b", 2<<20)+"\r\n"),
		"connection upgrade":       req("GET", "/health", "Connection: Upgrade\r\nUpgrade: websocket\r\n"),
		"accept weird":             req("GET", "/health/ready", "Accept: text/event-stream;q=abc\r\n"),
		"if-none-match":            req("GET", "/health", "If-None-Match: *\r\n"),
		"range":                    req("GET", "/health", "Range: bytes=999-1\r\n"),
		"te trailers":              req("GET", "/health", "TE: trailers\r\n"),
	}
	for name, raw := range cases {
		t.Run(name, func(t *testing.T) {
			c := dial(t, f.base)
			_, _ = c.c.Write([]byte(raw)) // the server may close before all of a huge request is written
			method, _, _ := strings.Cut(raw, " ")
			resp, body, err := c.responseTo(method, 10*time.Second)
			if err != nil {
				// Closing without an answer is acceptable for a request that
				// is not HTTP (net/http's own choice), never a hang.
				if strings.Contains(err.Error(), "timeout") {
					t.Fatalf("no answer: %v", err)
				}
				return
			}
			if resp.StatusCode >= 500 {
				t.Fatalf("%d %s", resp.StatusCode, body)
			}
			if resp.StatusCode >= 400 && method != http.MethodHead && strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") {
				var e map[string]any
				if json.Unmarshal([]byte(body), &e) != nil || e["error"] == nil || e["message"] == nil {
					t.Errorf("%d without a JSON error: %s", resp.StatusCode, body)
				}
			}
			// (OPTIONS * is answered by net/http itself, before any handler.)
			if id := resp.Header.Get("X-Request-ID"); resp.StatusCode/100 == 2 && name != "asterisk" && !printableASCII(id, 128) {
				t.Errorf("answered with request ID %q", id)
			}
		})
	}
	if f.srv.Panics() != 0 {
		t.Errorf("%d panics", f.srv.Panics())
	}
	if resp, _ := get(t, f.base+"/health/ready"); resp.StatusCode != http.StatusOK {
		t.Errorf("server unwell afterwards: %d", resp.StatusCode)
	}
}

// X-Forwarded-For names the client in the access log only when the request
// comes from a trusted proxy; with none configured (the default) it is
// ignored, so that no client chooses the address logged for it.
func TestForwardedForIsTrustedOnlyFromTrustedProxies(t *testing.T) {
	for _, tc := range []struct {
		trusted []string
		want    string
	}{
		{nil, "127.0.0.1"},
		{[]string{"10.0.0.0/8"}, "127.0.0.1"},
		{[]string{"127.0.0.1"}, "203.0.113.7"},
		{[]string{"127.0.0.0/8"}, "203.0.113.7"},
	} {
		cfg := testConfig()
		cfg.TrustedProxies = tc.trusted
		f := start(t, cfg, nil)
		if resp, _ := get(t, f.base+"/health/live", "X-Forwarded-For", "203.0.113.7"); resp.StatusCode != 200 {
			t.Fatal(resp.Status)
		}
		entries := f.logs.FilterMessage("http.request").All()
		if len(entries) != 1 || entries[0].ContextMap()["client_ip"] != tc.want {
			t.Errorf("trusted %v: client_ip %v, want %s", tc.trusted, entries, tc.want)
		}
		_ = f.srv.Stop(context.Background())
	}
}

// printableASCII reports whether s is 1 to limit bytes of printable ASCII
// without spaces, the form of a request ID.
func printableASCII(s string, limit int) bool {
	if s == "" || len(s) > limit {
		return false
	}
	for i := range len(s) {
		if s[i] <= ' ' || s[i] > '~' {
			return false
		}
	}
	return true
}
