package metrics_test

import (
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/redifx/redifx/modules/metrics"
	"github.com/redifx/redifx/modules/redis/redistest"
)

// Any token is a method a client may send: each made series of its own
// (unbounded memory and /metrics size, one request each). The method label
// is now one of the standard methods or "other".
func TestMethodLabelIsBounded(t *testing.T) {
	srv := redistest.Start(t)
	e := start(t, srv.URL(), metrics.DefaultConfig())
	for i := range 20 {
		for _, path := range []string{"/api/v1/metrics/dashboard", "/no/such/path", "/health/ready"} {
			req, err := http.NewRequest(fmt.Sprintf("X-METHOD-%d", i), e.base+path, nil)
			if err != nil {
				t.Fatal(err)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
		}
	}
	call(t, "GET", e.base+"/health/ready", "")
	standard := map[string]bool{"GET": true, "HEAD": true, "POST": true, "PUT": true, "PATCH": true, "DELETE": true,
		"OPTIONS": true, "CONNECT": true, "TRACE": true, "other": true}
	others := 0.0
	for key, v := range scrape(t, e.base+"/metrics") {
		if !strings.HasPrefix(key, "redifx_http_request") {
			continue
		}
		for _, label := range strings.Split(key, "|")[1:] {
			if m, ok := strings.CutPrefix(label, "method="); ok {
				if !standard[m] {
					t.Errorf("series %s", key)
				}
				if m == "other" && strings.HasPrefix(key, "redifx_http_requests_total|") {
					others += v
				}
			}
		}
	}
	if others != 60 {
		t.Errorf("%v requests counted under method other, want 60", others)
	}
}
