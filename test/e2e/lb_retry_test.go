package e2e

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"strings"
	"sync"
	"testing"
)

// A publish that carries an Idempotency-Key is repeated on another replica
// when the first one breaks the connection after the request was sent (a
// replica at the end of its drain); one without a key never is (a repeat
// would be a second event). Job creation keeps the same rule.
func TestNginxRetriesOnlyKeyedPosts(t *testing.T) {
	nginx, err := exec.LookPath("nginx")
	if err != nil {
		t.Skip("nginx is not installed")
	}
	// A replica that takes the request and closes the connection unanswered.
	broken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	t.Cleanup(func() { _ = broken.Close(); wg.Wait() })
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := broken.Accept()
			if err != nil {
				return
			}
			r := bufio.NewReader(c)
			if req, err := http.ReadRequest(r); err == nil {
				_, _ = io.Copy(io.Discard, req.Body)
			}
			_ = c.Close()
		}
	}()
	// A healthy replica that records what reaches it.
	var mu sync.Mutex
	seen := map[string]int{} // "<path>?<query> key=<Idempotency-Key>"
	good := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/health/live" {
			return // 200: the balancer's start-up check
		}
		mu.Lock()
		seen[r.URL.RequestURI()+" key="+r.Header.Get("Idempotency-Key")]++
		mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusAccepted)
		_, _ = io.WriteString(w, `{"id":"1-0"}`)
	}))
	t.Cleanup(good.Close)

	// max_fails=0: the broken replica is never marked down, so round robin
	// keeps sending it every other first attempt.
	ups := fmt.Sprintf("server %s max_fails=0;\nserver %s max_fails=0;\n", broken.Addr(), good.Listener.Addr())
	lb := startNginxWith(t, nginx, freePort(t), ups)

	post := func(path, key string) int {
		req, _ := http.NewRequest(http.MethodPost, lb+path, strings.NewReader(`{"x":1}`))
		req.Header.Set("Content-Type", "application/json")
		if key != "" {
			req.Header.Set("Idempotency-Key", key)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		_, _ = io.Copy(io.Discard, resp.Body)
		return resp.StatusCode
	}
	for _, path := range []string{"/api/v1/realtime/alerts?x=1", "/api/v1/jobs"} {
		for i := range 6 {
			key := fmt.Sprintf("k-%d", i)
			if code := post(path, key); code != http.StatusAccepted {
				t.Errorf("keyed POST %s #%d: %d, want it retried to the healthy replica (202)", path, i, code)
			}
			mu.Lock()
			n := seen[path+" key="+key]
			mu.Unlock()
			if n != 1 {
				t.Errorf("keyed POST %s #%d reached the healthy replica %d times, at the path it was sent to: %v", path, i, n, seen)
			}
		}
		failed, passed := 0, 0
		for range 6 {
			switch code := post(path, ""); code {
			case http.StatusAccepted:
				passed++
			case http.StatusServiceUnavailable:
				failed++
			default:
				t.Errorf("unkeyed POST %s: %d", path, code)
			}
		}
		mu.Lock()
		n := seen[path+" key="]
		mu.Unlock()
		if failed == 0 || n != passed {
			t.Errorf("unkeyed POST %s: %d failed, %d passed, %d reached the healthy replica: a sent unkeyed POST must not be repeated", path, failed, passed, n)
		}
	}
}
