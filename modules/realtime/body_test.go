package realtime_test

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"
)

// A publish body follows the same rules as every other JSON body of the
// service (httpserver.BindJSON): one object, nothing after it, no key twice, a
// JSON Content-Type; and nothing is stored for a refused body.
func TestPublishBodyFollowsTheServiceRules(t *testing.T) {
	srv := startRedis(t)
	in := startInstance(t, srv.URL())
	tok := token(t, "acme", pubPerm)
	send := func(ct, body string) (int, map[string]any) {
		req, _ := http.NewRequest(http.MethodPost, in.base+"/api/v1/realtime/alerts", strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+tok)
		if ct != "" {
			req.Header.Set("Content-Type", ct)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		raw, _ := io.ReadAll(resp.Body)
		var out map[string]any
		_ = json.Unmarshal(raw, &out)
		return resp.StatusCode, out
	}
	ok := `{"event_type":"alert.raised","alert_id":"a","severity":"critical","message":"m"}`
	cases := []struct {
		name, ct, body string
		code           int
		errCode        string
	}{
		{"duplicate key", "application/json", `{"event_type":"alert.raised","alert_id":"a","alert_id":"b","severity":"critical","message":"m"}`, 400, "invalid_body"},
		{"trailing content", "application/json", ok + ` xx`, 400, "invalid_body"},
		{"two objects", "application/json", ok + ok, 400, "invalid_body"},
		{"array", "application/json", `[` + ok + `]`, 400, "invalid_body"},
		{"null", "application/json", `null`, 400, "invalid_body"},
		{"empty", "application/json", ``, 400, "invalid_body"},
		{"deep nesting", "application/json", `{"event_type":"alert.raised","x":` + strings.Repeat(`[`, 200) + strings.Repeat(`]`, 200) + `}`, 400, "invalid_body"},
		{"form content type", "application/x-www-form-urlencoded", ok, 415, "unsupported_media_type"},
	}
	for _, tc := range cases {
		code, out := send(tc.ct, tc.body)
		if code != tc.code || out["error"] != tc.errCode {
			t.Errorf("%s: %d %v, want %d %s", tc.name, code, out, tc.code, tc.errCode)
		}
	}
	// Nothing was stored: the first accepted event is the only one in the history.
	if code, out := send("", ok); code != 202 {
		t.Fatalf("no Content-Type is taken as JSON: %d %v", code, out)
	}
	c := connect(t, in.base+"/api/v1/realtime/alerts", token(t, "acme", readPerm), "Last-Event-ID", "1-0")
	c.skipPreamble(t)
	ev := c.next(t, 5*time.Second)
	if ev.Event == "reset" { // 1-0 is older than the history: it is replayed whole
		ev = c.next(t, 5*time.Second)
	}
	if ev.Event != "alert.raised" {
		t.Fatalf("first stored event: %+v", ev)
	}
	c.expectNone(t, 200*time.Millisecond)
}
