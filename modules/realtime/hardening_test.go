package realtime_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/redifx/redifx/modules/auth"
	"github.com/redifx/redifx/modules/realtime"
	"github.com/redifx/redifx/modules/redis"
	"github.com/redifx/redifx/modules/redis/redistest"
	goredis "github.com/redis/go-redis/v9"
)

// answer is one HTTP answer: status, headers and the JSON body (nil when the
// body is not a JSON object).
type answer struct {
	code int
	hdr  http.Header
	body map[string]any
	raw  []byte
}

// post sends body (raw bytes) to path with the token and header pairs.
func post(t testing.TB, url, tok string, body []byte, hdr ...string) answer {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	if tok != "" {
		req.Header.Set("Authorization", "Bearer "+tok)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	a := answer{code: resp.StatusCode, hdr: resp.Header, raw: raw}
	_ = json.Unmarshal(raw, &a.body)
	return a
}

func mustJSON(t testing.TB, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// streamKey is tenant's history key under the default prefix.
func streamKey(tenant string) string { return "redifx:realtime:{" + tenant + "}:stream" }

// --- Defect 6: a Last-Event-ID ahead of the history ---------------------------

// A stream resumed with an id newer than anything stored (legitimate after a
// failover or a Redis restart that lost the last events) resets saying the
// id is ahead of the history and then delivers the next published events.
// Before, it got "older than the history" and then nothing, ever.
func TestResumeFromAnIDAheadOfTheHistoryDeliversLiveEvents(t *testing.T) {
	srv := startRedis(t)
	in := startInstance(t, srv.URL())
	pub := token(t, "acme", pubPerm)
	rd := token(t, "acme", readPerm)
	var last string
	for i := range 3 {
		last = mustPublish(t, in.base, pub, "alerts", alert(fmt.Sprint(i)))
	}
	var ms, seq uint64
	fmt.Sscanf(last, "%d-%d", &ms, &seq)
	for _, future := range []string{
		fmt.Sprintf("%d-%d", ms, seq+1),             // just past the newest
		fmt.Sprintf("%d-0", ms+3_600_000),           // an hour ahead
		"18446744073709551615-18446744073709551615", // the largest id
	} {
		c := connect(t, in.base+"/api/v1/realtime/alerts", rd, "Last-Event-ID", future)
		c.skipPreamble(t)
		ev := c.next(t, 2*time.Second)
		var reset map[string]any
		_ = json.Unmarshal([]byte(ev.Data), &reset)
		if ev.Event != "reset" || reset["cause"] != "ahead" || !strings.Contains(fmt.Sprint(reset["reason"]), "ahead of the history") {
			t.Fatalf("%s: want a reset saying the id is ahead, got %+v", future, ev)
		}
		live := mustPublish(t, in.base, pub, "alerts", alert("live-"+future))
		if ev := c.next(t, 3*time.Second); ev.ID != live {
			t.Fatalf("%s: live event not delivered after the reset: %+v", future, ev)
		}
		c.close()
	}
}

// With nothing stored (Redis restarted empty, or the history expired) a
// resume resets ("empty") and delivers what is published next.
func TestResumeOnAnEmptyHistoryDeliversLiveEvents(t *testing.T) {
	srv := startRedis(t)
	in := startInstance(t, srv.URL())
	c := connect(t, in.base+"/api/v1/realtime/events", token(t, "acme", readPerm), "Last-Event-ID", "1700000000000-7")
	c.skipPreamble(t)
	ev := c.next(t, 2*time.Second)
	if ev.Event != "reset" || !strings.Contains(ev.Data, `"cause":"empty"`) {
		t.Fatalf("want an empty-history reset, got %+v", ev)
	}
	live := mustPublish(t, in.base, token(t, "acme", pubPerm), "alerts", alert("after-restart"))
	if ev := c.next(t, 3*time.Second); ev.ID != live {
		t.Fatalf("live event not delivered: %+v", ev)
	}
}

// Ids at exactly the history's bounds resume without a reset: the oldest
// replays the rest, the newest replays nothing and goes live.
func TestResumeAtTheHistoryBounds(t *testing.T) {
	srv := startRedis(t)
	in := startInstance(t, srv.URL())
	pub := token(t, "acme", pubPerm)
	rd := token(t, "acme", readPerm)
	ids := []string{}
	for i := range 3 {
		ids = append(ids, mustPublish(t, in.base, pub, "alerts", alert(fmt.Sprint(i))))
	}
	c := connect(t, in.base+"/api/v1/realtime/alerts", rd, "Last-Event-ID", ids[0])
	c.skipPreamble(t)
	for _, want := range ids[1:] {
		if ev := c.next(t, 2*time.Second); ev.ID != want {
			t.Fatalf("resume at the oldest: got %+v want %s", ev, want)
		}
	}
	n := connect(t, in.base+"/api/v1/realtime/alerts", rd, "Last-Event-ID", ids[2])
	n.skipPreamble(t)
	live := mustPublish(t, in.base, pub, "alerts", alert("live"))
	if ev := n.next(t, 2*time.Second); ev.ID != live {
		t.Fatalf("resume at the newest: got %+v want the live %s", ev, live)
	}
	// Malformed ids stay 400, naming the header.
	for _, bad := range []string{"yesterday", "1-", "-1", "1-2-3", "18446744073709551616-0", "1.5-0", "+1-0"} {
		_, resp := tryConnect(t, in.base+"/api/v1/realtime/alerts", rd, "Last-Event-ID", bad)
		var body map[string]any
		_ = json.NewDecoder(resp.Body).Decode(&body)
		resp.Body.Close()
		if resp.StatusCode != 400 || body["field"] != "Last-Event-ID" {
			t.Errorf("Last-Event-ID %q: %d %v", bad, resp.StatusCode, body)
		}
	}
}

// --- Defect 7: one rule for token expiry ---------------------------------------

// tokenExp signs a token for tenant that expires at exp (possibly past).
func tokenExp(t *testing.T, tenant string, exp time.Time, perms ...string) string {
	t.Helper()
	c := jwt.MapClaims{"sub": "u-" + tenant, "tenant_id": tenant, "permissions": perms,
		"iat": exp.Add(-time.Hour).Unix(), "exp": exp.Unix()}
	s, err := jwt.NewWithClaims(jwt.SigningMethodHS256, c).SignedString([]byte(secret))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// A token past exp but inside the leeway opens a stream that stays open
// until exp + leeway — the instant the middleware starts refusing the same
// token — and not a moment less (before, it was closed at once with
// token_expired, and an EventSource looped on that).
func TestStreamEndsWhenTheMiddlewareWouldRefuseTheToken(t *testing.T) {
	srv := startRedis(t)
	const leeway = 5 * time.Second // room for a loaded machine to connect inside it
	in := startInstanceAuth(t, srv.URL(), auth.Config{JWTSecret: secret, Leeway: leeway})
	exp := time.Now().Truncate(time.Second).Add(-time.Second) // already expired
	validUntil := exp.Add(leeway)
	tok := tokenExp(t, "acme", exp, readPerm)
	c := connect(t, in.base+"/api/v1/realtime/alerts", tok)
	c.skipPreamble(t)
	// Inside the leeway the stream is live.
	live := mustPublish(t, in.base, token(t, "acme", pubPerm), "alerts", alert("inside-leeway"))
	if ev := c.next(t, 2*time.Second); ev.ID != live {
		t.Fatalf("inside the leeway: %+v (want the live event)", ev)
	}
	ev := c.next(t, leeway+3*time.Second)
	ended := time.Now()
	if ev.Event != "token_expired" {
		t.Fatalf("want token_expired, got %+v", ev)
	}
	if ended.Before(validUntil) {
		t.Errorf("the stream ended at %s, before exp + leeway (%s)", ended.Format(time.StampMilli), validUntil.Format(time.StampMilli))
	}
	// From then on the middleware refuses the same token.
	_, resp := tryConnect(t, in.base+"/api/v1/realtime/alerts", tok)
	resp.Body.Close()
	if resp.StatusCode != 401 {
		t.Errorf("the same token after exp + leeway: %d, want 401", resp.StatusCode)
	}
}

// --- Defect 3: tenants that keys cannot carry -------------------------------

func TestGoAPIRefusesTenantsKeysCannotCarry(t *testing.T) {
	srv := startRedis(t)
	in := startInstance(t, srv.URL())
	ctx := t.Context()
	for _, bad := range []string{"", "a:b", "x}y", "{acme}", "a b", strings.Repeat("t", 129)} {
		check := func(what string, err error) {
			var ve *realtime.ValidationError
			if !errors.As(err, &ve) || ve.Field != "tenant_id" {
				t.Errorf("%s(%q): %v, want a validation error naming tenant_id", what, bad, err)
			}
		}
		_, err := in.pub.Publish(ctx, bad, "alerts", alert("x"))
		check("Publish", err)
		_, _, err = in.hub.PublishOnce(ctx, bad, "alerts", "k", alert("x"))
		check("PublishOnce", err)
		_, err = in.hub.ONUs(ctx, bad)
		check("ONUs", err)
		_, err = in.hub.EventCounts(ctx, bad, time.Minute)
		check("EventCounts", err)
		_, err = in.hub.ConnectedClients(ctx, bad)
		check("ConnectedClients", err)
	}
	rdb := srv.Client(t)
	if n, _ := rdb.DBSize(ctx).Result(); n != 0 {
		keys, _ := rdb.Keys(ctx, "*").Result()
		t.Errorf("refused calls wrote keys: %v", keys)
	}
}

// --- Defect 11: Idempotency-Key on publish -----------------------------------

func TestPublishIdempotencyKey(t *testing.T) {
	srv := startRedis(t)
	in := startInstance(t, srv.URL())
	rdb := srv.Client(t)
	ctx := t.Context()
	pub := token(t, "acme", pubPerm)
	url := in.base + "/api/v1/realtime/alerts"
	body := mustJSON(t, alert("idem"))
	first := post(t, url, pub, body, "Idempotency-Key", "retry-1")
	again := post(t, url, pub, body, "Idempotency-Key", "retry-1")
	if first.code != 202 || again.code != 202 || first.body["id"] != again.body["id"] {
		t.Fatalf("same key: %d %v then %d %v", first.code, first.body, again.code, again.body)
	}
	if again.hdr.Get("Idempotent-Replayed") != "true" {
		t.Errorf("a replay does not say so: %v", again.hdr)
	}
	if n := rdb.XLen(ctx, streamKey("acme")).Val(); n != 1 {
		t.Errorf("stored %d events for one key", n)
	}
	// A different body with the same key: 422, nothing stored.
	other := post(t, url, pub, mustJSON(t, alert("other")), "Idempotency-Key", "retry-1")
	if other.code != 422 || other.body["error"] != "idempotency_conflict" {
		t.Errorf("different body, same key: %d %v", other.code, other.body)
	}
	// The same key of another tenant is another record.
	g := post(t, url, token(t, "globex", pubPerm), body, "Idempotency-Key", "retry-1")
	if g.code != 202 || g.body["id"] == first.body["id"] && rdb.XLen(ctx, streamKey("globex")).Val() != 1 {
		t.Errorf("another tenant's key: %d %v", g.code, g.body)
	}
	// Keys are composed injectively: "a" + ":b" never meets "a:" + "b".
	k1 := post(t, url, pub, mustJSON(t, alert("k1")), "Idempotency-Key", "1:a")
	k2 := post(t, url, pub, mustJSON(t, alert("k2")), "Idempotency-Key", "1:a:")
	if k1.code != 202 || k2.code != 202 || k1.body["id"] == k2.body["id"] {
		t.Errorf("distinct keys collided: %v %v", k1.body, k2.body)
	}
	// 255 bytes is the limit; 256 is 400 naming the header.
	if a := post(t, url, pub, mustJSON(t, alert("long")), "Idempotency-Key", strings.Repeat("k", 255)); a.code != 202 {
		t.Errorf("255-byte key: %d %v", a.code, a.body)
	}
	if a := post(t, url, pub, mustJSON(t, alert("long")), "Idempotency-Key", strings.Repeat("k", 256)); a.code != 400 || a.body["field"] != "Idempotency-Key" {
		t.Errorf("256-byte key: %d %v", a.code, a.body)
	}
	if n := rdb.XLen(ctx, streamKey("acme")).Val(); n != 4 {
		t.Errorf("stored %d events, want 4", n)
	}
}

// The Go API's PublishOnce follows the same rules.
func TestPublishOnceGoAPI(t *testing.T) {
	srv := startRedis(t)
	in := startInstance(t, srv.URL())
	ctx := t.Context()
	id1, replayed1, err1 := in.hub.PublishOnce(ctx, "acme", "alerts", "go-key", alert("once"))
	id2, replayed2, err2 := in.hub.PublishOnce(ctx, "acme", "alerts", "go-key", alert("once"))
	if err1 != nil || err2 != nil || id1 != id2 || replayed1 || !replayed2 {
		t.Fatalf("PublishOnce twice: %s %v %v, %s %v %v", id1, replayed1, err1, id2, replayed2, err2)
	}
	if _, _, err := in.hub.PublishOnce(ctx, "acme", "alerts", "go-key", alert("different")); !errors.Is(err, realtime.ErrIdempotencyConflict) {
		t.Errorf("a different event with the key: %v", err)
	}
	var ve *realtime.ValidationError
	if _, _, err := in.hub.PublishOnce(ctx, "acme", "alerts", strings.Repeat("k", 256), alert("x")); !errors.As(err, &ve) || ve.Field != "Idempotency-Key" {
		t.Errorf("a 256-byte key: %v", err)
	}
	// The owning module's channel is open to the Go API, with a key too.
	if _, _, err := in.hub.PublishOnce(ctx, "acme", realtime.ChannelJobs, "job-1-done", map[string]any{"event_type": "job.completed", "job_id": "1"}); err != nil {
		t.Errorf("PublishOnce on the jobs channel: %v", err)
	}
	if n := srv.Client(t).XLen(ctx, streamKey("acme")).Val(); n != 2 {
		t.Errorf("stored %d events, want 2", n)
	}
}

// Concurrent retries with one key store one event and all get its id.
func TestConcurrentRetriesWithOneIdempotencyKeyStoreOneEvent(t *testing.T) {
	srv := startRedis(t)
	in := startInstance(t, srv.URL())
	pub := token(t, "acme", pubPerm)
	body := mustJSON(t, alert("concurrent"))
	const n = 16
	ids := make([]string, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			a := post(t, in.base+"/api/v1/realtime/alerts", pub, body, "Idempotency-Key", "storm")
			if a.code != 202 {
				t.Errorf("retry %d: %d %v", i, a.code, a.body)
				return
			}
			ids[i], _ = a.body["id"].(string)
		})
	}
	wg.Wait()
	for _, id := range ids[1:] {
		if id != ids[0] {
			t.Fatalf("retries got different ids: %v", ids)
		}
	}
	if got := srv.Client(t).XLen(t.Context(), streamKey("acme")).Val(); got != 1 {
		t.Errorf("stored %d events", got)
	}
}

// --- Defect 12: owned channels -----------------------------------------------

// Nobody can forge the jobs module's events over HTTP (not even an admin),
// while the module's Go API still writes the channel and streams carry it.
func TestOwnedChannelRefusesHTTPPublishes(t *testing.T) {
	srv := startRedis(t)
	in := startInstance(t, srv.URL())
	if realtime.ChannelOwner(realtime.ChannelJobs) != "jobs" {
		t.Fatalf("the jobs channel's owner is %q", realtime.ChannelOwner(realtime.ChannelJobs))
	}
	for _, ch := range realtime.Channels {
		if ch != realtime.ChannelJobs && realtime.ChannelOwner(ch) != "" {
			t.Errorf("channel %s is owned by %q", ch, realtime.ChannelOwner(ch))
		}
	}
	c := connect(t, in.base+"/api/v1/realtime/jobs", token(t, "acme", readPerm))
	c.skipPreamble(t)
	forged := map[string]any{"event_type": "job.completed", "job_id": "j1"}
	admin, err := auth.Mint(auth.Config{JWTSecret: secret}, "test", auth.TokenRequest{Subject: "root", TenantID: "acme", Roles: []string{auth.RoleAdmin}, TTL: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	for _, tok := range []string{token(t, "acme", pubPerm), admin} {
		a := post(t, in.base+"/api/v1/realtime/jobs", tok, mustJSON(t, forged))
		if a.code != 403 || !strings.Contains(fmt.Sprint(a.body["message"]), "jobs module") {
			t.Errorf("HTTP publish on jobs: %d %v", a.code, a.body)
		}
	}
	if n := srv.Client(t).XLen(t.Context(), streamKey("acme")).Val(); n != 0 {
		t.Errorf("refused publishes stored %d events", n)
	}
	id, err := in.pub.Publish(t.Context(), "acme", realtime.ChannelJobs, map[string]any{"event_type": "job.completed", "job_id": "j1"})
	if err != nil {
		t.Fatalf("the Go API on jobs: %v", err)
	}
	if ev := c.next(t, 2*time.Second); ev.ID != id || ev.Event != "job.completed" {
		t.Errorf("stream: %+v", ev)
	}
}

// --- Defect 13: event size and history bytes ---------------------------------

func TestEventSizeLimit(t *testing.T) {
	srv := startRedis(t)
	in := startInstance(t, srv.URL())
	pub := token(t, "acme", pubPerm)
	url := in.base + "/api/v1/realtime/alerts"
	fits := alert("fits")
	fits["message"] = strings.Repeat("m", realtime.DefaultMaxEventBytes-200)
	if a := post(t, url, pub, mustJSON(t, fits)); a.code != 202 {
		t.Fatalf("an event under the limit: %d %v", a.code, a.body)
	}
	// Over the limit (up to the server's own body limit, which answers 413
	// body_too_large before the handler runs).
	for _, size := range []int{realtime.DefaultMaxEventBytes, realtime.DefaultMaxEventBytes + 4<<10, 512 << 10} {
		big := alert("big")
		big["message"] = strings.Repeat("m", size)
		a := post(t, url, pub, mustJSON(t, big))
		if a.code != 413 || a.body["error"] != "event_too_large" || !strings.Contains(fmt.Sprint(a.body["message"]), "65536") {
			t.Errorf("%d bytes: %d %v", size, a.code, a.body)
		}
	}
	if _, err := in.pub.Publish(t.Context(), "acme", "alerts", map[string]any{"event_type": "alert.raised", "alert_id": "a", "severity": "info", "message": strings.Repeat("m", 70<<10)}); err == nil {
		t.Error("the Go API accepted a 70 KiB event")
	}
	if n := srv.Client(t).XLen(t.Context(), streamKey("acme")).Val(); n != 1 {
		t.Errorf("stored %d events", n)
	}
}

// historyBytes sums what the budget counts over tenant's stream.
func historyBytes(t *testing.T, rdb *goredis.Client, tenant string) (int64, int) {
	t.Helper()
	msgs, err := rdb.XRange(t.Context(), streamKey(tenant), "-", "+").Result()
	if err != nil {
		t.Fatal(err)
	}
	var n int64
	for _, m := range msgs {
		for _, v := range m.Values {
			n += int64(len(v.(string)))
		}
	}
	return n, len(msgs)
}

// The history never holds more than history_max_bytes: each publish drops the
// oldest events past the budget in the same script, keeping the newest.
func TestHistoryByteBudget(t *testing.T) {
	srv := startRedis(t)
	const budget = 8 << 10
	in := startInstance(t, srv.URL(), func(c *realtime.Config, _ *redis.Config) { c.MaxEventBytes = 2 << 10; c.HistoryMaxBytes = budget })
	rdb := srv.Client(t)
	pub := token(t, "acme", pubPerm)
	var last string
	for i := range 40 {
		ev := alert(fmt.Sprint(i))
		ev["message"] = strings.Repeat("m", 100+i*40) // up to ~1.7 KiB
		last = mustPublish(t, in.base, pub, "alerts", ev)
		got, n := historyBytes(t, rdb, "acme")
		if got > budget {
			t.Fatalf("after publish %d the history holds %d bytes (%d events), over %d", i, got, n, budget)
		}
		if counted, _ := rdb.Get(t.Context(), "redifx:realtime:{acme}:stream-bytes").Int64(); counted != got {
			t.Fatalf("after publish %d the byte count says %d, the stream holds %d", i, counted, got)
		}
	}
	newest, err := rdb.XRevRangeN(t.Context(), streamKey("acme"), "+", "-", 1).Result()
	if err != nil || len(newest) != 1 || newest[0].ID != last {
		t.Errorf("the newest event was trimmed: %v %v", newest, err)
	}
	// A lost byte count (evicted) is recounted from the stream.
	rdb.Del(t.Context(), "redifx:realtime:{acme}:stream-bytes")
	mustPublish(t, in.base, pub, "alerts", alert("after-loss"))
	got, _ := historyBytes(t, rdb, "acme")
	if counted, _ := rdb.Get(t.Context(), "redifx:realtime:{acme}:stream-bytes").Int64(); counted != got || got > budget {
		t.Errorf("after a lost count: counted %d, held %d", counted, got)
	}
}

func TestConfigValidateNamesSizeFields(t *testing.T) {
	for _, tc := range []struct {
		set   func(*realtime.Config)
		field string
	}{
		{func(c *realtime.Config) { c.MaxEventBytes = 0 }, "max_event_bytes"},
		{func(c *realtime.Config) { c.MaxEventBytes = 1 << 30 }, "max_event_bytes"},
		{func(c *realtime.Config) { c.HistoryMaxBytes = 1000 }, "history_max_bytes"},
		{func(c *realtime.Config) { c.HistoryMaxBytes = int64(c.MaxEventBytes) }, "history_max_bytes"},
	} {
		c := realtime.DefaultConfig()
		tc.set(&c)
		if err := c.Validate("test"); err == nil || !strings.Contains(err.Error(), tc.field) {
			t.Errorf("%+v: %v, want an error naming %s", c, err, tc.field)
		}
	}
	c := realtime.DefaultConfig()
	if err := c.Validate("test"); err != nil || c.MaxEventBytes != 64<<10 {
		t.Errorf("defaults: %v, max_event_bytes %d", err, c.MaxEventBytes)
	}
}

// --- Defect 2's status rule ----------------------------------------------------

// A Redis that answers but refuses writes (maxmemory reached, noeviction)
// makes publishes 503 naming OOM, with Retry-After, while streams still open
// and replay; a script's own error (a key holding the wrong kind of value) is
// a 500 that names the request id. Never "Redis is down" when Redis answered.
func TestRedisConditionsAre503AndLogicErrors500(t *testing.T) {
	redistest.RequireReal(t) // CONFIG SET maxmemory
	srv := startRedis(t)
	in := startInstance(t, srv.URL())
	rdb := srv.Client(t)
	ctx := t.Context()
	pub := token(t, "acme", pubPerm)
	first := mustPublish(t, in.base, pub, "alerts", alert("before"))
	second := mustPublish(t, in.base, pub, "alerts", alert("before-2"))
	if err := rdb.ConfigSet(ctx, "maxmemory-policy", "noeviction").Err(); err != nil {
		t.Fatal(err)
	}
	if err := rdb.ConfigSet(ctx, "maxmemory", "1").Err(); err != nil {
		t.Fatal(err)
	}
	a := post(t, in.base+"/api/v1/realtime/alerts", pub, mustJSON(t, alert("oom")))
	msg := fmt.Sprint(a.body["message"])
	if a.code != 503 || a.hdr.Get("Retry-After") == "" || !strings.Contains(msg, "OOM") || strings.Contains(msg, "down") {
		t.Errorf("publish under OOM: %d %v (Retry-After %q)", a.code, a.body, a.hdr.Get("Retry-After"))
	}
	a = post(t, in.base+"/api/v1/realtime/alerts", pub, mustJSON(t, alert("oom")), "Idempotency-Key", "oom-1")
	if a.code != 503 {
		t.Errorf("idempotent publish under OOM: %d %v", a.code, a.body)
	}
	// Reading still works: a resume replays what is stored.
	c := connect(t, in.base+"/api/v1/realtime/alerts", token(t, "acme", readPerm), "Last-Event-ID", first)
	c.skipPreamble(t)
	if ev := c.next(t, 2*time.Second); ev.ID != second {
		t.Errorf("replay under OOM: %+v", ev)
	}
	if _, err := in.hub.ONUs(ctx, "acme"); err != nil {
		t.Errorf("ONUs under OOM: %v", err)
	}
	if err := rdb.ConfigSet(ctx, "maxmemory", "0").Err(); err != nil {
		t.Fatal(err)
	}
	if n := rdb.XLen(ctx, streamKey("acme")).Val(); n != 2 {
		t.Errorf("stored %d events, want the 2 published before OOM", n)
	}
	if n := rdb.Exists(ctx, "redifx:realtime:{acme}:idem:5:oom-1").Val(); n != 0 {
		t.Error("the refused publish left its idempotency record")
	}
	mustPublish(t, in.base, pub, "alerts", alert("after")) // and it recovers

	// A logic error: the tenant's stream key holds a string.
	rdb.Set(ctx, streamKey("broken"), "not a stream", 0)
	a = post(t, in.base+"/api/v1/realtime/alerts", token(t, "broken", pubPerm), mustJSON(t, alert("x")))
	if a.code != 500 || a.body["error"] != "internal_error" || !strings.Contains(fmt.Sprint(a.body["message"]), "request ID") {
		t.Errorf("publish onto a corrupt key: %d %v", a.code, a.body)
	}
	keys, _ := rdb.Keys(ctx, "redifx:realtime:{broken}*").Result()
	if len(keys) != 1 {
		t.Errorf("the failed publish wrote %v", keys)
	}
	_, resp := tryConnect(t, in.base+"/api/v1/realtime/alerts", token(t, "broken", readPerm), "Last-Event-ID", first)
	resp.Body.Close()
	if resp.StatusCode != 500 {
		t.Errorf("resume on a corrupt key: %d", resp.StatusCode)
	}
}

// Sibling of the future Last-Event-ID: this process saw an id that Redis then
// lost (announced just before a failover or restart). Streams opened later
// without Last-Event-ID must still get the live events with smaller ids.
func TestStreamsOpenedAfterALostFutureIDGetLiveEvents(t *testing.T) {
	srv := startRedis(t)
	in := startInstance(t, srv.URL())
	rdb := srv.Client(t)
	// The announcement of an event the old master stored, then lost.
	lost := `{"t":"acme","id":"99999999999999-0","c":"alerts","e":"alert.raised","d":{"alert_id":"lost"}}`
	witness := connect(t, in.base+"/api/v1/realtime/alerts", token(t, "acme", readPerm))
	witness.skipPreamble(t)
	if err := rdb.Publish(t.Context(), "redifx:realtime:events", lost).Err(); err != nil {
		t.Fatal(err)
	}
	if ev := witness.next(t, 2*time.Second); ev.ID != "99999999999999-0" {
		t.Fatalf("the lost event was not dispatched: %+v", ev)
	}
	c := connect(t, in.base+"/api/v1/realtime/alerts", token(t, "acme", readPerm))
	c.skipPreamble(t)
	live := mustPublish(t, in.base, token(t, "acme", pubPerm), "alerts", alert("after-failover"))
	if ev := c.next(t, 3*time.Second); ev.ID != live {
		t.Fatalf("a stream opened after the lost id missed a live event: %+v", ev)
	}
}

// The views' Go APIs no longer call every error "unavailable": a key holding
// the wrong kind of value is the command's own error, and only Redis
// conditions wrap redis.ErrUnavailable.
func TestViewErrorsAreClassified(t *testing.T) {
	srv := startRedis(t)
	in := startInstance(t, srv.URL())
	rdb := srv.Client(t)
	ctx := t.Context()
	rdb.Set(ctx, "redifx:realtime:{broken}:onus", "x", 0)
	rdb.Set(ctx, "redifx:realtime:{broken}:clients", "x", 0)
	if _, err := in.hub.ONUs(ctx, "broken"); err == nil || errors.Is(err, redis.ErrUnavailable) {
		t.Errorf("ONUs on a corrupt key: %v (want a non-unavailable error)", err)
	}
	if _, err := in.hub.ConnectedClients(ctx, "broken"); err == nil || errors.Is(err, redis.ErrUnavailable) {
		t.Errorf("ConnectedClients on a corrupt key: %v", err)
	}
	srv.Kill()
	deadline := time.Now().Add(5 * time.Second)
	for in.mgr.Available() && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if _, err := in.hub.ONUs(ctx, "acme"); !errors.Is(err, redis.ErrUnavailable) {
		t.Errorf("ONUs with Redis gone: %v (want unavailable)", err)
	}
	_, err := in.pub.Publish(ctx, "acme", "alerts", alert("gone"))
	if !errors.Is(err, redis.ErrUnavailable) || !strings.Contains(redis.Describe(err), "unreachable") {
		t.Errorf("Publish with Redis gone: %v", err)
	}
}
