package jobs_test

import (
	"encoding/json"
	"maps"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/redifx/redifx/modules/jobs"
	"github.com/redifx/redifx/modules/redis/redistest"
)

// encoding/json decodes a key into a field ignoring letter case (and under
// Unicode folding: "ſ" is "s"), so {"title":"a","Title":"b"} was accepted
// with title "b": one field given twice, which no reader of the body can
// tell. Every field of every body (job, schedule create and update, and the
// parameters of a validated job type) refuses such a pair with 400 naming
// the field, and nothing is written.

// variants of a key that encoding/json decodes into the same field.
func variants(key string) []string {
	out := []string{strings.ToUpper(key[:1]) + key[1:], strings.ToUpper(key)}
	if strings.Contains(key, "s") {
		out = append(out, strings.Replace(key, "s", "ſ", 1)) // U+017F folds to s
	}
	if strings.Contains(key, "k") {
		out = append(out, strings.Replace(key, "k", "\u212a", 1)) // Kelvin sign folds to k
	}
	return out
}

// jsonNames lists the JSON names of t's fields.
func jsonNames(t reflect.Type) []string {
	var out []string
	for f := range t.Fields() {
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		out = append(out, name)
	}
	return out
}

func TestCaseVariantDuplicateKeysAreRefused(t *testing.T) {
	srv := redistest.Start(t)
	in := startValid(t, srv.URL(), false)
	tok := token(t, "acme", allPerms...)
	runAt := time.Now().Add(time.Hour).UTC().Format(time.RFC3339)
	job := map[string]any{
		"job_type": "noop", "title": "t", "description": "d", "parameters": map[string]any{}, "priority": "high",
		"max_retries": 1, "timeout_seconds": 10, "items_total": 1, "run_at": runAt,
	}
	sched := map[string]any{
		"name": "n", "job_type": "noop", "interval_seconds": 60, "timezone": "UTC", "is_active": true,
		"max_concurrent_runs": 1, "priority": "low", "max_retries": 1, "timeout_seconds": 10,
		"parameters": map[string]any{}, "misfire_policy": "skip",
	}
	cronSched := maps.Clone(sched)
	delete(cronSched, "interval_seconds")
	cronSched["cron_expression"] = "@hourly"
	baseFor := func(bases []map[string]any, field string) map[string]any {
		for _, b := range bases {
			if _, ok := b[field]; ok {
				return b
			}
		}
		t.Fatalf("no base body has field %s: add it to the test", field)
		return nil
	}
	code, s := call(t, "POST", in.base+schedulesPath, tok, sched)
	if code != 201 {
		t.Fatalf("create schedule: %d %v", code, s)
	}
	id := s["id"].(string)
	if code, out := call(t, "POST", in.base+"/api/v1/jobs", tok, job); code != 201 {
		t.Fatalf("the base job body is refused: %d %v", code, out)
	}
	jobsBefore, schedsBefore := jobCount(t, in.base, tok), scheduleCount(t, in.base, tok)
	_, stored := call(t, "GET", in.base+schedulesPath+"/"+id, tok, nil)

	type target struct {
		method, path string
		typ          reflect.Type
		bases        []map[string]any
	}
	for _, tg := range []target{
		{"POST", "/api/v1/jobs", reflect.TypeFor[jobs.CreateRequest](), []map[string]any{job}},
		{"POST", schedulesPath, reflect.TypeFor[jobs.ScheduleRequest](), []map[string]any{sched, cronSched}},
		{"PATCH", schedulesPath + "/" + id, reflect.TypeFor[jobs.ScheduleRequest](), []map[string]any{sched, cronSched}},
	} {
		for _, field := range jsonNames(tg.typ) {
			base := baseFor(tg.bases, field)
			for _, v := range variants(field) {
				body := maps.Clone(base)
				body[v] = base[field]
				code, out := call(t, tg.method, in.base+tg.path, tok, body)
				want400(t, tg.method+" "+tg.path+" with "+field+" and "+v, code, out, field)
			}
		}
	}
	// Inside parameters, for a type whose validator decodes them.
	for _, p := range []map[string]any{
		{"duration": "1s", "Duration": "2s"},
		{"steps": 2, "STEPS": 3},
		{"steps": 2, "ſteps": 3},
	} {
		code, out := call(t, "POST", in.base+"/api/v1/jobs", tok, map[string]any{"job_type": "sleep", "title": "t", "parameters": p})
		var name string
		for k := range p {
			if strings.ToLower(k) == k && !strings.Contains(k, "ſ") {
				name = k
			}
		}
		want400(t, "parameters "+string(mustJSON(t, p)), code, out, "parameters."+name)
	}
	if n := jobCount(t, in.base, tok); n != jobsBefore {
		t.Errorf("refused bodies created jobs: %v -> %v", jobsBefore, n)
	}
	if n := scheduleCount(t, in.base, tok); n != schedsBefore {
		t.Errorf("refused bodies created schedules: %v -> %v", schedsBefore, n)
	}
	if _, now := call(t, "GET", in.base+schedulesPath+"/"+id, tok, nil); !reflect.DeepEqual(now, stored) {
		t.Errorf("refused updates changed the schedule:\n%v\n%v", stored, now)
	}
	// A single key in another case is still that field (as before).
	if code, out := call(t, "POST", in.base+"/api/v1/jobs", tok, map[string]any{"job_type": "noop", "Title": "x"}); code != 201 || out["title"] != "x" {
		t.Errorf("a lone case variant: %d %v", code, out)
	}
}

func mustJSON(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// DecodeParams is what a ParamsValidator uses: the same rule for a Go caller.
func TestDecodeParamsRefusesCaseVariantDuplicates(t *testing.T) {
	var v struct {
		Size struct {
			Width int `json:"width"`
		} `json:"size"`
		Name string `json:"name"`
	}
	for raw, field := range map[string]string{
		`{"name":"a","Name":"b"}`:                 "name",
		`{"size":{"width":1,"WIDTH":2}}`:          "size.width",
		`{"size":{"width":1},"Size":{"width":2}}`: "size",
	} {
		err := jobs.DecodeParams(json.RawMessage(raw), &v)
		fe, ok := err.(*jobs.FieldError)
		if !ok || fe.Field != field {
			t.Errorf("%s: %v, want a FieldError naming %s", raw, err, field)
		}
	}
	if err := jobs.DecodeParams(json.RawMessage(`{"Name":"b","size":{"Width":2}}`), &v); err != nil || v.Name != "b" || v.Size.Width != 2 {
		t.Errorf("lone case variants: %v %+v", err, v)
	}
}
