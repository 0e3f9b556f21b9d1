package realtime_test

import (
	"bufio"
	"context"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redifx/redifx/internal/testutil"
	"github.com/redifx/redifx/modules/auth"
	"github.com/redifx/redifx/modules/config"
	"github.com/redifx/redifx/modules/httpserver"
	"github.com/redifx/redifx/modules/realtime"
	"github.com/redifx/redifx/modules/redis"
	"github.com/redifx/redifx/modules/redis/redistest"
	"go.uber.org/fx"
	"go.uber.org/fx/fxtest"
	"go.uber.org/goleak"
	"go.uber.org/zap"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

const secret = "realtime-test-secret-0123456789abcdef"

// instance is one running server process (in-process Fx app).
type instance struct {
	base   string
	srv    *httpserver.Server
	hub    *realtime.Hub
	mgr    *redis.Manager
	pub    realtime.Publisher
	app    *fxtest.App
	stopMu sync.Once
}

type option func(*realtime.Config, *redis.Config)

func startInstance(t testing.TB, redisURL string, opts ...option) *instance {
	t.Helper()
	return startInstanceAuth(t, redisURL, auth.Config{JWTSecret: secret, Leeway: 0}, opts...)
}

// startInstanceAuth is startInstance with the auth section acfg.
func startInstanceAuth(t testing.TB, redisURL string, acfg auth.Config, opts ...option) *instance {
	t.Helper()
	rcfg := redis.DefaultConfig()
	if redisURL != "" {
		rcfg.URL = redisURL
	}
	rcfg.EmbeddedFallback = false
	rcfg.HealthInterval, rcfg.ReconnectInterval = 100*time.Millisecond, 100*time.Millisecond
	rcfg.StartupWait = time.Second
	rtcfg := realtime.DefaultConfig()
	rtcfg.HeartbeatInterval = 5 * time.Second
	rtcfg.ClientRetry = 2 * time.Second
	for _, o := range opts {
		o(&rtcfg, &rcfg)
	}
	hcfg := httpserver.DefaultConfig()
	hcfg.Addr = "127.0.0.1:0"
	hcfg.ShutdownTimeout = 5 * time.Second
	in := &instance{}
	in.app = fxtest.New(t,
		fx.NopLogger,
		fx.Supply(rcfg, rtcfg, hcfg, acfg, config.Test, zap.NewNop()),
		redis.Module, auth.Module, realtime.Module, httpserver.Module,
		fx.Populate(&in.srv, &in.hub, &in.mgr, &in.pub),
	)
	in.app.RequireStart()
	t.Cleanup(in.stop)
	in.base = "http://" + in.srv.Addr().String()
	return in
}

func (in *instance) stop() { in.stopMu.Do(func() { in.app.RequireStop() }) }

func token(t testing.TB, tenant string, perms ...string) string {
	t.Helper()
	return tokenTTL(t, tenant, time.Hour, perms...)
}

func tokenTTL(t testing.TB, tenant string, ttl time.Duration, perms ...string) string {
	t.Helper()
	tok, err := auth.Mint(auth.Config{JWTSecret: secret}, config.Test, auth.TokenRequest{Subject: "u-" + tenant, TenantID: tenant, Permissions: perms, TTL: ttl})
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// sseEvent is one parsed Server-Sent Event (or a comment).
type sseEvent struct {
	ID, Event, Data, Comment string
	Retry                    string
}

// sseClient reads a stream in the background.
type sseClient struct {
	resp   *http.Response
	events chan sseEvent
	done   chan struct{}
	cancel context.CancelFunc
}

func connect(t *testing.T, url, tok string, hdr ...string) *sseClient {
	t.Helper()
	c, resp := tryConnect(t, url, tok, hdr...)
	if resp.StatusCode != 200 {
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		t.Fatalf("stream %s: %d %s", url, resp.StatusCode, b)
	}
	return c
}

func tryConnect(t *testing.T, url, tok string, hdr ...string) (*sseClient, *http.Response) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if tok != "" {
		req.Header.Set("Authorization", "Bearer "+tok)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	c := &sseClient{resp: resp, events: make(chan sseEvent, 4096), done: make(chan struct{}), cancel: cancel}
	if resp.StatusCode != 200 {
		cancel()
		close(c.done)
		return c, resp
	}
	go c.read()
	t.Cleanup(c.close)
	return c, resp
}

func (c *sseClient) read() {
	defer close(c.done)
	defer close(c.events)
	sc := bufio.NewScanner(c.resp.Body)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	var ev sseEvent
	for sc.Scan() {
		line := sc.Text()
		switch {
		case line == "":
			if ev != (sseEvent{}) {
				c.events <- ev
			}
			ev = sseEvent{}
		case strings.HasPrefix(line, ":"):
			ev.Comment = strings.TrimSpace(line[1:])
		case strings.HasPrefix(line, "id: "):
			ev.ID = line[4:]
		case strings.HasPrefix(line, "event: "):
			ev.Event = line[7:]
		case strings.HasPrefix(line, "data: "):
			ev.Data = line[6:]
		case strings.HasPrefix(line, "retry: "):
			ev.Retry = line[7:]
		}
	}
}

func (c *sseClient) close() {
	c.cancel()
	<-c.done
	c.resp.Body.Close()
}

// next returns the next event that is not a heartbeat comment.
func (c *sseClient) next(t *testing.T, within time.Duration) sseEvent {
	t.Helper()
	deadline := time.After(within)
	for {
		select {
		case ev, ok := <-c.events:
			if !ok {
				t.Fatal("stream ended")
			}
			if ev.Comment != "" && ev.Event == "" {
				continue
			}
			return ev
		case <-deadline:
			t.Fatalf("no event within %s", within)
		}
	}
}

// expectNone fails if a non-comment event arrives within d.
func (c *sseClient) expectNone(t *testing.T, d time.Duration) {
	t.Helper()
	deadline := time.After(d)
	for {
		select {
		case ev, ok := <-c.events:
			if !ok {
				return
			}
			if ev.Event != "" {
				t.Fatalf("unexpected event %+v", ev)
			}
		case <-deadline:
			return
		}
	}
}

// skipPreamble reads the retry line and the connected event.
func (c *sseClient) skipPreamble(t *testing.T) {
	t.Helper()
	first := c.next(t, 2*time.Second)
	if first.Retry == "" {
		t.Fatalf("first block is not retry: %+v", first)
	}
	if ev := c.next(t, 2*time.Second); ev.Event != "connected" {
		t.Fatalf("second block is not connected: %+v", ev)
	}
}

func publish(t *testing.T, base, tok, channel string, body map[string]any) (int, map[string]any) {
	t.Helper()
	return testutil.Call(t, http.MethodPost, base+"/api/v1/realtime/"+channel, tok, body)
}

func alert(id string) map[string]any {
	return map[string]any{"event_type": "alert.raised", "alert_id": id, "severity": "critical", "message": "link down"}
}

func mustPublish(t *testing.T, base, tok, channel string, body map[string]any) string {
	t.Helper()
	code, out := publish(t, base, tok, channel, body)
	if code != 202 {
		t.Fatalf("publish: %d %v", code, out)
	}
	return out["id"].(string)
}

func startRedis(t testing.TB) *redistest.Server { return redistest.Start(t) }
