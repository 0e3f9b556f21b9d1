package realtime_test

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/redifx/redifx/modules/realtime"
	"github.com/redifx/redifx/modules/redis"
)

// checkError asserts that a 4xx answer is a JSON error with a code and a
// message, and that a 400 names the field.
func checkError(t *testing.T, a answer) {
	t.Helper()
	if a.body == nil || a.body["error"] == nil || a.body["message"] == nil {
		t.Fatalf("%d without a JSON error: %q", a.code, a.raw)
	}
	if a.code == 400 {
		if f, _ := a.body["field"].(string); f == "" {
			t.Fatalf("400 without a field: %q", a.raw)
		}
	}
}

// The JSON body (and Idempotency-Key) of POST /api/v1/realtime/{channel},
// over real HTTP against a real Redis: never a 5xx or a panic, every 4xx a
// JSON error (400s naming the field), and the stored history grows by exactly
// one event per 202 that was not a replay.
func FuzzPublishBody(f *testing.F) {
	srv := startRedis(f)
	in := startInstance(f, srv.URL(), func(c *realtime.Config, _ *redis.Config) {
		c.HistorySize = 1 << 20
		c.HistoryMaxBytes = 1 << 30
	})
	rdb := srv.Client(f)
	pub := token(f, "fuzz", "realtime.publish")
	for _, s := range []struct {
		ch   uint8
		body string
		key  string
	}{
		{1, `{"event_type":"alert.raised","alert_id":"a","severity":"critical","message":"m"}`, ""},
		{1, `{"event_type":"alert.raised","alert_id":"a","severity":"critical","message":"m"}`, "k1"},
		{0, `{"event_type":"onu.online","onu_serial":"s","status":"online","signal_dbm":-20.5,"pon_port":3}`, ""},
		{4, `{"event_type":"session.started","session_id":"s","username":"u","bytes_in":9007199254740993}`, ""},
		{5, `{"event_type":"job.completed","job_id":"j"}`, ""},
		{1, `{"event_type":"alert.raised"} trailing`, ""},
		{1, `[]`, ""},
		{1, `null`, ""},
		{1, `{"event_type":"alert.raised","alert_id":"a","severity":"critical","message":"m","timestamp":"9999-12-31T23:59:59Z","tenant_id":"fuzz"}`, ""},
		{1, `{"event_type":"alert.raised","alert_id":"a","severity":"critical","message":"m","tenant_id":"other"}`, ""},
		{0, `{"event_type":"onu.online","onu_serial":"s","status":"online","signal_dbm":1e309}`, ""},
		{2, `{"event_type":"ticket.created","ticket_id":"\u0000:{x}"}`, strings.Repeat("k", 255)},
		// Numbers kept as written, integers beyond 2^53-1, blank ids, and
		// members spelled like a field in another case.
		{1, `{"event_type":"alert.raised","alert_id":"a","severity":"info","message":"m","ref":12345678901234567890,"x":{"y":[1e308,-0]}}`, ""},
		{4, `{"event_type":"session.started","session_id":"s","username":"u","bytes_out":-9007199254740992}`, ""},
		{2, `{"event_type":"ticket.created","ticket_id":"  "}`, ""},
		{0, `{"event_type":"onu.online","onu_serial":"s","status":"online","ſtatus":"offline"}`, ""},
		{1, `{"event_type":"alert.raised","alert_id":"a","severity":"info","message":"m","Tenant_ID":"other"}`, "k2"},
	} {
		f.Add(s.ch, []byte(s.body), s.key)
	}
	f.Fuzz(func(t *testing.T, ch uint8, body []byte, key string) {
		channel := realtime.Channels[int(ch)%len(realtime.Channels)]
		before := rdb.XLen(context.Background(), streamKey("fuzz")).Val()
		var hdr []string
		if key != "" {
			if strings.ContainsAny(key, "\r\n\x00") {
				t.Skip("not a header value a client can send")
			}
			hdr = []string{"Idempotency-Key", key}
		}
		a := postOrSkip(t, in.base+"/api/v1/realtime/"+channel, pub, body, hdr...)
		if a.code >= 500 {
			t.Fatalf("%d: %s", a.code, a.raw)
		}
		want := before
		switch {
		case a.code == 202:
			if a.hdr.Get("Idempotent-Replayed") == "" {
				want++
			}
		case a.code >= 400:
			checkError(t, a)
		default:
			t.Fatalf("unexpected %d: %s", a.code, a.raw)
		}
		if after := rdb.XLen(context.Background(), streamKey("fuzz")).Val(); after != want {
			t.Fatalf("history %d → %d after %d %s", before, after, a.code, a.raw)
		}
	})
}

// postOrSkip is post that skips inputs the HTTP client refuses to send.
func postOrSkip(t *testing.T, url, tok string, body []byte, hdr ...string) answer {
	t.Helper()
	for i := 1; i < len(hdr); i += 2 {
		if !validHeaderValue(hdr[i]) {
			t.Skip("not a header value a client can send")
		}
	}
	return post(t, url, tok, body, hdr...)
}

func validHeaderValue(v string) bool {
	for i := 0; i < len(v); i++ {
		if c := v[i]; c < ' ' && c != '\t' || c == 0x7f {
			return false
		}
	}
	return true
}

// The Last-Event-ID header of GET /api/v1/realtime/{channel}, over real HTTP
// against a real Redis: a malformed id is a 400 JSON error naming the header,
// never a 5xx; any accepted id opens a stream that delivers the next event
// published (whatever it had to replay or reset first).
func FuzzLastEventID(f *testing.F) {
	srv := startRedis(f)
	in := startInstance(f, srv.URL(), func(c *realtime.Config, _ *redis.Config) { c.HistorySize = 20 })
	rd := token(f, "fuzz", "realtime.read")
	ctx := context.Background()
	for _, s := range []string{"", "0-0", "0", "1-1", "1700000000000-0", "99999999999999-0",
		"18446744073709551615-18446744073709551615", "18446744073709551616-0", "-", "1-", "-1",
		" 5-5 ", "abc", "1-2-3", "0x10-0", "+1-1", "1.0-0", strings.Repeat("9", 400) + "-0"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, id string) {
		if !validHeaderValue(id) {
			t.Skip("not a header value a client can send")
		}
		req, err := http.NewRequest(http.MethodGet, in.base+"/api/v1/realtime/alerts", nil)
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Authorization", "Bearer "+rd)
		req.Header.Set("Last-Event-ID", id)
		rctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		resp, err := http.DefaultClient.Do(req.WithContext(rctx))
		if err != nil {
			t.Fatal(err)
		}
		if resp.StatusCode != 200 {
			var a answer
			a.code = resp.StatusCode
			_ = json.NewDecoder(resp.Body).Decode(&a.body)
			resp.Body.Close()
			if a.code != 400 || a.body["field"] != "Last-Event-ID" {
				t.Fatalf("Last-Event-ID %q: %d %v", id, a.code, a.body)
			}
			checkError(t, a)
			return
		}
		c := &sseClient{resp: resp, events: make(chan sseEvent, 4096), done: make(chan struct{}), cancel: cancel}
		go c.read()
		defer c.close()
		c.skipPreamble(t)
		live, err := in.pub.Publish(ctx, "fuzz", "alerts", map[string]any{"event_type": "alert.raised", "alert_id": "f", "severity": "info", "message": "m"})
		if err != nil {
			t.Fatal(err)
		}
		for {
			if ev := c.next(t, 5*time.Second); ev.ID == live {
				return
			}
		}
	})
}
