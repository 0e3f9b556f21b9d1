package httpserver_test

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/redifx/redifx/modules/health"
)

// Probes and uptime monitors send HEAD: every health endpoint answers it with
// the status and headers of GET and no body (it used to be 405).
func TestHealthEndpointsAnswerHEADLikeGET(t *testing.T) {
	f := start(t, testConfig(), nil,
		health.NewCheck("redis", true, func(context.Context) health.Result {
			return health.Result{Status: health.StatusHealthy, Message: "ok"}
		}),
		health.NewCheck("broken", true, func(context.Context) health.Result {
			return health.Result{Status: health.StatusUnhealthy, Message: "down"}
		}))
	for _, path := range []string{"/health", "/health/live", "/health/ready", "/health/redis", "/health/broken", "/health/nope", "/health/ready?verbose=1"} {
		get, _ := get(t, f.base+path)
		req, _ := http.NewRequest(http.MethodHead, f.base+path, nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatalf("HEAD %s: %v", path, err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != get.StatusCode || resp.StatusCode == http.StatusMethodNotAllowed {
			t.Errorf("HEAD %s: %d, GET %d", path, resp.StatusCode, get.StatusCode)
		}
		if len(body) != 0 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") {
			t.Errorf("HEAD %s: body %q, content type %q", path, body, resp.Header.Get("Content-Type"))
		}
	}
}

// An unknown check's name is quoted (control characters escaped) and cut, not
// echoed whole into the message.
func TestUnknownHealthCheckNameIsQuotedAndCut(t *testing.T) {
	f := start(t, testConfig(), nil)
	resp, body := get(t, f.base+"/health/a%0Ab")
	if resp.StatusCode != 404 || body["message"] != `no health check named "a\nb"` {
		t.Errorf("%d %v", resp.StatusCode, body)
	}
	resp, body = get(t, f.base+"/health/"+strings.Repeat("x", 5000))
	if msg, _ := body["message"].(string); resp.StatusCode != 404 || len(msg) > 120 {
		t.Errorf("%d message of %d bytes", resp.StatusCode, len(msg))
	}
}
