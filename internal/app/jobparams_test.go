package app_test

import (
	"testing"
)

// Every job type the binary registers checks its parameters at enqueue and
// when a schedule of it is created (issue 11, defect 9): 400 naming the
// parameter, nothing stored.
func TestBuiltInJobTypesCheckTheirParameters(t *testing.T) {
	base, cfg := platform(t)
	perms := []string{"jobs.read", "jobs.write", "jobs.schedule"}
	for _, tc := range []struct{ jobType, params, field string }{
		{"sleep", `{"duration":1e300}`, "parameters.duration"},
		{"sleep", `{"duration":"-1s"}`, "parameters.duration"},
		{"sleep", `{"steps":0}`, "parameters.steps"},
		{"sleep", `{"seconds":3}`, "parameters.seconds"},
		{"noop", `{"x":1}`, "parameters.x"},
		{"metrics.refresh_dashboard", `{"tenant":"globex"}`, "parameters.tenant"},
	} {
		code, out := do(t, cfg, "POST", base+"/api/v1/jobs", "acme", `{"job_type":"`+tc.jobType+`","title":"t","parameters":`+tc.params+`}`, perms...)
		if code != 400 || out["field"] != tc.field {
			t.Errorf("job %s %s: %d %v", tc.jobType, tc.params, code, out)
		}
		code, out = do(t, cfg, "POST", base+"/api/v1/jobs/scheduler/scheduled-jobs", "acme",
			`{"name":"n","job_type":"`+tc.jobType+`","interval_seconds":60,"parameters":`+tc.params+`}`, perms...)
		if code != 400 || out["field"] != tc.field {
			t.Errorf("schedule %s %s: %d %v", tc.jobType, tc.params, code, out)
		}
	}
	if _, list := do(t, cfg, "GET", base+"/api/v1/jobs", "acme", "", perms...); list["total"] != 0.0 {
		t.Errorf("refused jobs were stored: %v", list)
	}
	for _, body := range []string{
		`{"job_type":"sleep","title":"t","parameters":{"duration":"10ms","steps":2}}`,
		`{"job_type":"noop","title":"t","parameters":{}}`,
		`{"job_type":"metrics.refresh_dashboard","title":"t"}`,
	} {
		if code, out := do(t, cfg, "POST", base+"/api/v1/jobs", "acme", body, perms...); code != 201 {
			t.Errorf("%s: %d %v", body, code, out)
		}
	}
}
