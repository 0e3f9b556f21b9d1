package jobs_test

import (
	"context"
	"errors"
	"testing"

	"github.com/redifx/redifx/modules/jobs"
	"github.com/redifx/redifx/modules/redis/redistest"
)

// Retry re-creates a job from its stored fields: those must pass what
// Enqueue checks (the parameter validator above all), or a job stored before
// a validator existed could be retried into the queue forever. Each refusal
// is a 400 naming the field (a *FieldError from the Go API) and writes
// nothing.
func TestRetryValidatesLikeEnqueue(t *testing.T) {
	srv := redistest.Start(t)
	in := startValid(t, srv.URL(), false)
	tok := token(t, "acme", allPerms...)
	ctx := context.Background()
	cases := []struct {
		name   string
		fields map[string]string
		field  string
	}{
		{"parameters the validator refuses", map[string]string{"parameters": `{"size":{"width":-1}}`}, "parameters.size.width"},
		{"parameters not an object", map[string]string{"parameters": `[1]`}, "parameters"},
		{"a job type no longer registered", map[string]string{"job_type": "gone"}, "job_type"},
		{"a blank title", map[string]string{"title": "   "}, "title"},
		{"max_retries out of bounds", map[string]string{"max_retries": "1000000"}, "max_retries"},
		{"items_total out of bounds", map[string]string{"items_total": "-5"}, "items_total"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			j := create(t, &instance{base: in.base}, tok, map[string]any{"job_type": "image", "parameters": map[string]any{"size": map[string]any{"width": 3}}})
			id := j["id"].(string)
			if code, out := call(t, "POST", in.base+"/api/v1/jobs/"+id+"/cancel", tok, nil); code != 200 {
				t.Fatalf("cancel: %d %v", code, out)
			}
			if err := jobs.StoreJobFieldsForTest(ctx, in.q, id, c.fields); err != nil {
				t.Fatal(err)
			}
			before := jobCount(t, in.base, tok)
			statsBefore, _ := in.q.Statistics(ctx, "acme")
			code, out := call(t, "POST", in.base+"/api/v1/jobs/"+id+"/retry", tok, nil)
			want400(t, "retry", code, out, c.field)
			_, err := in.q.Retry(ctx, "acme", id, "go-caller")
			var fe *jobs.FieldError
			if !errors.As(err, &fe) && !errors.Is(err, jobs.ErrUnknownJobType) {
				t.Errorf("Go API: %v, want a *FieldError or ErrUnknownJobType", err)
			}
			if after := jobCount(t, in.base, tok); after != before {
				t.Errorf("a refused retry created a job: %v -> %v", before, after)
			}
			if s, _ := in.q.Statistics(ctx, "acme"); s.ByStatus[jobs.StatusPending] != statsBefore.ByStatus[jobs.StatusPending] {
				t.Errorf("a refused retry counted a pending job: %v -> %v", statsBefore.ByStatus, s.ByStatus)
			}
		})
	}
	// A valid one is still retried.
	j := create(t, &instance{base: in.base}, tok, map[string]any{"job_type": "image", "parameters": map[string]any{"size": map[string]any{"width": 3}}})
	call(t, "POST", in.base+"/api/v1/jobs/"+j["id"].(string)+"/cancel", tok, nil)
	if code, out := call(t, "POST", in.base+"/api/v1/jobs/"+j["id"].(string)+"/retry", tok, nil); code != 201 || out["retry_of"] != j["id"] {
		t.Errorf("retry of a valid job: %d %v", code, out)
	}
}
