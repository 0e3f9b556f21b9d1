package jobs

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"reflect"
	"strconv"
	"strings"
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

// Registration binds a job type to its handler (see AsHandler) and,
// optionally, to a validator of its parameters.
type Registration struct {
	Type    string
	Handler Handler
	// Validate, when set, checks a job's parameters before anything is
	// stored: at enqueue and when a schedule of this type is created or
	// updated (its jobs carry the schedule's parameters). See ParamsValidator.
	Validate ParamsValidator
}

// ParamsValidator checks the parameters of a job of one type before the job
// is stored, so that bad parameters are refused to the caller (HTTP 400, a
// *FieldError from the Go API) instead of failing when the job runs. params
// is a JSON object ("{}" when the request had none).
//
// To name the bad parameter, return a *FieldError whose Field is the
// parameter's name ("duration", or a path such as "size.width"); the caller
// sees it as "parameters.duration". Any other error is reported on the field
// "parameters". A handler should still not trust its parameters at run time:
// jobs stored before a validator existed never went through it.
type ParamsValidator func(params json.RawMessage) error

// HandlerOption configures a registration made by AsHandler.
type HandlerOption func(*Registration)

// WithValidator makes AsHandler's registration check parameters with v at
// enqueue (and when a schedule is created or updated).
func WithValidator(v ParamsValidator) HandlerOption {
	return func(r *Registration) { r.Validate = v }
}

// NewRegistration builds the registration AsHandler supplies, for apps that
// provide registrations themselves (into HandlersGroup, or to NewWorker and
// Queue.SetHandlers without Fx).
func NewRegistration(jobType string, handler Handler, opts ...HandlerOption) Registration {
	r := Registration{Type: jobType, Handler: handler}
	for _, o := range opts {
		o(&r)
	}
	return r
}

// SetHandlers records regs so that Enqueue, CreateSchedule and
// UpdateSchedule apply their parameter validators. The Fx module calls it
// with the registered handlers; a queue built with NewQueue checks no
// parameters until it is called. Call it before the queue is used.
func (q *Queue) SetHandlers(regs []Registration) {
	if q.registry == nil {
		q.registry = &registry{}
	}
	q.registry.set(regs)
}

// checkParams runs jobType's parameter validator, when it has one, and names
// the field of what it refuses under "parameters".
func (q *Queue) checkParams(jobType string, params json.RawMessage) error {
	if q.registry == nil {
		return nil
	}
	v := q.registry.validator(jobType)
	if v == nil {
		return nil
	}
	err := v(params)
	if err == nil {
		return nil
	}
	var fe *FieldError
	if !errors.As(err, &fe) {
		return &FieldError{Field: "parameters", Message: err.Error()}
	}
	field := fe.Field
	switch {
	case field == "" || field == "parameters":
		field = "parameters"
	case !strings.HasPrefix(field, "parameters."):
		field = "parameters." + field
	}
	return &FieldError{Field: field, Message: fe.Message}
}

// DecodeParams decodes a job's parameters (a JSON object) into v, a pointer
// to a struct, for a ParamsValidator or a handler: a parameter v has no field
// for, a value of the wrong type, or a parameter given twice under keys that
// differ only in letter case ("duration" and "Duration", which encoding/json
// would both decode into one field), is a *FieldError naming the parameter.
func DecodeParams(params json.RawMessage, v any) error {
	if len(params) == 0 || string(params) == "null" {
		return nil
	}
	if field := foldedDuplicate(params, reflect.TypeOf(v)); field != "" {
		return &FieldError{Field: field, Message: duplicateMessage(field)}
	}
	dec := json.NewDecoder(bytes.NewReader(params))
	dec.DisallowUnknownFields()
	err := dec.Decode(v)
	if err == nil {
		if dec.More() {
			return &FieldError{Field: "parameters", Message: "must be a single JSON object"}
		}
		return nil
	}
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) && te.Field != "" {
		return &FieldError{Field: te.Field, Message: fmt.Sprintf("must be a JSON %s, got %s", jsonKind(te.Type), te.Value)}
	}
	if name, ok := strings.CutPrefix(err.Error(), "json: unknown field "); ok {
		name, _ = strconv.Unquote(name)
		return &FieldError{Field: name, Message: "is not a parameter of this job type"}
	}
	return &FieldError{Field: "parameters", Message: err.Error()}
}

// jsonKind names the JSON value a Go type decodes from.
func jsonKind(t reflect.Type) string {
	switch t.Kind() {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "integer"
	case reflect.Float32, reflect.Float64:
		return "number"
	case reflect.String:
		return "string"
	case reflect.Bool:
		return "boolean"
	case reflect.Slice, reflect.Array:
		return "array"
	default:
		return "object"
	}
}

// NoParameters is the ParamsValidator of a job type that takes no
// parameters: anything but an empty object is refused, naming the first
// parameter given.
func NoParameters(params json.RawMessage) error {
	return DecodeParams(params, &struct{}{})
}

type permanentError struct{ err error }

func (e permanentError) Error() string { return e.err.Error() }
func (e permanentError) Unwrap() error { return e.err }

// Permanent marks err as not worth retrying: the job fails at once.
func Permanent(err error) error { return permanentError{err} }

// NoopHandler completes at once. It takes no parameters (register it with
// WithValidator(NoParameters)).
func NoopHandler(context.Context, *Job, Progress) (any, error) {
	return noopResult, nil
}

var noopResult = json.RawMessage(`{"ok":true}`)

// Bounds of the sleep handler's parameters.
const (
	// MaxSleep is the longest "duration" SleepHandler accepts: the longest
	// timeout_seconds a job can have.
	MaxSleep = 7 * 24 * time.Hour
	// MaxSleepSteps is the most "steps" SleepHandler accepts.
	MaxSleepSteps = 1000
)

// sleepParams are the sleep handler's parameters, checked.
type sleepParams struct {
	duration time.Duration
	steps    int
}

// parseSleepParams decodes and checks the sleep handler's parameters; its
// errors are *FieldErrors naming the parameter.
func parseSleepParams(params json.RawMessage) (sleepParams, error) {
	var raw struct {
		Duration any  `json:"duration"`
		Steps    *int `json:"steps"`
	}
	if err := DecodeParams(params, &raw); err != nil {
		return sleepParams{}, err
	}
	d, err := parseDuration(raw.Duration)
	if err != nil {
		return sleepParams{}, &FieldError{Field: "duration", Message: err.Error()}
	}
	p := sleepParams{duration: d, steps: 10}
	if raw.Steps != nil {
		if *raw.Steps < 1 || *raw.Steps > MaxSleepSteps {
			return sleepParams{}, &FieldError{Field: "steps", Message: fmt.Sprintf("must be between 1 and %d, got %d", MaxSleepSteps, *raw.Steps)}
		}
		p.steps = *raw.Steps
	}
	return p, nil
}

// ValidateSleepParams is SleepHandler's ParamsValidator: "duration" a Go
// duration or a number of seconds between 0 and MaxSleep, "steps" an integer
// between 1 and MaxSleepSteps, nothing else.
func ValidateSleepParams(params json.RawMessage) error {
	_, err := parseSleepParams(params)
	return err
}

// SleepHandler sleeps for the "duration" parameter (a Go duration such as
// "1500ms" or a number of seconds; default 1s, at most MaxSleep) in "steps"
// steps (default 10, at most MaxSleepSteps), reporting progress after each
// and honouring cancellation. Register it with
// WithValidator(ValidateSleepParams); it checks its parameters again when it
// runs (a job stored before that fails at once, never sleeping a negative or
// overflowed time).
func SleepHandler(ctx context.Context, job *Job, progress Progress) (any, error) {
	params, err := parseSleepParams(job.Parameters)
	if err != nil {
		var fe *FieldError
		if errors.As(err, &fe) && fe.Field != "parameters" {
			err = &FieldError{Field: "parameters." + fe.Field, Message: fe.Message}
		}
		return nil, Permanent(err)
	}
	d, steps := params.duration, params.steps
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

// parseDuration reads a duration parameter: absent means a second; a number
// is seconds; a string is a Go duration or a number of seconds. It must be
// between 0 and MaxSleep (a check made on the float, before any conversion
// could overflow).
func parseDuration(v any) (time.Duration, error) {
	seconds := func(f float64) (time.Duration, error) {
		if math.IsNaN(f) || f < 0 || f > MaxSleep.Seconds() {
			return 0, fmt.Errorf("must be between 0 and %s, got %v seconds", MaxSleep, v)
		}
		return time.Duration(f * float64(time.Second)), nil
	}
	switch x := v.(type) {
	case nil:
		return time.Second, nil
	case float64:
		return seconds(x)
	case string:
		if d, err := time.ParseDuration(x); err == nil {
			if d < 0 || d > MaxSleep {
				return 0, fmt.Errorf("must be between 0 and %s, got %s", MaxSleep, x)
			}
			return d, nil
		}
		if f, err := strconv.ParseFloat(strings.TrimSpace(x), 64); err == nil {
			return seconds(f)
		}
	}
	return 0, fmt.Errorf("expected a duration such as 1500ms or a number of seconds, got %v", v)
}
