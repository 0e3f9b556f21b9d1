package realtime_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/redifx/redifx/modules/realtime"
	"github.com/redifx/redifx/modules/redis"
	"github.com/redifx/redifx/modules/redis/redistest"
)

const (
	readPerm = "realtime.read"
	pubPerm  = "realtime.publish"
)

func TestStreamHeadersFirstFlushAndHeartbeat(t *testing.T) {
	srv := startRedis(t)
	in := startInstance(t, srv.URL(), func(c *realtime.Config, _ *redis.Config) { c.HeartbeatInterval = 200 * time.Millisecond })
	start := time.Now()
	c := connect(t, in.base+"/api/v1/realtime/alerts", token(t, "acme", readPerm))
	h := c.resp.Header
	if h.Get("Content-Type") != "text/event-stream" || h.Get("Cache-Control") != "no-cache" || h.Get("X-Accel-Buffering") != "no" {
		t.Errorf("headers: %v", h)
	}
	first := c.next(t, time.Second)
	if first.Retry != "2000" {
		t.Errorf("retry: %+v", first)
	}
	conn := c.next(t, time.Second)
	if conn.Event != "connected" || conn.Data != `{"channels":["alerts"]}` {
		t.Errorf("connected: %+v", conn)
	}
	if took := time.Since(start); took > 500*time.Millisecond {
		t.Errorf("first bytes took %s", took)
	}
	select {
	case ev := <-c.events:
		if ev.Comment == "" || !strings.HasPrefix(ev.Comment, "heartbeat") {
			t.Errorf("expected a heartbeat comment, got %+v", ev)
		}
	case <-time.After(time.Second):
		t.Error("no heartbeat within 1s at a 200ms interval")
	}
}

func TestPublishDeliversOnChannelAndAllEvents(t *testing.T) {
	srv := startRedis(t)
	in := startInstance(t, srv.URL())
	reader := token(t, "acme", readPerm)
	one := connect(t, in.base+"/api/v1/realtime/alerts", reader)
	all := connect(t, in.base+"/api/v1/realtime/events", reader)
	one.skipPreamble(t)
	all.skipPreamble(t)

	id := mustPublish(t, in.base, token(t, "acme", pubPerm), "alerts", alert("a1"))
	ev := one.next(t, 2*time.Second)
	if ev.ID != id || ev.Event != "alert.raised" {
		t.Fatalf("single channel: %+v (want id %s)", ev, id)
	}
	var data map[string]any
	_ = json.Unmarshal([]byte(ev.Data), &data)
	if data["alert_id"] != "a1" || data["tenant_id"] != "acme" || data["timestamp"] == nil || data["source"] != nil {
		t.Errorf("data: %v", data)
	}
	ev = all.next(t, 2*time.Second)
	_ = json.Unmarshal([]byte(ev.Data), &data)
	if ev.ID != id || data["source"] != "alerts" {
		t.Errorf("/events: %+v", ev)
	}
	// Another channel reaches /events only.
	onu := map[string]any{"event_type": "onu.online", "onu_serial": "ZTEG1", "status": "online", "signal_dbm": -21.5}
	id2 := mustPublish(t, in.base, token(t, "acme", pubPerm), "onu-status", onu)
	if ev := all.next(t, 2*time.Second); ev.ID != id2 || !strings.Contains(ev.Data, `"source":"onu-status"`) {
		t.Errorf("/events onu: %+v", ev)
	}
	one.expectNone(t, 200*time.Millisecond)
}

func TestTenantIsolation(t *testing.T) {
	srv := startRedis(t)
	in := startInstance(t, srv.URL())
	b1 := connect(t, in.base+"/api/v1/realtime/alerts", token(t, "globex", readPerm))
	b2 := connect(t, in.base+"/api/v1/realtime/events", token(t, "globex", readPerm))
	a := connect(t, in.base+"/api/v1/realtime/events", token(t, "acme", readPerm))
	for _, c := range []*sseClient{b1, b2, a} {
		c.skipPreamble(t)
	}
	mustPublish(t, in.base, token(t, "acme", pubPerm), "alerts", alert("secret-of-acme"))
	if ev := a.next(t, 2*time.Second); !strings.Contains(ev.Data, "secret-of-acme") {
		t.Fatalf("acme did not get its event: %+v", ev)
	}
	b1.expectNone(t, 300*time.Millisecond)
	b2.expectNone(t, 10*time.Millisecond)
	// Nor by resuming from the beginning.
	b3 := connect(t, in.base+"/api/v1/realtime/events", token(t, "globex", readPerm), "Last-Event-ID", "0-1")
	b3.skipPreamble(t)
	if ev := b3.next(t, time.Second); ev.Event != "reset" {
		t.Fatalf("globex saw %+v", ev)
	}
	b3.expectNone(t, 300*time.Millisecond)
}

func TestPermissionsAndValidation(t *testing.T) {
	srv := startRedis(t)
	in := startInstance(t, srv.URL())
	get := func(path, tok string) int {
		_, resp := tryConnect(t, in.base+path, tok)
		resp.Body.Close()
		return resp.StatusCode
	}
	if code := get("/api/v1/realtime/alerts", ""); code != 401 {
		t.Errorf("no token: %d", code)
	}
	if code := get("/api/v1/realtime/alerts", token(t, "acme", pubPerm)); code != 403 {
		t.Errorf("no realtime.read: %d", code)
	}
	if code := get("/api/v1/realtime/bogus", token(t, "acme", readPerm)); code != 404 {
		t.Errorf("unknown channel: %d", code)
	}
	if code := get("/api/v1/realtime/alerts?access_token="+token(t, "acme", readPerm), ""); code != 200 {
		t.Errorf("query token on GET stream: %d", code)
	}
	pub := token(t, "acme", pubPerm)
	if code, _ := publish(t, in.base, token(t, "acme", readPerm), "alerts", alert("x")); code != 403 {
		t.Errorf("publish without realtime.publish: %d", code)
	}
	if code, _ := publish(t, in.base, pub, "nope", alert("x")); code != 404 {
		t.Errorf("publish unknown channel: %d", code)
	}
	other := alert("x")
	other["tenant_id"] = "globex"
	if code, _ := publish(t, in.base, pub, "alerts", other); code != 403 {
		t.Errorf("other tenant in body: %d", code)
	}
	cases := []struct {
		channel string
		body    map[string]any
		field   string
	}{
		{"alerts", map[string]any{"event_type": "alert.raised", "severity": "critical", "message": "m"}, "alert_id"},
		{"alerts", map[string]any{"event_type": "alert.raised", "alert_id": "a", "severity": "meh", "message": "m"}, "severity"},
		{"alerts", map[string]any{"event_type": "onu.online", "alert_id": "a", "severity": "info", "message": "m"}, "event_type"},
		{"onu-status", map[string]any{"event_type": "onu.online", "status": "online"}, "onu_serial"},
		{"onu-status", map[string]any{"event_type": "onu.online", "onu_serial": "s", "status": "sleeping"}, "status"},
		{"onu-status", map[string]any{"event_type": "onu.online", "onu_serial": "s", "status": "online", "signal_dbm": "low"}, "signal_dbm"},
		{"onu-status", map[string]any{"event_type": "onu.online", "onu_serial": "s", "status": "online", "timestamp": "yesterday"}, "timestamp"},
		{"radius-sessions", map[string]any{"event_type": "session.started", "session_id": "s"}, "username"},
	}
	for _, tc := range cases {
		code, body := publish(t, in.base, pub, tc.channel, tc.body)
		if code != 400 || body["field"] != tc.field || body["error"] != "validation_error" {
			t.Errorf("%s %v: %d %v (want field %s)", tc.channel, tc.body, code, body, tc.field)
		}
	}
	// The jobs channel is owned by the jobs module (HTTP publishes there are
	// 403, see TestOwnedChannelRefusesHTTPPublishes); its Go API validates
	// the same way.
	var ve *realtime.ValidationError
	if _, err := in.pub.Publish(t.Context(), "acme", "jobs", map[string]any{"event_type": "job.progress", "job_id": "j", "progress": 140}); !errors.As(err, &ve) || ve.Field != "progress" {
		t.Errorf("jobs progress 140 through the Go API: %v (want field progress)", err)
	}
	ok := map[string]any{"event_type": "onu.online", "onu_serial": "s", "status": "online", "timestamp": "2026-01-02T03:04:05+01:00"}
	if code, body := publish(t, in.base, pub, "onu-status", ok); code != 202 || body["id"] == "" {
		t.Errorf("valid: %d %v", code, body)
	}
}

func TestResumeWithoutGapAndResetPastHistory(t *testing.T) {
	srv := startRedis(t)
	in := startInstance(t, srv.URL(), func(c *realtime.Config, _ *redis.Config) { c.HistorySize = 3 })
	pub := token(t, "acme", pubPerm)
	var ids []string
	for i := range 3 {
		ids = append(ids, mustPublish(t, in.base, pub, "alerts", alert(fmt.Sprint(i))))
	}
	// Resume after the first: the two others, then live ones, no duplicate.
	c := connect(t, in.base+"/api/v1/realtime/alerts", token(t, "acme", readPerm), "Last-Event-ID", ids[0])
	c.skipPreamble(t)
	for _, want := range ids[1:] {
		if ev := c.next(t, 2*time.Second); ev.ID != want {
			t.Fatalf("replay: got %+v want %s", ev, want)
		}
	}
	live := mustPublish(t, in.base, pub, "alerts", alert("live"))
	if ev := c.next(t, 2*time.Second); ev.ID != live {
		t.Fatalf("live: %+v", ev)
	}
	c.expectNone(t, 200*time.Millisecond)

	// /events resumes from the same id; other channels interleave in order.
	onu := mustPublish(t, in.base, pub, "onu-status", map[string]any{"event_type": "onu.offline", "onu_serial": "s", "status": "offline"})
	e := connect(t, in.base+"/api/v1/realtime/events", token(t, "acme", readPerm), "Last-Event-ID", ids[2])
	e.skipPreamble(t)
	if ev := e.next(t, 2*time.Second); ev.ID != live {
		t.Fatalf("/events replay 1: %+v", ev)
	}
	if ev := e.next(t, 2*time.Second); ev.ID != onu {
		t.Fatalf("/events replay 2: %+v", ev)
	}

	// Push the first ids out of the (3 × 6 events) history.
	for i := range 40 {
		mustPublish(t, in.base, pub, "alerts", alert(fmt.Sprint("fill", i)))
	}
	r := connect(t, in.base+"/api/v1/realtime/alerts", token(t, "acme", readPerm), "Last-Event-ID", ids[0])
	r.skipPreamble(t)
	if ev := r.next(t, 2*time.Second); ev.Event != "reset" {
		t.Fatalf("expected reset first, got %+v", ev)
	}
	if ev := r.next(t, 2*time.Second); ev.Event != "alert.raised" {
		t.Fatalf("after reset: %+v", ev)
	}
	// A malformed id is a 400.
	_, resp := tryConnect(t, in.base+"/api/v1/realtime/alerts", token(t, "acme", readPerm), "Last-Event-ID", "yesterday")
	resp.Body.Close()
	if resp.StatusCode != 400 {
		t.Errorf("bad Last-Event-ID: %d", resp.StatusCode)
	}
}

func TestTwoInstancesDeliverToEachOther(t *testing.T) {
	srv := startRedis(t)
	a := startInstance(t, srv.URL())
	b := startInstance(t, srv.URL())
	onB := connect(t, b.base+"/api/v1/realtime/tickets", token(t, "acme", readPerm))
	onB.skipPreamble(t)
	id := mustPublish(t, a.base, token(t, "acme", pubPerm), "tickets", map[string]any{"event_type": "ticket.created", "ticket_id": "T-1"})
	if ev := onB.next(t, 2*time.Second); ev.ID != id {
		t.Fatalf("replica B got %+v (alive %v, a.clients %d b.clients %d, a.delivered %d)", ev, b.hub.Stats().SubscriptionAlive.Load(), a.hub.Clients(), b.hub.Clients(), a.hub.Stats().Delivered.Load())
	}
}

func TestRedisRestartMidStreamLosesNoStoredEvent(t *testing.T) {
	srv := startRedis(t)
	in := startInstance(t, srv.URL())
	c := connect(t, in.base+"/api/v1/realtime/alerts", token(t, "acme", readPerm))
	c.skipPreamble(t)
	pub := token(t, "acme", pubPerm)
	first := mustPublish(t, in.base, pub, "alerts", alert("before"))
	if ev := c.next(t, 2*time.Second); ev.ID != first {
		t.Fatalf("before: %+v", ev)
	}
	srv.Kill()
	deadline := time.Now().Add(3 * time.Second)
	for in.mgr.Available() && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	// While Redis is down: publishing and new streams get 503 with Retry-After.
	if code, body := publish(t, in.base, pub, "alerts", alert("down")); code != 503 || body["error"] != "unavailable" {
		t.Errorf("publish while down: %d %v", code, body)
	}
	_, resp := tryConnect(t, in.base+"/api/v1/realtime/alerts", token(t, "acme", readPerm))
	resp.Body.Close()
	if resp.StatusCode != 503 || resp.Header.Get("Retry-After") == "" || resp.Header.Get("Content-Type") == "text/event-stream" {
		t.Errorf("new stream while down: %d %v", resp.StatusCode, resp.Header)
	}
	srv.Restart()
	for !in.mgr.Available() {
		if time.Now().After(deadline.Add(5 * time.Second)) {
			t.Fatal("manager did not recover")
		}
		time.Sleep(20 * time.Millisecond)
	}
	// Published at once: the hub may not have resubscribed yet; the backfill
	// from the stream must deliver them anyway.
	var after []string
	for i := range 3 {
		after = append(after, mustPublish(t, in.base, pub, "alerts", alert(fmt.Sprint("after", i))))
	}
	for _, want := range after {
		if ev := c.next(t, 5*time.Second); ev.ID != want {
			t.Fatalf("after restart: got %+v want %s", ev, want)
		}
	}
	c.expectNone(t, 300*time.Millisecond)
}

// slowDial connects with a tiny receive buffer and never reads.
func slowStream(t *testing.T, addr, path, tok string) net.Conn {
	t.Helper()
	d := net.Dialer{Control: func(_, _ string, rc syscall.RawConn) error {
		var serr error
		_ = rc.Control(func(fd uintptr) { serr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, 2048) })
		return serr
	}}
	conn, err := d.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprintf(conn, "GET %s HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\n\r\n", path, tok)
	t.Cleanup(func() { _ = conn.Close() })
	return conn
}

func TestSlowClientIsDisconnectedWithoutDelayingAFastOne(t *testing.T) {
	srv := startRedis(t)
	in := startInstance(t, srv.URL(), func(c *realtime.Config, _ *redis.Config) { c.ClientBuffer = 8; c.WriteTimeout = 2 * time.Second })
	reader := token(t, "acme", readPerm)
	slowStream(t, in.srv.Addr().String(), "/api/v1/realtime/alerts", reader)
	fast := connect(t, in.base+"/api/v1/realtime/alerts", reader)
	fast.skipPreamble(t)
	deadline := time.Now().Add(3 * time.Second)
	for in.hub.Clients() < 2 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	big := strings.Repeat("x", 32<<10)
	pub := token(t, "acme", pubPerm)
	const n = 200
	start := time.Now()
	var wg sync.WaitGroup
	var last string
	wg.Go(func() {
		for i := range n {
			body := alert(fmt.Sprint(i))
			body["message"] = big
			last = mustPublish(t, in.base, pub, "alerts", body)
		}
	})
	got := 0
	for got < n {
		ev := fast.next(t, 5*time.Second)
		if ev.Event == "alert.raised" {
			got++
		}
	}
	wg.Wait()
	if took := time.Since(start); took > 10*time.Second {
		t.Errorf("fast client took %s for %d events", took, n)
	}
	_ = last
	if in.hub.Stats().SlowDisconnects.Load() < 1 {
		t.Error("the slow client was not disconnected")
	}
}

func TestShutdownClosesOpenStreamsAtOnce(t *testing.T) {
	srv := startRedis(t)
	in := startInstance(t, srv.URL())
	reader := token(t, "acme", readPerm)
	const n = 1000
	tr := &http.Transport{MaxConnsPerHost: 0, MaxIdleConnsPerHost: n}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr}
	var wg sync.WaitGroup
	ended := make(chan time.Time, n)
	opened := make(chan struct{}, n)
	shutdownSeen := make(chan bool, n)
	for range n {
		wg.Go(func() {
			req, _ := http.NewRequest(http.MethodGet, in.base+"/api/v1/realtime/events", nil)
			req.Header.Set("Authorization", "Bearer "+reader)
			resp, err := client.Do(req)
			if err != nil {
				opened <- struct{}{}
				ended <- time.Now()
				shutdownSeen <- false
				return
			}
			defer resp.Body.Close()
			opened <- struct{}{}
			buf := make([]byte, 4096)
			var all []byte
			for {
				k, err := resp.Body.Read(buf)
				all = append(all, buf[:k]...)
				if err != nil {
					break
				}
			}
			ended <- time.Now()
			shutdownSeen <- strings.Contains(string(all), "event: shutdown")
		})
	}
	for range n {
		<-opened
	}
	deadline := time.Now().Add(10 * time.Second)
	for in.hub.Clients() < n && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if in.hub.Clients() != n {
		t.Fatalf("only %d streams open", in.hub.Clients())
	}
	start := time.Now()
	in.srv.BeginDrain()
	wg.Wait()
	close(ended)
	close(shutdownSeen)
	var lastEnd time.Time
	for e := range ended {
		if e.After(lastEnd) {
			lastEnd = e
		}
	}
	if took := lastEnd.Sub(start); took > time.Second {
		t.Errorf("closing %d streams took %s", n, took)
	}
	for seen := range shutdownSeen {
		if !seen {
			t.Error("a stream ended without event: shutdown")
			break
		}
	}
	// New streams are refused while draining.
	_, resp := tryConnect(t, in.base+"/api/v1/realtime/events", reader)
	resp.Body.Close()
	if resp.StatusCode != 503 || resp.Header.Get("Retry-After") == "" {
		t.Errorf("new stream while draining: %d", resp.StatusCode)
	}
	stopStart := time.Now()
	in.stop()
	if took := time.Since(stopStart); took > 2*time.Second {
		t.Errorf("stop took %s", took)
	}
	if in.hub.Clients() != 0 {
		t.Errorf("%d clients left registered", in.hub.Clients())
	}
}

func TestClientLimitsAndTokenExpiry(t *testing.T) {
	srv := startRedis(t)
	in := startInstance(t, srv.URL(), func(c *realtime.Config, _ *redis.Config) { c.MaxClients = 3; c.MaxClientsPerTenant = 2 })
	a1 := connect(t, in.base+"/api/v1/realtime/alerts", token(t, "acme", readPerm))
	connect(t, in.base+"/api/v1/realtime/alerts", token(t, "acme", readPerm))
	_, resp := tryConnect(t, in.base+"/api/v1/realtime/alerts", token(t, "acme", readPerm))
	resp.Body.Close()
	if resp.StatusCode != 503 || resp.Header.Get("Retry-After") == "" {
		t.Errorf("over the tenant limit: %d", resp.StatusCode)
	}
	short := connect(t, in.base+"/api/v1/realtime/alerts", tokenTTL(t, "globex", 1500*time.Millisecond, readPerm))
	_, resp = tryConnect(t, in.base+"/api/v1/realtime/alerts", token(t, "initech", readPerm))
	resp.Body.Close()
	if resp.StatusCode != 503 {
		t.Errorf("over the process limit: %d", resp.StatusCode)
	}
	short.skipPreamble(t)
	if ev := short.next(t, 4*time.Second); ev.Event != "token_expired" {
		t.Errorf("expiry: %+v", ev)
	}
	select {
	case <-short.done:
	case <-time.After(2 * time.Second):
		t.Error("stream not closed after token expiry")
	}
	a1.close()
	deadline := time.Now().Add(2 * time.Second)
	for in.hub.Clients() != 1 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if in.hub.Clients() != 1 {
		t.Errorf("clients after leaving: %d", in.hub.Clients())
	}
}

func TestCORS(t *testing.T) {
	srv := startRedis(t)
	in := startInstance(t, srv.URL(), func(c *realtime.Config, _ *redis.Config) { c.AllowedOrigins = []string{"https://app.example"} })
	pre := func(origin string) *http.Response {
		req, _ := http.NewRequest(http.MethodOptions, in.base+"/api/v1/realtime/alerts", nil)
		req.Header.Set("Origin", origin)
		req.Header.Set("Access-Control-Request-Method", "GET")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp
	}
	if r := pre("https://app.example"); r.StatusCode != 204 || r.Header.Get("Access-Control-Allow-Origin") != "https://app.example" || !strings.Contains(r.Header.Get("Access-Control-Allow-Headers"), "Last-Event-ID") {
		t.Errorf("allowed preflight: %d %v", r.StatusCode, r.Header)
	}
	if r := pre("https://evil.example"); r.StatusCode != 403 || r.Header.Get("Access-Control-Allow-Origin") != "" {
		t.Errorf("other origin: %d %v", r.StatusCode, r.Header)
	}
	c := connect(t, in.base+"/api/v1/realtime/alerts", token(t, "acme", readPerm), "Origin", "https://app.example")
	if c.resp.Header.Get("Access-Control-Allow-Origin") != "https://app.example" {
		t.Errorf("stream CORS: %v", c.resp.Header)
	}
	// A browser may send Idempotency-Key with a publish and read whether it
	// was a replay.
	if r := pre("https://app.example"); !strings.Contains(r.Header.Get("Access-Control-Allow-Headers"), "Idempotency-Key") {
		t.Errorf("preflight does not allow Idempotency-Key: %v", r.Header)
	}
	if a := post(t, in.base+"/api/v1/realtime/alerts", token(t, "acme", pubPerm), mustJSON(t, alert("cors")), "Origin", "https://app.example"); !strings.Contains(a.hdr.Get("Access-Control-Expose-Headers"), "Idempotent-Replayed") {
		t.Errorf("publish does not expose Idempotent-Replayed: %v", a.hdr)
	}
}

func TestPublisherInterface(t *testing.T) {
	srv := startRedis(t)
	in := startInstance(t, srv.URL())
	c := connect(t, in.base+"/api/v1/realtime/jobs", token(t, "acme", readPerm))
	c.skipPreamble(t)
	id, err := in.pub.Publish(t.Context(), "acme", "jobs", map[string]any{"event_type": "job.progress", "job_id": "j1", "progress": 50.0})
	if err != nil {
		t.Fatal(err)
	}
	if ev := c.next(t, 2*time.Second); ev.ID != id || ev.Event != "job.progress" {
		t.Errorf("%+v", ev)
	}
	// Go callers may pass integers.
	id, err = in.pub.Publish(t.Context(), "acme", "jobs", map[string]any{"event_type": "job.progress", "job_id": "j1", "progress": 75, "items_processed": int64(3)})
	if err != nil {
		t.Fatalf("integers from Go: %v", err)
	}
	if ev := c.next(t, 2*time.Second); ev.ID != id || !strings.Contains(ev.Data, `"items_processed":3`) {
		t.Errorf("%+v", ev)
	}
	if _, err := in.pub.Publish(t.Context(), "acme", "jobs", map[string]any{"event_type": "job.progress"}); err == nil {
		t.Error("invalid event accepted")
	}
}

func TestOnRedisCluster(t *testing.T) {
	cl := redistest.StartCluster(t)
	in := startInstance(t, "", func(_ *realtime.Config, r *redis.Config) {
		r.URL, r.Mode, r.Addrs = "", redis.ModeCluster, cl.Addrs()
	})
	var clients []*sseClient
	var tenants []string
	for i := range 6 { // tenants whose streams land in different slots
		tenant := fmt.Sprint("tenant-", i)
		tenants = append(tenants, tenant)
		c := connect(t, in.base+"/api/v1/realtime/events", token(t, tenant, readPerm))
		c.skipPreamble(t)
		clients = append(clients, c)
	}
	for i, tenant := range tenants {
		id := mustPublish(t, in.base, token(t, tenant, pubPerm), "alerts", alert(tenant))
		ev := clients[i].next(t, 3*time.Second)
		if ev.ID != id || !strings.Contains(ev.Data, `"tenant_id":"`+tenant+`"`) {
			t.Fatalf("%s: %+v", tenant, ev)
		}
		// Resume on Cluster too.
		r := connect(t, in.base+"/api/v1/realtime/alerts", token(t, tenant, readPerm), "Last-Event-ID", "0-1")
		r.skipPreamble(t)
		if ev := r.next(t, 2*time.Second); ev.Event != "reset" {
			t.Fatalf("resume: %+v", ev)
		}
		if ev := r.next(t, 2*time.Second); ev.ID != id {
			t.Fatalf("resume: %+v", ev)
		}
	}
}
