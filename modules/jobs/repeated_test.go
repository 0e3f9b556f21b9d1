package jobs_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/redifx/redifx/modules/redis/redistest"
)

// A query parameter or header given twice was read as its first value
// (?status=pending&status=bogus listed pending jobs): one value, two
// meanings. Each is refused with 400 naming it, like a JSON key given twice.
func TestRepeatedQueryParametersAndHeadersAreRefused(t *testing.T) {
	srv := redistest.Start(t)
	in := startValid(t, srv.URL(), false)
	tok := token(t, "acme", allPerms...)
	for _, q := range []string{
		"page=1&page=2", "page_size=10&page_size=10", "status=pending&status=bogus", "job_type=noop&job_type=sleep",
		"page=1&page=", "status=&status=pending",
	} {
		field := q[:strings.Index(q, "=")]
		code, out := call(t, "GET", in.base+"/api/v1/jobs?"+q, tok, nil)
		want400(t, q, code, out, field)
	}
	before := jobCount(t, in.base, tok)
	req, err := http.NewRequest("POST", in.base+"/api/v1/jobs", strings.NewReader(`{"job_type":"noop","title":"t"}`))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+tok)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Add("Idempotency-Key", "k1")
	req.Header.Add("Idempotency-Key", "k2")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&out)
	want400(t, "two Idempotency-Key headers", resp.StatusCode, out, "Idempotency-Key")
	if n := jobCount(t, in.base, tok); n != before {
		t.Errorf("a refused create made a job: %v -> %v", before, n)
	}
}

// A run_at that is not a time was refused without naming the field.
func TestMalformedTimesNameTheirField(t *testing.T) {
	srv := redistest.Start(t)
	in := startValid(t, srv.URL(), false)
	tok := token(t, "acme", allPerms...)
	for _, v := range []string{`"2026-13-01T00:00:00Z"`, `"tomorrow"`, `""`, `1700000000`, `true`, `{}`, `"2026-01-01"`, `"10000-01-01T00:00:00Z"`} {
		code, out := call(t, "POST", in.base+"/api/v1/jobs", tok, `{"job_type":"noop","title":"t","run_at":`+v+`}`)
		want400(t, "run_at "+v, code, out, "run_at")
		code, out = call(t, "POST", in.base+"/api/v1/jobs", tok, `{"job_type":"noop","title":"t","Run_At":`+v+`}`)
		want400(t, "Run_At "+v, code, out, "run_at")
	}
	if n := jobCount(t, in.base, tok); n != 0 {
		t.Errorf("refused creates made %v jobs", n)
	}
	if code, out := call(t, "POST", in.base+"/api/v1/jobs", tok, `{"job_type":"noop","title":"t","run_at":null}`); code != 201 {
		t.Errorf("run_at null: %d %v", code, out)
	}
}
