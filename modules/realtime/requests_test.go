package realtime_test

import (
	"errors"
	"fmt"
	"math"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/redifx/redifx/modules/realtime"
	"github.com/redifx/redifx/modules/redis"
)

// validEvent returns a valid event of channel's first type, with every
// required field set.
func validEvent(channel string) map[string]any {
	base := map[string]map[string]any{
		realtime.ChannelONUStatus:      {"event_type": "onu.online", "onu_serial": "s", "status": "online"},
		realtime.ChannelAlerts:         {"event_type": "alert.raised", "alert_id": "a", "severity": "info", "message": "m"},
		realtime.ChannelTickets:        {"event_type": "ticket.created", "ticket_id": "t"},
		realtime.ChannelSubscribers:    {"event_type": "subscriber.created", "subscriber_id": "s"},
		realtime.ChannelRadiusSessions: {"event_type": "session.started", "session_id": "s", "username": "u"},
		realtime.ChannelJobs:           {"event_type": "job.created", "job_id": "j"},
	}[channel]
	out := map[string]any{}
	for k, v := range base {
		out[k] = v
	}
	return out
}

// hostile are the values every field is tried with.
var hostile = []any{nil, "", " ", "x:{y}", strings.Repeat("z", 70<<10), "\u0000\n", 0, -1, 1.5, math.MaxInt64, -math.MaxFloat64,
	math.MaxFloat64, 1e-300, true, []any{1, "a"}, map[string]any{"a": 1}, "2026-13-45T99:99:99Z", "9999-12-31T23:59:59Z"}

// Every field of every channel's schema (and event_type, tenant_id,
// timestamp, source, an unknown field), with hostile values, over HTTP and
// through the Go API: the answer is 202, or a 4xx JSON error (a 400 naming
// the field), never a 5xx; and the history holds exactly the accepted events.
func TestEveryPublishFieldNever5xx(t *testing.T) {
	srv := startRedis(t)
	in := startInstance(t, srv.URL(), func(c *realtime.Config, _ *redis.Config) { c.HistorySize = 10000 })
	pub := token(t, "acme", pubPerm)
	rdb := srv.Client(t)
	accepted := int64(0)
	for _, ch := range realtime.Channels {
		fields := append([]string{"event_type", "tenant_id", "timestamp", "source", "unknown_field"}, realtime.Fields(ch)...)
		for _, f := range fields {
			for _, v := range hostile {
				ev := validEvent(ch)
				ev[f] = v
				a := post(t, in.base+"/api/v1/realtime/"+ch, pub, mustJSON(t, ev))
				switch {
				case a.code == 202:
					accepted++
				case a.code >= 500 || a.code < 400:
					t.Fatalf("%s.%s = %.40v: %d %s", ch, f, v, a.code, a.raw)
				default:
					if a.body["error"] == nil || a.body["message"] == nil {
						t.Fatalf("%s.%s = %.40v: %d without a JSON error: %s", ch, f, v, a.code, a.raw)
					}
					if a.code == 400 && a.body["field"] != f {
						t.Errorf("%s.%s = %.40v: 400 naming %v", ch, f, v, a.body["field"])
					}
				}
				// The Go API: nil or an error naming the field (or the size).
				_, err := in.pub.Publish(t.Context(), "acme", ch, validEventWith(ch, f, v))
				var ve *realtime.ValidationError
				var tl *realtime.TooLargeError
				switch {
				case err == nil:
					accepted++
				case errors.As(err, &ve) && ve.Field == f, errors.As(err, &tl), errors.Is(err, realtime.ErrWrongTenant) && f == "tenant_id":
				default:
					t.Errorf("Go API %s.%s = %.40v: %v", ch, f, v, err)
				}
			}
		}
	}
	if n := rdb.XLen(t.Context(), streamKey("acme")).Val(); n != accepted {
		t.Errorf("history holds %d events, %d were accepted", n, accepted)
	}
}

func validEventWith(ch, f string, v any) map[string]any {
	ev := validEvent(ch)
	ev[f] = v
	return ev
}

// The headers, path and query of both routes: never a 5xx.
func TestEveryRealtimeHeaderAndParameterNever5xx(t *testing.T) {
	srv := startRedis(t)
	in := startInstance(t, srv.URL())
	pub := token(t, "acme", pubPerm)
	rd := token(t, "acme", readPerm)
	body := mustJSON(t, validEvent(realtime.ChannelAlerts))
	type req struct {
		method, path, tok string
		hdr               []string
	}
	var cases []req
	for _, key := range []string{"", " ", "k", strings.Repeat("k", 255), strings.Repeat("k", 256), "a:b{c}", "é", "\t"} {
		cases = append(cases, req{"POST", "/api/v1/realtime/alerts", pub, []string{"Idempotency-Key", key}})
	}
	for _, ct := range []string{"", "text/plain", "application/json; charset=latin1", "multipart/form-data"} {
		cases = append(cases, req{"POST", "/api/v1/realtime/alerts", pub, []string{"Content-Type", ct}})
	}
	for _, authz := range []string{"", "Bearer", "Bearer ", "Basic abc", "Bearer " + strings.Repeat("a", 9000), "bearer " + pub} {
		cases = append(cases, req{"POST", "/api/v1/realtime/alerts", "", []string{"Authorization", authz}})
		cases = append(cases, req{"GET", "/api/v1/realtime/alerts", "", []string{"Authorization", authz}})
	}
	for _, origin := range []string{"", "null", "https://evil.example", strings.Repeat("o", 5000)} {
		cases = append(cases, req{"OPTIONS", "/api/v1/realtime/alerts", "", []string{"Origin", origin}})
		cases = append(cases, req{"GET", "/api/v1/realtime/alerts", rd, []string{"Origin", origin}})
	}
	for _, rid := range []string{"", "x", strings.Repeat("r", 500), "a b"} {
		cases = append(cases, req{"POST", "/api/v1/realtime/alerts", pub, []string{"X-Request-ID", rid}})
	}
	for _, p := range []string{"/api/v1/realtime/", "/api/v1/realtime/%00", "/api/v1/realtime/..", "/api/v1/realtime/" + strings.Repeat("c", 3000),
		"/api/v1/realtime/alerts?access_token=" + pub, "/api/v1/realtime/alerts?access_token=garbage", "/api/v1/realtime/events/extra"} {
		cases = append(cases, req{"GET", p, rd, nil}, req{"POST", p, pub, nil})
	}
	cases = append(cases, req{"POST", "/api/v1/realtime/events", pub, nil}, req{"PUT", "/api/v1/realtime/alerts", pub, nil},
		req{"DELETE", "/api/v1/realtime/alerts", pub, nil})
	for _, tc := range cases {
		name := fmt.Sprintf("%s %.60s %.60q", tc.method, tc.path, tc.hdr)
		var b *strings.Reader
		if tc.method == "POST" || tc.method == "PUT" {
			b = strings.NewReader(string(body))
		} else {
			b = strings.NewReader("")
		}
		r, err := http.NewRequestWithContext(t.Context(), tc.method, in.base+tc.path, b)
		if err != nil {
			continue // not a request a client can send
		}
		if tc.tok != "" {
			r.Header.Set("Authorization", "Bearer "+tc.tok)
		}
		r.Header.Set("Content-Type", "application/json")
		for i := 0; i+1 < len(tc.hdr); i += 2 {
			r.Header.Set(tc.hdr[i], tc.hdr[i+1])
		}
		resp, err := (&http.Client{Timeout: 5 * time.Second}).Do(r)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		resp.Body.Close() // a 200 stream is closed at once
		if resp.StatusCode >= 500 {
			t.Errorf("%s: %d", name, resp.StatusCode)
		}
	}
}
