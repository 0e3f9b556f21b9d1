package jobs_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redifx/redifx/modules/auth"
	"github.com/redifx/redifx/modules/config"
	"github.com/redifx/redifx/modules/httpserver"
	"github.com/redifx/redifx/modules/jobs"
	"github.com/redifx/redifx/modules/redis"
	"github.com/redifx/redifx/modules/redis/redistest"
	"go.uber.org/fx"
	"go.uber.org/fx/fxtest"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"
)

// validHandlers registers the job types of the validation tests the way the
// binary registers its built-ins: noop and sleep with their validators, and
// "image" with a validator that names nested parameters and one whose
// errors are not *FieldErrors.
func validHandlers() fx.Option {
	return fx.Options(
		jobs.AsHandler("noop", jobs.NoopHandler, jobs.WithValidator(jobs.NoParameters)),
		jobs.AsHandler("sleep", jobs.SleepHandler, jobs.WithValidator(jobs.ValidateSleepParams)),
		jobs.AsHandler("image", jobs.NoopHandler, jobs.WithValidator(func(p json.RawMessage) error {
			var v struct {
				Size struct {
					Width int `json:"width"`
				} `json:"size"`
			}
			if err := json.Unmarshal(p, &v); err != nil {
				return err
			}
			if v.Size.Width <= 0 {
				return &jobs.FieldError{Field: "size.width", Message: "must be positive"}
			}
			return nil
		})),
		jobs.AsHandler("picky", jobs.NoopHandler, jobs.WithValidator(func(json.RawMessage) error {
			return errors.New("never happy")
		})),
	)
}

// validInstance is an instance with validHandlers whose log is observed.
type validInstance struct {
	base string
	q    *jobs.Queue
	logs *observer.ObservedLogs
}

var validSetup sync.Mutex

func startValid(t testing.TB, redisURL string, workers bool) *validInstance {
	t.Helper()
	validSetup.Lock()
	defer validSetup.Unlock()
	rcfg := redis.DefaultConfig()
	rcfg.URL = redisURL
	rcfg.EmbeddedFallback = false
	rcfg.HealthInterval, rcfg.ReconnectInterval, rcfg.StartupWait = 100*time.Millisecond, 100*time.Millisecond, time.Second
	jcfg := jobs.DefaultConfig()
	fastJobs(&jcfg, &rcfg)
	jcfg.Workers = workers
	hcfg := httpserver.DefaultConfig()
	hcfg.Addr = "127.0.0.1:0"
	core, logs := observer.New(zapcore.InfoLevel)
	in := &validInstance{logs: logs}
	var srv *httpserver.Server
	app := fxtest.New(t,
		fx.NopLogger,
		fx.Supply(rcfg, jcfg, hcfg, auth.Config{JWTSecret: secret}, config.Test, zap.New(core)),
		redis.Module, auth.Module, jobs.Module, validHandlers(), httpserver.Module,
		fx.Populate(&srv, &in.q),
	)
	app.RequireStart()
	t.Cleanup(app.RequireStop)
	in.base = "http://" + srv.Addr().String()
	return in
}

const schedulesPath = "/api/v1/jobs/scheduler/scheduled-jobs"

// want400 checks that the call answered 400 with a JSON error naming field.
func want400(t *testing.T, what string, code int, body map[string]any, field string) {
	t.Helper()
	if code != 400 || body["error"] == nil || body["field"] != field {
		t.Errorf("%s: want 400 naming %s, got %d %v", what, field, code, body)
	}
}

func jobCount(t *testing.T, base, tok string) float64 {
	t.Helper()
	code, list := call(t, "GET", base+"/api/v1/jobs", tok, nil)
	if code != 200 {
		t.Fatalf("list: %d %v", code, list)
	}
	return list["total"].(float64)
}

func scheduleCount(t *testing.T, base, tok string) float64 {
	t.Helper()
	code, list := call(t, "GET", base+schedulesPath, tok, nil)
	if code != 200 {
		t.Fatalf("list schedules: %d %v", code, list)
	}
	return list["total"].(float64)
}

// Defect 1: a cron expression that never matches (30 February) was accepted
// with next_run_at 0001-01-01; @every under a second was rounded up, beyond
// a year accepted; a TZ= prefix without a space panicked in the parser.
func TestCronWithoutANextRunIs400(t *testing.T) {
	srv := redistest.Start(t)
	in := startValid(t, srv.URL(), false)
	tok := token(t, "acme", allPerms...)
	bad := []string{
		"0 0 30 2 *", "0 0 31 2 *", "0 0 30,31 2 *", "0 0 31 4,6,9,11 *", "0 0 31 4 *", "0 0 31 11 *",
		"@every 0s", "@every -1s", "@every 1ms", "@every 999ms", "@every 1500ms", "@every 8761h", "@every 9999999h",
		"@every", "@every ", "@every 1s extra", "TZ=UTC", "CRON_TZ=UTC", "TZ=Europe/Berlin 0 0 * * *",
		"CRON_TZ=UTC @daily", "", "   ", "* * * * * *", "61 * * * *", "@often",
		strings.Repeat("* ", 150),
	}
	for _, expr := range bad {
		code, body := call(t, "POST", in.base+schedulesPath, tok, map[string]any{"name": "n", "job_type": "noop", "cron_expression": expr})
		want400(t, fmt.Sprintf("create with %q", expr), code, body, "cron_expression")
	}
	if n := scheduleCount(t, in.base, tok); n != 0 {
		t.Fatalf("refused schedules were stored: %v", n)
	}

	// Valid rare and boundary expressions get a real next run.
	now := time.Now().UTC()
	for expr, check := range map[string]func(time.Time) bool{
		"0 0 29 2 *": func(n time.Time) bool { return n.Month() == time.February && n.Day() == 29 }, // leap day: rare, valid
		"0 0 31 * *": func(n time.Time) bool { return n.Day() == 31 },
		"@every 1s":  func(n time.Time) bool { return n.Sub(now) < time.Minute },
		"@every 8760h": func(n time.Time) bool {
			return n.Sub(now) > 364*24*time.Hour && n.Sub(now) <= 366*24*time.Hour
		},
		"@every 1m30s": func(n time.Time) bool { return n.Sub(now) <= 2*time.Minute },
		"@yearly":      func(n time.Time) bool { return n.Month() == time.January && n.Day() == 1 },
		"0 0 30 2 1":   func(n time.Time) bool { return n.Weekday() == time.Monday }, // day of month OR day of week
	} {
		code, s := call(t, "POST", in.base+schedulesPath, tok, map[string]any{"name": "n", "job_type": "noop", "cron_expression": expr})
		if code != 201 {
			t.Errorf("%q: %d %v", expr, code, s)
			continue
		}
		next, err := time.Parse(time.RFC3339, fmt.Sprint(s["next_run_at"]))
		if err != nil || !next.After(now) || next.Year() > now.Year()+5 || !check(next) {
			t.Errorf("%q: next_run_at %v", expr, s["next_run_at"])
		}
	}

	// PATCH: the same expressions are refused and the schedule is unchanged.
	code, s := call(t, "POST", in.base+schedulesPath, tok, map[string]any{"name": "n", "job_type": "noop", "interval_seconds": 60})
	if code != 201 {
		t.Fatalf("create: %d %v", code, s)
	}
	id := s["id"].(string)
	for _, expr := range []string{"0 0 30 2 *", "0 0 31 4,6,9,11 *", "@every 1ms", "@every -1s", "@every 8761h", "TZ=UTC"} {
		code, body := call(t, "PATCH", in.base+schedulesPath+"/"+id, tok, map[string]any{"cron_expression": expr})
		want400(t, fmt.Sprintf("update to %q", expr), code, body, "cron_expression")
	}
	_, after := call(t, "GET", in.base+schedulesPath+"/"+id, tok, nil)
	if after["interval_seconds"] != 60.0 || after["cron_expression"] != nil || after["next_run_at"] != s["next_run_at"] {
		t.Errorf("a refused update changed the schedule: %v → %v", s, after)
	}
}

// Defect 1, schedules stored before the check: one whose next run cannot be
// computed fired on every tick, forever (an interval of 0 panicked the
// scheduler). Now it never fires, leaves the due list and is logged.
func TestStoredScheduleWithoutANextRunNeverFires(t *testing.T) {
	srv := redistest.Start(t)
	in := startValid(t, srv.URL(), true)
	tok := token(t, "acme", allPerms...)
	ctx := context.Background()
	never := map[string]map[string]string{
		"30 February":          {"cron_expression": "0 0 30 2 *", "interval_seconds": ""},
		"31 April":             {"cron_expression": "0 0 31 4 *", "interval_seconds": ""},
		"interval 0":           {"cron_expression": "", "interval_seconds": "0"},
		"interval over a year": {"cron_expression": "", "interval_seconds": "99999999999"},
		"anchor out of range":  {"cron_expression": "", "interval_seconds": "1", "anchor": "-9223372036854775808"},
		"unparsable cron":      {"cron_expression": "TZ=UTC", "interval_seconds": ""},
		"vanished time zone":   {"cron_expression": "@hourly", "interval_seconds": "", "timezone": "Atlantis/Capital"},
	}
	ids := map[string]string{}
	for name, fields := range never {
		code, s := call(t, "POST", in.base+schedulesPath, tok, map[string]any{"name": name, "job_type": "noop", "interval_seconds": 3600})
		if code != 201 {
			t.Fatalf("create: %d %v", code, s)
		}
		id := s["id"].(string)
		ids[name] = id
		// As an older version stored it: next_run_at 0001-01-01, due now.
		fields["next_run_at"] = "-62135596800000"
		if err := jobs.StoreScheduleFieldsForTest(ctx, in.q, id, fields, time.UnixMilli(-62135596800000)); err != nil {
			t.Fatal(err)
		}
	}
	for name, id := range ids {
		eventually(t, name+" parked", 5*time.Second, func() bool {
			_, s := call(t, "GET", in.base+schedulesPath+"/"+id, tok, nil)
			return s["next_run_at"] == nil
		})
		due, err := jobs.ScheduleDueForTest(ctx, in.q, id)
		if err != nil || due {
			t.Errorf("%s is still due: %v %v", name, due, err)
		}
	}
	// Many more ticks — a working schedule of another tenant, created now,
	// fires twice — and still nothing fired; each was logged once.
	ctl := token(t, "control", allPerms...)
	code, control := call(t, "POST", in.base+schedulesPath, ctl, map[string]any{"name": "control", "job_type": "noop", "interval_seconds": 1, "max_concurrent_runs": 5})
	if code != 201 {
		t.Fatalf("control schedule: %d %v", code, control)
	}
	eventually(t, "the control schedule to fire twice", 10*time.Second, func() bool {
		_, c := call(t, "GET", in.base+schedulesPath+"/"+control["id"].(string), ctl, nil)
		return c["total_runs"].(float64) >= 2
	})
	if n := jobCount(t, in.base, tok); n != 0 {
		t.Errorf("schedules without a next run fired %v jobs", n)
	}
	for name, id := range ids {
		_, s := call(t, "GET", in.base+schedulesPath+"/"+id, tok, nil)
		if s["total_runs"] != 0.0 {
			t.Errorf("%s: total_runs %v", name, s["total_runs"])
		}
		logged := in.logs.FilterMessage("jobs.schedule_never_fires").FilterField(zap.String("schedule_id", id)).Len()
		if logged != 1 {
			t.Errorf("%s: logged %d times", name, logged)
		}
	}
	// Toggling it off works; toggling it back on is refused like its timing.
	april := ids["31 April"]
	if code, s := call(t, "POST", in.base+schedulesPath+"/"+april+"/toggle", tok, nil); code != 200 || s["is_active"] != false {
		t.Errorf("toggle off: %d %v", code, s)
	}
	code, out := call(t, "POST", in.base+schedulesPath+"/"+april+"/toggle", tok, nil)
	want400(t, "toggle a schedule without a next run on", code, out, "cron_expression")
	// An update that gives a parked schedule a working timing revives it.
	id := ids["30 February"]
	code, s := call(t, "PATCH", in.base+schedulesPath+"/"+id, tok, map[string]any{"cron_expression": "@every 1s"})
	if code != 200 || s["next_run_at"] == nil {
		t.Fatalf("revive: %d %v", code, s)
	}
	eventually(t, "the revived schedule to fire", 5*time.Second, func() bool {
		_, s := call(t, "GET", in.base+schedulesPath+"/"+id, tok, nil)
		return s["total_runs"].(float64) >= 1
	})
}

// Defect 9: parameters were only checked when the job ran; sleep with
// duration 1e300 "completed" with a negative duration.
func TestParametersAreCheckedAtEnqueue(t *testing.T) {
	srv := redistest.Start(t)
	in := startValid(t, srv.URL(), false)
	tok := token(t, "acme", allPerms...)
	cases := []struct {
		jobType string
		params  string
		field   string
	}{
		{"sleep", `{"duration":1e300}`, "parameters.duration"},
		{"sleep", `{"duration":"1e300"}`, "parameters.duration"},
		{"sleep", `{"duration":1e400}`, "parameters.duration"},
		{"sleep", `{"duration":-1}`, "parameters.duration"},
		{"sleep", `{"duration":"-1s"}`, "parameters.duration"},
		{"sleep", `{"duration":"2562047h"}`, "parameters.duration"},
		{"sleep", `{"duration":"169h"}`, "parameters.duration"},
		{"sleep", `{"duration":604801}`, "parameters.duration"},
		{"sleep", `{"duration":"NaN"}`, "parameters.duration"},
		{"sleep", `{"duration":"Inf"}`, "parameters.duration"},
		{"sleep", `{"duration":"soon"}`, "parameters.duration"},
		{"sleep", `{"duration":true}`, "parameters.duration"},
		{"sleep", `{"duration":{}}`, "parameters.duration"},
		{"sleep", `{"steps":0}`, "parameters.steps"},
		{"sleep", `{"steps":-1}`, "parameters.steps"},
		{"sleep", `{"steps":1.5}`, "parameters.steps"},
		{"sleep", `{"steps":1000000}`, "parameters.steps"},
		{"sleep", `{"steps":"3"}`, "parameters.steps"},
		{"sleep", `{"durration":"1s"}`, "parameters.durration"},
		{"noop", `{"x":1}`, "parameters.x"},
		{"image", `{"size":{"width":0}}`, "parameters.size.width"},
		{"picky", `{}`, "parameters"},
	}
	for _, tc := range cases {
		body := `{"job_type":"` + tc.jobType + `","title":"t","parameters":` + tc.params + `}`
		code, out := call(t, "POST", in.base+"/api/v1/jobs", tok, body)
		want400(t, "job "+body, code, out, tc.field)
		// A schedule fires jobs with its parameters: the same check.
		body = `{"name":"n","job_type":"` + tc.jobType + `","interval_seconds":60,"parameters":` + tc.params + `}`
		code, out = call(t, "POST", in.base+schedulesPath, tok, body)
		want400(t, "schedule "+body, code, out, tc.field)
	}
	if n, s := jobCount(t, in.base, tok), scheduleCount(t, in.base, tok); n != 0 || s != 0 {
		t.Fatalf("refused requests stored %v jobs and %v schedules", n, s)
	}

	// The Go API returns the same *FieldError.
	_, _, err := in.q.Enqueue(context.Background(), "acme", "me", jobs.CreateRequest{
		JobType: "sleep", Title: "t", Parameters: json.RawMessage(`{"duration":1e300}`),
	}, "")
	var fe *jobs.FieldError
	if !errors.As(err, &fe) || fe.Field != "parameters.duration" {
		t.Errorf("Enqueue: %v", err)
	}
	_, err = in.q.CreateSchedule(context.Background(), "acme", "me", jobs.ScheduleRequest{
		Name: ptrTo("n"), JobType: ptrTo("image"), IntervalSeconds: ptrTo[int64](5), Parameters: ptrTo(json.RawMessage(`{"size":{}}`)),
	})
	if !errors.As(err, &fe) || fe.Field != "parameters.size.width" {
		t.Errorf("CreateSchedule: %v", err)
	}

	// Valid parameters pass.
	for _, body := range []string{
		`{"job_type":"sleep","title":"t","parameters":{"duration":"1500ms","steps":3}}`,
		`{"job_type":"sleep","title":"t","parameters":{"duration":2.5}}`,
		`{"job_type":"sleep","title":"t","parameters":{"duration":"168h","steps":1000}}`,
		`{"job_type":"sleep","title":"t"}`,
		`{"job_type":"noop","title":"t","parameters":{}}`,
		`{"job_type":"image","title":"t","parameters":{"size":{"width":3}}}`,
	} {
		if code, out := call(t, "POST", in.base+"/api/v1/jobs", tok, body); code != 201 {
			t.Errorf("%s: %d %v", body, code, out)
		}
	}

	// PATCH: new parameters, or a new job type the parameters do not suit.
	code, s := call(t, "POST", in.base+schedulesPath, tok, `{"name":"n","job_type":"sleep","interval_seconds":60,"parameters":{"duration":"1s"}}`)
	if code != 201 {
		t.Fatalf("create: %d %v", code, s)
	}
	id := s["id"].(string)
	code, out := call(t, "PATCH", in.base+schedulesPath+"/"+id, tok, `{"parameters":{"duration":1e300}}`)
	want400(t, "patch parameters", code, out, "parameters.duration")
	code, out = call(t, "PATCH", in.base+schedulesPath+"/"+id, tok, `{"job_type":"noop"}`)
	want400(t, "patch job_type", code, out, "parameters.duration")
	_, after := call(t, "GET", in.base+schedulesPath+"/"+id, tok, nil)
	if after["job_type"] != "sleep" || fmt.Sprint(after["parameters"]) != "map[duration:1s]" {
		t.Errorf("refused updates changed the schedule: %v", after)
	}
	if code, out := call(t, "PATCH", in.base+schedulesPath+"/"+id, tok, `{"job_type":"noop","parameters":{}}`); code != 200 {
		t.Errorf("valid patch: %d %v", code, out)
	}
}

// Defect 9, run time: a sleep job stored without the check (before it
// existed, or registered without the validator) fails at once instead of
// "completing" with an overflowed, negative duration.
func TestSleepRefusesBadParametersWhenItRuns(t *testing.T) {
	srv := redistest.Start(t)
	in := startInstance(t, srv.URL(), &counters{}, nil) // sleep without a validator
	tok := token(t, "acme", allPerms...)
	for _, params := range []any{
		map[string]any{"duration": 1e300}, map[string]any{"duration": "1e300"}, map[string]any{"duration": "-5s"},
		map[string]any{"duration": 1e10}, map[string]any{"steps": 1e9},
	} {
		id := create(t, in, tok, map[string]any{"job_type": "sleep", "max_retries": 3, "parameters": params})["id"].(string)
		j := waitStatus(t, in, tok, id, "failed", 5*time.Second)
		if !strings.Contains(fmt.Sprint(j["error_message"]), "parameters.") || j["attempts"] != 1.0 {
			t.Errorf("%v: %v", params, j)
		}
	}
}

// Defect 10 and its class: blank, control-character and overlong text
// fields answer 400 naming the field, and so do bad values of the other
// fields; nothing is stored. (The upper bounds of items_total, run_at and
// max_concurrent_runs are limits.go's, tested with the storage layer.)
func TestBadFieldsAre400NamingTheField(t *testing.T) {
	srv := redistest.Start(t)
	in := startValid(t, srv.URL(), false)
	tok := token(t, "acme", allPerms...)
	job := func(extra string) string { return `{"job_type":"noop","title":"t"` + extra + `}` }
	long := strings.Repeat("x", 501)
	jobCases := []struct{ body, field string }{
		{`{"job_type":"noop","title":"   "}`, "title"},
		{`{"job_type":"noop","title":"\t\n\r "}`, "title"},
		{`{"job_type":"noop","title":"\u200b\u3000\u00a0"}`, "title"},
		{`{"job_type":"noop","title":"\u2800"}`, "title"},
		{`{"job_type":"noop","title":"a\u0000b"}`, "title"},
		{`{"job_type":"noop","title":"a\u001bb"}`, "title"},
		{`{"job_type":"noop","title":"a\nb"}`, "title"},
		{`{"job_type":"noop","title":"` + long + `"}`, "title"},
		{`{"job_type":"   ","title":"t"}`, "job_type"},
		{`{"job_type":"noop\u0000","title":"t"}`, "job_type"},
		{`{"job_type":"","title":"t"}`, "job_type"},
		{job(`,"description":"bell\u0007"`), "description"},
		{job(`,"description":"` + strings.Repeat("d", 10001) + `"`), "description"},
		{job(`,"priority":"urgent"`), "priority"},
		{job(`,"priority":" normal"`), "priority"},
		{job(`,"max_retries":-1`), "max_retries"},
		{job(`,"max_retries":101`), "max_retries"},
		{job(`,"timeout_seconds":0`), "timeout_seconds"},
		{job(`,"timeout_seconds":604801`), "timeout_seconds"},
		{job(`,"items_total":-1`), "items_total"},
		{job(`,"parameters":"{}"`), "parameters"},
		{job(`,"parameters":[]`), "parameters"},
	}
	for _, tc := range jobCases {
		code, out := call(t, "POST", in.base+"/api/v1/jobs", tok, tc.body)
		want400(t, clipBody(tc.body), code, out, tc.field)
	}
	// Malformed numbers never reach validation but are 400 too, never 5xx.
	for _, extra := range []string{`,"max_retries":1.5`, `,"items_total":1e300`, `,"timeout_seconds":NaN`, `,"items_total":"5"`, `,"run_at":"tomorrow"`} {
		if code, out := call(t, "POST", in.base+"/api/v1/jobs", tok, job(extra)); code != 400 || out["error"] == nil {
			t.Errorf("%s: %d %v", extra, code, out)
		}
	}
	if n := jobCount(t, in.base, tok); n != 0 {
		t.Fatalf("refused jobs were stored: %v", n)
	}
	for _, body := range []string{
		job(`,"description":"line one\nline two\ttabbed"`), `{"job_type":"noop","title":" padded "}`,
		job(`,"items_total":1000000000,"max_retries":100,"timeout_seconds":604800`),
		job(`,"run_at":"1970-01-01T00:00:00Z"`), job(`,"run_at":"` + time.Now().Add(364*24*time.Hour).UTC().Format(time.RFC3339) + `"`),
	} {
		if code, out := call(t, "POST", in.base+"/api/v1/jobs", tok, body); code != 201 {
			t.Errorf("%s: %d %v", clipBody(body), code, out)
		}
	}

	sched := func(extra string) string { return `{"name":"n","job_type":"noop","interval_seconds":60` + extra + `}` }
	schedCases := []struct{ body, field string }{
		{`{"name":"  ","job_type":"noop","interval_seconds":60}`, "name"},
		{`{"name":"\u200b","job_type":"noop","interval_seconds":60}`, "name"},
		{`{"name":"a\u0007","job_type":"noop","interval_seconds":60}`, "name"},
		{`{"name":"` + long + `","job_type":"noop","interval_seconds":60}`, "name"},
		{`{"name":"n","job_type":" ","interval_seconds":60}`, "job_type"},
		{sched(`,"max_concurrent_runs":0`), "max_concurrent_runs"},
		{sched(`,"max_concurrent_runs":-5`), "max_concurrent_runs"},
		{sched(`,"max_retries":-1`), "max_retries"},
		{sched(`,"timeout_seconds":0`), "timeout_seconds"},
		{sched(`,"priority":"top"`), "priority"},
		{sched(`,"misfire_policy":"FIRE_ONCE"`), "misfire_policy"},
		{sched(`,"timezone":"` + strings.Repeat("Europe/", 20) + `"`), "timezone"},
		{sched(`,"timezone":" UTC"`), "timezone"},
		{sched(`,"parameters":7`), "parameters"},
		{`{"name":"n","job_type":"noop","interval_seconds":-1}`, "interval_seconds"},
		{`{"name":"n","job_type":"noop","interval_seconds":31536001}`, "interval_seconds"},
		{`{"name":"n","job_type":"noop","interval_seconds":9223372036854775807}`, "interval_seconds"},
	}
	for _, tc := range schedCases {
		code, out := call(t, "POST", in.base+schedulesPath, tok, tc.body)
		want400(t, clipBody(tc.body), code, out, tc.field)
	}
	if n := scheduleCount(t, in.base, tok); n != 0 {
		t.Fatalf("refused schedules were stored: %v", n)
	}
	code, s := call(t, "POST", in.base+schedulesPath, tok, sched(""))
	if code != 201 {
		t.Fatalf("create: %d %v", code, s)
	}
	id := s["id"].(string)
	for _, tc := range []struct{ body, field string }{
		{`{"name":"   "}`, "name"}, {`{"name":""}`, "name"}, {`{"job_type":"\t"}`, "job_type"},
		{`{"interval_seconds":0}`, "interval_seconds"},
	} {
		code, out := call(t, "PATCH", in.base+schedulesPath+"/"+id, tok, tc.body)
		want400(t, "patch "+tc.body, code, out, tc.field)
	}
	if _, after := call(t, "GET", in.base+schedulesPath+"/"+id, tok, nil); after["name"] != "n" || after["max_concurrent_runs"] != 1.0 {
		t.Errorf("refused updates changed the schedule: %v", after)
	}
}

func clipBody(s string) string {
	if len(s) > 120 {
		return s[:120] + "…"
	}
	return s
}

func ptrTo[T any](v T) *T { return &v }

// A handler whose parameters are checked at enqueue: a job with a bad width
// is refused (HTTP 400 naming parameters.width) and never runs.
func ExampleWithValidator() {
	resize := func(ctx context.Context, j *jobs.Job, _ jobs.Progress) (any, error) { return nil, nil }
	_ = fx.Options(jobs.Module, jobs.AsHandler("images.resize", resize, jobs.WithValidator(func(p json.RawMessage) error {
		var v struct {
			Width int `json:"width"`
		}
		if err := jobs.DecodeParams(p, &v); err != nil {
			return err // names an unknown parameter or one of the wrong type
		}
		if v.Width < 1 || v.Width > 10000 {
			return &jobs.FieldError{Field: "width", Message: "must be between 1 and 10000"}
		}
		return nil
	})))
}

// Without Fx: a queue built with NewQueue applies the validators of the
// registrations given to SetHandlers, and the Go API refuses parameters that
// are not one JSON object.
func TestPlainQueueChecksParametersAfterSetHandlers(t *testing.T) {
	srv := redistest.Start(t)
	mgr := jobs.StartManagerForTest(t, srv.URL(), "")
	ctx := context.Background()
	q := jobs.NewQueue(jobs.DefaultConfig(), mgr, func() []string { return []string{"sleep"} }, nil, nil)
	bad := jobs.CreateRequest{JobType: "sleep", Title: "t", Parameters: json.RawMessage(`{"duration":-1}`)}
	if _, _, err := q.Enqueue(ctx, "acme", "me", bad, ""); err != nil {
		t.Fatalf("before SetHandlers nothing checks the parameters: %v", err)
	}
	q.SetHandlers([]jobs.Registration{jobs.NewRegistration("sleep", jobs.SleepHandler, jobs.WithValidator(jobs.ValidateSleepParams))})
	var fe *jobs.FieldError
	if _, _, err := q.Enqueue(ctx, "acme", "me", bad, ""); !errors.As(err, &fe) || fe.Field != "parameters.duration" {
		t.Errorf("after SetHandlers: %v", err)
	}
	for _, raw := range []string{`{"duration":`, `{} {}`, `{"a":1}x`, `"{}"`} {
		r := jobs.CreateRequest{JobType: "sleep", Title: "t", Parameters: json.RawMessage(raw)}
		if _, _, err := q.Enqueue(ctx, "acme", "me", r, ""); !errors.As(err, &fe) || fe.Field != "parameters" {
			t.Errorf("parameters %s: %v", raw, err)
		}
		_, err := q.CreateSchedule(ctx, "acme", "me", jobs.ScheduleRequest{Name: ptrTo("n"), JobType: ptrTo("sleep"), IntervalSeconds: ptrTo[int64](5), Parameters: ptrTo(json.RawMessage(raw))})
		if !errors.As(err, &fe) || fe.Field != "parameters" {
			t.Errorf("schedule parameters %s: %v", raw, err)
		}
	}
	if list, total, err := q.List(ctx, "acme", jobs.Filter{}, 1, 10); err != nil || total != 1 || len(list) != 1 {
		t.Errorf("stored: %d %v", total, err)
	}
}
