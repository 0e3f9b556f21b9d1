package app_test

import (
	"bufio"
	"fmt"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/redifx/redifx/internal/testutil"
)

// With the whole application: an event stream lives far beyond
// http.read_timeout and still delivers, while a publish whose body never
// arrives is cut off at the timeout.
func TestReadTimeoutCutsStalledBodiesNotStreams(t *testing.T) {
	const timeout = 300 * time.Millisecond
	base, cfg := platform(t, "HTTP__READ_TIMEOUT="+timeout.String())
	tok := testutil.Token(t, cfg.Auth.JWTSecret, "acme", "realtime.read", "realtime.publish")

	req, _ := http.NewRequest(http.MethodGet, base+"/api/v1/realtime/alerts", nil)
	req.Header.Set("Authorization", "Bearer "+tok)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("stream: %d", resp.StatusCode)
	}
	lines := make(chan string, 100)
	go func() {
		defer close(lines)
		sc := bufio.NewScanner(resp.Body)
		for sc.Scan() {
			lines <- sc.Text()
		}
	}()
	waitLine := func(what string) {
		t.Helper()
		deadline := time.After(10 * time.Second)
		for {
			select {
			case l, ok := <-lines:
				if !ok {
					t.Fatalf("the stream ended before %s", what)
				}
				if strings.Contains(l, what) {
					return
				}
			case <-deadline:
				t.Fatalf("no %s on the stream", what)
			}
		}
	}
	waitLine("event: connected")
	// Let the stream outlive the read timeout several times over: the point
	// of the test is the time passing, not a condition to wait for.
	time.Sleep(4 * timeout)
	if code, out := testutil.Call(t, "POST", base+"/api/v1/realtime/alerts", tok,
		`{"event_type":"alert.raised","alert_id":"late","severity":"info","message":"after the read timeout"}`); code != 202 {
		t.Fatalf("publish: %d %v", code, out)
	}
	waitLine("after the read timeout")

	// A publish whose body never comes.
	c, err := net.Dial("tcp", strings.TrimPrefix(base, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	begin := time.Now()
	fmt.Fprintf(c, "POST /api/v1/realtime/alerts HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{\"event_type\":", tok)
	_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
	stalled, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatalf("no answer to a stalled body: %v", err)
	}
	stalled.Body.Close()
	if stalled.StatusCode != http.StatusRequestTimeout {
		t.Errorf("stalled body: %d", stalled.StatusCode)
	}
	if took := time.Since(begin); took < timeout || took > timeout+5*time.Second {
		t.Errorf("stalled body answered after %s (read timeout %s)", took, timeout)
	}
}
