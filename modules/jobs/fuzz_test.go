package jobs_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"reflect"
	"sync/atomic"
	"testing"

	"github.com/redifx/redifx/modules/jobs"
	"github.com/redifx/redifx/modules/redis/redistest"
)

// The fuzz tests send their input as the JSON body of a request over real
// HTTP to an instance on a real redis-server, each input for a tenant of its
// own, and check that the answer is 2xx, or 4xx with a JSON error that names
// the field of a validation error — never 5xx — and that the tenant's stored
// state is exactly what the answer implies. `go test` runs the seeds (f.Add
// and testdata/fuzz/<FuzzName>/); `go test -fuzz FuzzCreateJob` explores.

// fuzzTenants numbers the tenants of one fuzzing process.
var fuzzTenants atomic.Int64

func fuzzTenant(t *testing.T) string {
	t.Helper()
	return token(t, fmt.Sprintf("fuzz-%d", fuzzTenants.Add(1)), allPerms...)
}

// checkFuzzAnswer fails on a 5xx, or a 4xx without a JSON error (and field, for
// a validation error).
func checkFuzzAnswer(t *testing.T, what, body string, code int, out map[string]any) {
	t.Helper()
	switch {
	case code >= 500 || code < 200 || (code >= 300 && code < 400):
		t.Fatalf("%s %q: %d %v", what, body, code, out)
	case code >= 400:
		if e, _ := out["error"].(string); e == "" {
			t.Fatalf("%s %q: %d without a JSON error: %v", what, body, code, out)
		}
		if out["error"] == "validation_error" {
			if f, _ := out["field"].(string); f == "" {
				t.Fatalf("%s %q: validation error naming no field: %v", what, body, out)
			}
		}
	}
}

// decodeAsServer decodes body as the server does (the first JSON value of
// the body; keys match case-insensitively, the last of duplicates wins).
func decodeAsServer(t *testing.T, body string, v any) {
	t.Helper()
	if err := json.NewDecoder(bytes.NewReader([]byte(body))).Decode(v); err != nil {
		t.Fatalf("the server accepted %q, which does not decode: %v", body, err)
	}
}

// sameJSON compares a stored JSON value (as the API answered it) with a raw
// one from a request.
func sameJSON(stored any, raw json.RawMessage) bool {
	var want any
	if len(raw) == 0 || string(raw) == "null" {
		raw = json.RawMessage("{}")
	}
	if json.Unmarshal(raw, &want) != nil {
		return false
	}
	return reflect.DeepEqual(stored, want)
}

func or[T comparable](v *T, def T) T {
	if v == nil {
		return def
	}
	return *v
}

func FuzzCreateJob(f *testing.F) {
	for _, s := range []string{
		`{"job_type":"noop","title":"t"}`,
		`{"job_type":"sleep","title":"t","parameters":{"duration":"10ms","steps":2},"priority":"low","max_retries":0,"timeout_seconds":5,"items_total":3,"description":"d"}`,
		`{"job_type":"sleep","title":"t","parameters":{"duration":1e300}}`,
		`{"job_type":"noop","title":"   "}`,
		`{"job_type":"noop","title":"t","run_at":"0001-01-01T00:00:00Z"}`,
		`{"job_type":"noop","title":"t","parameters":null,"Title":"u","TITLE":"v"}`,
		`{"job_type":"noop","title":"t"} xx`,
		`{"job_type":"noop","title":"\u0000"}`,
		`[]`, `null`, `"x"`, ``,
	} {
		f.Add(s)
	}
	srv := redistest.Start(f)
	in := startValid(f, srv.URL(), false)
	f.Fuzz(func(t *testing.T, body string) { createJob(t, in, body) })
}

// createJob posts body as a new job and checks the answer and what is stored.
func createJob(t *testing.T, in *validInstance, body string) {
	t.Helper()
	tok := fuzzTenant(t)
	code, out := call(t, "POST", in.base+"/api/v1/jobs", tok, body)
	checkFuzzAnswer(t, "POST /api/v1/jobs", body, code, out)
	n := jobCount(t, in.base, tok)
	if code >= 400 {
		if n != 0 {
			t.Fatalf("%q answered %d but stored %v jobs", body, code, n)
		}
		return
	}
	if code != 201 || n != 1 {
		t.Fatalf("%q answered %d and stored %v jobs", body, code, n)
	}
	var r jobs.CreateRequest
	decodeAsServer(t, body, &r)
	j := getJob(t, &instance{base: in.base}, tok, out["id"].(string))
	want := map[string]any{
		"job_type": r.JobType, "title": r.Title, "description": r.Description, "status": "pending",
		"priority": r.Priority, "max_retries": float64(or(r.MaxRetries, 3)),
		"timeout_seconds": float64(or(r.TimeoutSeconds, 300)), "items_total": float64(or(r.ItemsTotal, 0)),
	}
	if r.Priority == "" {
		want["priority"] = "normal"
	}
	for k, v := range want {
		if j[k] != v {
			t.Errorf("%q: stored %s %v, want %v", body, k, j[k], v)
		}
	}
	if !sameJSON(j["parameters"], r.Parameters) {
		t.Errorf("%q: stored parameters %v", body, j["parameters"])
	}
	if !reflect.DeepEqual(j, out) {
		t.Errorf("%q: the answer %v is not what was stored %v", body, out, j)
	}
}

// baseSchedule is the schedule FuzzUpdateSchedule patches.
const baseSchedule = `{"name":"base","job_type":"sleep","interval_seconds":60,"parameters":{"duration":"1s"}}`

func FuzzCreateSchedule(f *testing.F) {
	for _, s := range []string{
		baseSchedule,
		`{"name":"n","job_type":"noop","cron_expression":"*/5 * * * *","timezone":"Europe/Berlin","max_concurrent_runs":2,"priority":"high","max_retries":1,"timeout_seconds":10,"misfire_policy":"skip","is_active":false}`,
		`{"name":"n","job_type":"noop","cron_expression":"0 0 30 2 *"}`,
		`{"name":"n","job_type":"noop","cron_expression":"0 0 29 2 *"}`,
		`{"name":"n","job_type":"noop","cron_expression":"TZ=UTC"}`,
		`{"name":"n","job_type":"noop","cron_expression":"@every 1ms"}`,
		`{"name":"n","job_type":"noop","interval_seconds":9223372036854775807}`,
		`{"name":"\t","job_type":"noop","interval_seconds":5}`,
		`{"name":"n","job_type":"sleep","interval_seconds":5,"parameters":{"duration":"-1s"}}`,
		`{"name":"n","job_type":"noop","interval_seconds":5,"max_concurrent_runs":-1}`,
		`{}`, `[]`, `null`,
	} {
		f.Add(s)
	}
	srv := redistest.Start(f)
	in := startValid(f, srv.URL(), false)
	f.Fuzz(func(t *testing.T, body string) { createSchedule(t, in, body) })
}

// createSchedule posts body as a new schedule and checks the answer and what
// is stored.
func createSchedule(t *testing.T, in *validInstance, body string) {
	t.Helper()
	tok := fuzzTenant(t)
	code, out := call(t, "POST", in.base+schedulesPath, tok, body)
	checkFuzzAnswer(t, "POST "+schedulesPath, body, code, out)
	n := scheduleCount(t, in.base, tok)
	if code >= 400 {
		if n != 0 {
			t.Fatalf("%q answered %d but stored %v schedules", body, code, n)
		}
		return
	}
	if code != 201 || n != 1 {
		t.Fatalf("%q answered %d and stored %v schedules", body, code, n)
	}
	var r jobs.ScheduleRequest
	decodeAsServer(t, body, &r)
	checkSchedule(t, in, tok, body, out, r, nil)
}

func FuzzUpdateSchedule(f *testing.F) {
	for _, s := range []string{
		`{"name":"renamed"}`,
		`{"cron_expression":"@hourly"}`,
		`{"cron_expression":"0 0 30 2 *"}`,
		`{"cron_expression":"TZ=Europe/Berlin"}`,
		`{"interval_seconds":0}`,
		`{"cron_expression":"@daily","interval_seconds":5}`,
		`{"job_type":"noop"}`,
		`{"job_type":"noop","parameters":{}}`,
		`{"parameters":{"duration":1e300}}`,
		`{"name":"   "}`,
		`{"is_active":false}`,
		`{"timezone":"Local"}`,
		`{}`, `[]`, `null`,
	} {
		f.Add(s)
	}
	srv := redistest.Start(f)
	in := startValid(f, srv.URL(), false)
	f.Fuzz(func(t *testing.T, body string) {
		tok := fuzzTenant(t)
		code, base := call(t, "POST", in.base+schedulesPath, tok, baseSchedule)
		if code != 201 {
			t.Fatalf("base schedule: %d %v", code, base)
		}
		id := base["id"].(string)
		code, out := call(t, "PATCH", in.base+schedulesPath+"/"+id, tok, body)
		checkFuzzAnswer(t, "PATCH "+schedulesPath, body, code, out)
		if n := scheduleCount(t, in.base, tok); n != 1 {
			t.Fatalf("%q: %v schedules", body, n)
		}
		if code >= 400 {
			if _, now := call(t, "GET", in.base+schedulesPath+"/"+id, tok, nil); !reflect.DeepEqual(now, base) {
				t.Fatalf("%q answered %d but changed the schedule: %v → %v", body, code, base, now)
			}
			return
		}
		if code != 200 {
			t.Fatalf("%q answered %d", body, code)
		}
		var r jobs.ScheduleRequest
		decodeAsServer(t, body, &r)
		checkSchedule(t, in, tok, body, out, r, base)
	})
}

// checkSchedule checks that the stored schedule is the answer, and holds
// what request r set over base (the defaults when base is nil).
func checkSchedule(t *testing.T, in *validInstance, tok, body string, out map[string]any, r jobs.ScheduleRequest, base map[string]any) {
	t.Helper()
	_, s := call(t, "GET", in.base+schedulesPath+"/"+out["id"].(string), tok, nil)
	if !reflect.DeepEqual(s, out) {
		t.Fatalf("%q: the answer %v is not what was stored %v", body, out, s)
	}
	want := map[string]any{
		"name": "", "job_type": "", "timezone": "UTC", "is_active": true, "max_concurrent_runs": 1.0, "priority": "normal",
		"max_retries": 3.0, "timeout_seconds": 300.0, "misfire_policy": "fire_once",
	}
	for k := range want {
		if base != nil {
			want[k] = base[k]
		}
	}
	set := func(k string, v any) { want[k] = v }
	if r.Name != nil {
		set("name", *r.Name)
	}
	if r.JobType != nil {
		set("job_type", *r.JobType)
	}
	if r.Timezone != nil {
		set("timezone", *r.Timezone)
	}
	if r.IsActive != nil {
		set("is_active", *r.IsActive)
	}
	if r.MaxConcurrentRuns != nil {
		set("max_concurrent_runs", float64(*r.MaxConcurrentRuns))
	}
	if r.Priority != nil && *r.Priority != "" {
		set("priority", *r.Priority)
	}
	if r.MaxRetries != nil {
		set("max_retries", float64(*r.MaxRetries))
	}
	if r.TimeoutSeconds != nil {
		set("timeout_seconds", float64(*r.TimeoutSeconds))
	}
	if r.MisfirePolicy != nil {
		set("misfire_policy", *r.MisfirePolicy)
	}
	for k, v := range want {
		if s[k] != v {
			t.Errorf("%q: stored %s %v, want %v", body, k, s[k], v)
		}
	}
	if r.CronExpression != nil || r.IntervalSeconds != nil {
		if s["cron_expression"] != anyOf(r.CronExpression) || s["interval_seconds"] != anyOfInt(r.IntervalSeconds) {
			t.Errorf("%q: stored timing %v / %v", body, s["cron_expression"], s["interval_seconds"])
		}
	}
	if r.Parameters != nil && !sameJSON(s["parameters"], *r.Parameters) {
		t.Errorf("%q: stored parameters %v", body, s["parameters"])
	}
	if active := s["is_active"] == true; active != (s["next_run_at"] != nil) {
		t.Errorf("%q: is_active %v with next_run_at %v", body, s["is_active"], s["next_run_at"])
	}
}

func anyOf(s *string) any {
	if s == nil {
		return nil
	}
	return *s
}

func anyOfInt(n *int64) any {
	if n == nil {
		return nil
	}
	return float64(*n)
}

// FuzzJobFields explores the values of a job's fields rather than the JSON
// syntax around them.
func FuzzJobFields(f *testing.F) {
	f.Add("noop", "t", "", `{}`, "normal", 3, 300, int64(0), "")
	f.Add("sleep", " ", "d", `{"duration":1e300}`, "", -1, 0, int64(-1), "0001-01-01T00:00:00Z")
	f.Add("sleep", "\u200b", "\x07", `{"duration":"1s","steps":1000}`, "high", 100, 604800, int64(1000000000), "2030-01-01T00:00:00Z")
	srv := redistest.Start(f)
	in := startValid(f, srv.URL(), false)
	f.Fuzz(func(t *testing.T, jobType, title, description, params, priority string, maxRetries, timeout int, items int64, runAt string) {
		req := map[string]any{"job_type": jobType, "title": title, "description": description, "priority": priority,
			"max_retries": maxRetries, "timeout_seconds": timeout, "items_total": items}
		if json.Valid([]byte(params)) {
			req["parameters"] = json.RawMessage(params)
		}
		if runAt != "" {
			req["run_at"] = runAt
		}
		body, err := json.Marshal(req)
		if err != nil {
			t.Skip()
		}
		createJob(t, in, string(body))
	})
}

// FuzzScheduleFields explores the values of a schedule's fields — cron
// expressions and time zones above all.
func FuzzScheduleFields(f *testing.F) {
	f.Add("n", "noop", "*/5 * * * *", int64(0), "UTC", 1, `{}`, "fire_once")
	f.Add("n", "noop", "0 0 30 2 *", int64(0), "Europe/Berlin", 1, `{}`, "skip")
	f.Add("n", "noop", "", int64(60), "America/New_York", 3, `{}`, "skip")
	f.Add("n", "sleep", "@every 1ms", int64(0), "UTC", 0, `{"duration":-1}`, "")
	f.Add(" ", "noop", "TZ=UTC", int64(0), "Local", 1001, `[]`, "x")
	f.Add("n", "noop", "0 0 29 2 *", int64(0), "Pacific/Kiritimati", 1, `{}`, "fire_once")
	f.Add("n", "noop", "", int64(31536001), "UTC", 1, `{}`, "fire_once")
	srv := redistest.Start(f)
	in := startValid(f, srv.URL(), false)
	f.Fuzz(func(t *testing.T, name, jobType, cronExpr string, interval int64, tz string, maxc int, params, misfire string) {
		req := map[string]any{"name": name, "job_type": jobType, "timezone": tz, "max_concurrent_runs": maxc, "misfire_policy": misfire}
		if cronExpr != "" {
			req["cron_expression"] = cronExpr
		}
		if interval != 0 || cronExpr == "" {
			req["interval_seconds"] = interval
		}
		if json.Valid([]byte(params)) {
			req["parameters"] = json.RawMessage(params)
		}
		body, err := json.Marshal(req)
		if err != nil {
			t.Skip()
		}
		createSchedule(t, in, string(body))
	})
}
