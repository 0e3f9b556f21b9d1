package httpserver_test

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
)

// Bodies whose bytes would be read as something else than what the client
// sent: invalid UTF-8 (encoding/json silently replaced it with U+FFFD), a
// charset other than UTF-8, and a Content-Encoding (a gzip body was parsed
// as if it were plain, and a plain body sent with "gzip" was accepted).
func TestBodiesInAnotherEncodingAreRefused(t *testing.T) {
	f := start(t, testConfig(), typedEchoRoutes())
	var gz bytes.Buffer
	w := gzip.NewWriter(&gz)
	_, _ = w.Write([]byte(`{"title":"a"}`))
	_ = w.Close()
	for _, tc := range []struct {
		name, contentType, encoding, body string
		status                            int
		code                              string
	}{
		{"invalid UTF-8 in a string", "application/json", "", "{\"title\":\"\xff\"}", 400, "invalid_body"},
		{"invalid UTF-8 in a key", "application/json", "", "{\"ti\xc3tle\":\"a\"}", 400, "invalid_body"},
		{"latin-1 charset", "application/json; charset=latin1", "", `{"title":"a"}`, 415, "unsupported_media_type"},
		{"utf-16 charset", "application/json; charset=UTF-16", "", `{"title":"a"}`, 415, "unsupported_media_type"},
		{"gzip body", "application/json", "gzip", gz.String(), 415, "unsupported_media_type"},
		{"plain body said to be gzip", "application/json", "gzip", `{"title":"a"}`, 415, "unsupported_media_type"},
		{"two encodings", "application/json", "identity, br", `{"title":"a"}`, 415, "unsupported_media_type"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req, _ := http.NewRequest(http.MethodPost, f.base+"/typed", strings.NewReader(tc.body))
			req.Header.Set("Content-Type", tc.contentType)
			if tc.encoding != "" {
				req.Header.Set("Content-Encoding", tc.encoding)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			var body map[string]any
			_ = json.NewDecoder(resp.Body).Decode(&body)
			if resp.StatusCode != tc.status || body["error"] != tc.code || body["message"] == "" {
				t.Errorf("%d %v, want %d %s", resp.StatusCode, body, tc.status, tc.code)
			}
		})
	}
	for _, tc := range []struct{ name, contentType, encoding string }{
		{"utf-8 charset", "application/json; charset=UTF-8", ""},
		{"utf8 charset", "application/json;charset=utf8", ""},
		{"identity encoding", "application/json", "identity"},
	} {
		req, _ := http.NewRequest(http.MethodPost, f.base+"/typed", strings.NewReader(`{"title":"é"}`))
		req.Header.Set("Content-Type", tc.contentType)
		if tc.encoding != "" {
			req.Header.Set("Content-Encoding", tc.encoding)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		var body map[string]any
		_ = json.NewDecoder(resp.Body).Decode(&body)
		resp.Body.Close()
		if resp.StatusCode != 200 || body["title"] != "é" {
			t.Errorf("%s: %d %v", tc.name, resp.StatusCode, body)
		}
	}
}
