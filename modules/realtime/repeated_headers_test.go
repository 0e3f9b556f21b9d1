package realtime_test

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"testing"

	"github.com/redifx/redifx/modules/realtime"
)

// sendRepeated sends method to url with each header name given once per value.
func sendRepeated(t *testing.T, method, url, tok string, body []byte, name string, values ...string) answer {
	t.Helper()
	req, err := http.NewRequest(method, url, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+tok)
	req.Header.Set("Content-Type", "application/json")
	for _, v := range values {
		req.Header.Add(name, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	a := answer{code: resp.StatusCode, hdr: resp.Header}
	if resp.Header.Get("Content-Type") != "text/event-stream" {
		a.raw, _ = io.ReadAll(resp.Body)
		_ = json.Unmarshal(a.raw, &a.body)
	}
	return a
}

// Idempotency-Key and Last-Event-ID given twice with different values are
// 400 naming the header, and nothing is stored; before, the first value
// silently counted, so a retry whose proxy added the key again under another
// value stored the event twice. The same value repeated is that value.
func TestRepeatedHeadersWithDifferentValuesAre400(t *testing.T) {
	srv := startRedis(t)
	in := startInstance(t, srv.URL())
	pub := token(t, "acme", pubPerm)
	rd := token(t, "acme", readPerm)
	rdb := srv.Client(t)
	url := in.base + "/api/v1/realtime/alerts"
	body := mustJSON(t, validEvent(realtime.ChannelAlerts))

	for _, keys := range [][]string{{"a", "b"}, {"a", ""}, {"", "a"}, {"k", "k", "other"}} {
		a := sendRepeated(t, "POST", url, pub, body, "Idempotency-Key", keys...)
		if a.code != 400 || a.body["field"] != "Idempotency-Key" || a.body["error"] == nil {
			t.Errorf("Idempotency-Key %q: %d %s", keys, a.code, a.raw)
		}
	}
	if n := rdb.XLen(t.Context(), streamKey("acme")).Val(); n != 0 {
		t.Fatalf("refused publishes stored %d events", n)
	}
	first := sendRepeated(t, "POST", url, pub, body, "Idempotency-Key", "same", " same ")
	again := sendRepeated(t, "POST", url, pub, body, "Idempotency-Key", "same")
	if first.code != 202 || again.code != 202 || first.body["id"] != again.body["id"] || again.hdr.Get("Idempotent-Replayed") != "true" {
		t.Errorf("one key repeated: %d %s, then %d %s", first.code, first.raw, again.code, again.raw)
	}

	for _, ids := range [][]string{{"1-0", "2-0"}, {"1-0", "garbage"}, {"", "1-0"}} {
		a := sendRepeated(t, "GET", url, rd, nil, "Last-Event-ID", ids...)
		if a.code != 400 || a.body["field"] != "Last-Event-ID" {
			t.Errorf("Last-Event-ID %q: %d %s", ids, a.code, a.raw)
		}
	}
	c := connect(t, url, rd, "Last-Event-ID", "1-0")
	c.skipPreamble(t)
	if a := sendRepeated(t, "GET", url, rd, nil, "Last-Event-ID", "1-0", "1-0"); a.code != 200 {
		t.Errorf("one Last-Event-ID repeated: %d %s", a.code, a.raw)
	}
}
