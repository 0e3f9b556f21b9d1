package realtime_test

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/redifx/redifx/modules/realtime"
)

// The numbers and strings of a published event: what is accepted is stored
// exactly as sent, and what cannot be is refused with 400 naming the field.
//
// Before, every number went through float64: an integer field took
// 99999999999999999999999 and stored 1e+23, 9007199254740993 became
// 9007199254740992, an id of an unknown member was rounded the same way,
// 1e400 was refused naming "body" instead of its field, and a required id of
// only spaces was stored.
func TestPublishedNumbersAreExactAndBlankIDsRefused(t *testing.T) {
	srv := startRedis(t)
	in := startInstance(t, srv.URL())
	pub := token(t, "acme", pubPerm)
	rdb := srv.Client(t)
	url := func(ch string) string { return in.base + "/api/v1/realtime/" + ch }

	refused := []struct{ channel, body, field string }{
		// Integer fields beyond 2^53-1 (rounded by every JavaScript reader).
		{"radius-sessions", `{"event_type":"session.started","session_id":"s","username":"u","bytes_in":99999999999999999999999}`, "bytes_in"},
		{"radius-sessions", `{"event_type":"session.started","session_id":"s","username":"u","bytes_out":9007199254740992}`, "bytes_out"},
		{"onu-status", `{"event_type":"onu.online","onu_serial":"s","status":"online","pon_port":1e300}`, "pon_port"},
		// Numbers no float64 holds, in a schema field, an unknown member, nested.
		{"onu-status", `{"event_type":"onu.online","onu_serial":"s","status":"online","signal_dbm":1e400}`, "signal_dbm"},
		{"alerts", `{"event_type":"alert.raised","alert_id":"a","severity":"info","message":"m","extra":-1e999}`, "extra"},
		{"tickets", `{"event_type":"ticket.created","ticket_id":"t","meta":{"n":[1,2e308]}}`, "meta.n[1]"},
		// Required ids of only white space.
		{"alerts", `{"event_type":"alert.raised","alert_id":"   ","severity":"info","message":"m"}`, "alert_id"},
		{"alerts", `{"event_type":"alert.raised","alert_id":"a","severity":"info","message":"\t\n "}`, "message"},
		{"onu-status", `{"event_type":"onu.online","onu_serial":" ","status":"online"}`, "onu_serial"},
		{"tickets", `{"event_type":"ticket.created","ticket_id":"\u00a0"}`, "ticket_id"},
		{"subscribers", `{"event_type":"subscriber.created","subscriber_id":"  "}`, "subscriber_id"},
		{"radius-sessions", `{"event_type":"session.started","session_id":"s","username":" "}`, "username"},
	}
	for _, tc := range refused {
		a := post(t, url(tc.channel), pub, []byte(tc.body))
		if a.code != 400 || a.body["field"] != tc.field || a.body["error"] == nil {
			t.Errorf("%s %s: %d %s, want 400 naming %s", tc.channel, tc.body, a.code, a.raw, tc.field)
		}
	}
	if n := rdb.XLen(t.Context(), streamKey("acme")).Val(); n != 0 {
		t.Fatalf("refused events were stored: %d", n)
	}

	// Accepted: the stored data holds each number as the caller wrote it.
	accepted := []struct {
		channel, body string
		exact         []string // substrings the stored data must hold
	}{
		{"radius-sessions", `{"event_type":"session.started","session_id":"s","username":"u","bytes_in":9007199254740991,"bytes_out":0}`,
			[]string{`"bytes_in":9007199254740991`, `"bytes_out":0`}},
		{"alerts", `{"event_type":"alert.raised","alert_id":"a","severity":"info","message":"m","ref":12345678901234567890,"ratio":0.1000000000000000055511151231257827}`,
			[]string{`"ref":12345678901234567890`, `"ratio":0.1000000000000000055511151231257827`}},
		{"onu-status", `{"event_type":"onu.online","onu_serial":"s","status":"online","signal_dbm":-2.5e1,"pon_port":1E2}`,
			[]string{`"signal_dbm":-2.5e1`, `"pon_port":1E2`}},
		{"tickets", `{"event_type":"ticket.created","ticket_id":" t "}`, []string{`"ticket_id":" t "`}},
	}
	for _, tc := range accepted {
		a := post(t, url(tc.channel), pub, []byte(tc.body))
		if a.code != 202 {
			t.Fatalf("%s %s: %d %s", tc.channel, tc.body, a.code, a.raw)
		}
		msgs := rdb.XRange(t.Context(), streamKey("acme"), a.body["id"].(string), a.body["id"].(string)).Val()
		if len(msgs) != 1 {
			t.Fatalf("%s: event %v not stored", tc.channel, a.body["id"])
		}
		data := msgs[0].Values["d"].(string)
		if !json.Valid([]byte(data)) {
			t.Errorf("%s: stored data is not JSON: %s", tc.channel, data)
		}
		for _, want := range tc.exact {
			if !strings.Contains(data, want) {
				t.Errorf("%s: stored %s, want it to hold %s", tc.channel, data, want)
			}
		}
	}

	// The Go API refuses the same integers and blank ids, naming the field.
	for field, ev := range map[string]map[string]any{
		"bytes_in": {"event_type": "session.started", "session_id": "s", "username": "u", "bytes_in": uint64(1) << 60},
		"alert_id": {"event_type": "alert.raised", "alert_id": " ", "severity": "info", "message": "m"},
	} {
		ch := realtime.ChannelRadiusSessions
		if field == "alert_id" {
			ch = realtime.ChannelAlerts
		}
		_, err := in.pub.Publish(t.Context(), "acme", ch, ev)
		var ve *realtime.ValidationError
		if err == nil || !errors.As(err, &ve) || ve.Field != field {
			t.Errorf("Go API %s: %v", field, err)
		}
	}
	if n := rdb.XLen(t.Context(), streamKey("acme")).Val(); n != int64(len(accepted)) {
		t.Errorf("history holds %d events, %d were accepted", n, len(accepted))
	}
}
