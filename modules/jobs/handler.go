package jobs

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"
)

// Handler runs one job. It must return when ctx is done (cancel, timeout,
// shutdown). A returned error retries the job with backoff until max_retries,
// unless wrapped with Permanent.
type Handler func(ctx context.Context, job *Job, progress Progress) (result any, err error)

// Progress reports a running job's progress; updates are stored (throttled)
// and published as job.progress events.
type Progress func(ctx context.Context, p ProgressUpdate)

// ProgressUpdate is a snapshot of a job's progress.
type ProgressUpdate struct {
	Percent        float64
	ItemsProcessed int64
	ItemsSucceeded int64
	ItemsFailed    int64
	CurrentItem    string
}

// Registration binds a job type to its handler (see AsHandler).
type Registration struct {
	Type    string
	Handler Handler
}

type permanentError struct{ err error }

func (e permanentError) Error() string { return e.err.Error() }
func (e permanentError) Unwrap() error { return e.err }

// Permanent marks err as not worth retrying: the job fails at once.
func Permanent(err error) error { return permanentError{err} }

// NoopHandler completes at once.
func NoopHandler(context.Context, *Job, Progress) (any, error) {
	return noopResult, nil
}

var noopResult = json.RawMessage(`{"ok":true}`)

// SleepHandler sleeps for the "duration" parameter (a Go duration such as
// "1500ms" or a number of seconds) in "steps" steps (default 10), reporting
// progress after each and honouring cancellation.
func SleepHandler(ctx context.Context, job *Job, progress Progress) (any, error) {
	var params struct {
		Duration any `json:"duration"`
		Steps    int `json:"steps"`
	}
	if err := decodeParams(job, &params); err != nil {
		return nil, Permanent(err)
	}
	d, err := parseDuration(params.Duration)
	if err != nil {
		return nil, Permanent(fmt.Errorf("parameters.duration: %w", err))
	}
	steps := params.Steps
	if steps <= 0 {
		steps = 10
	}
	step := d / time.Duration(steps)
	for i := 1; i <= steps; i++ {
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(step):
		}
		progress(ctx, ProgressUpdate{Percent: float64(i) * 100 / float64(steps), ItemsProcessed: int64(i), ItemsSucceeded: int64(i), CurrentItem: "step " + strconv.Itoa(i)})
	}
	return map[string]any{"slept": d.String(), "steps": steps}, nil
}

func parseDuration(v any) (time.Duration, error) {
	switch x := v.(type) {
	case nil:
		return time.Second, nil
	case float64:
		if x < 0 {
			return 0, errors.New("must not be negative")
		}
		return time.Duration(x * float64(time.Second)), nil
	case string:
		if d, err := time.ParseDuration(x); err == nil && d >= 0 {
			return d, nil
		}
		if f, err := strconv.ParseFloat(x, 64); err == nil && f >= 0 {
			return time.Duration(f * float64(time.Second)), nil
		}
	}
	return 0, fmt.Errorf("expected a duration such as 1500ms or a number of seconds, got %v", v)
}

// decodeParams decodes the job's parameters into v.
func decodeParams(job *Job, v any) error {
	if len(job.Parameters) == 0 || string(job.Parameters) == "null" {
		return nil
	}
	if err := json.Unmarshal(job.Parameters, v); err != nil {
		return fmt.Errorf("parameters: %w", err)
	}
	return nil
}
