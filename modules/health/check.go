package health

import (
	"context"
	"fmt"
	"sort"
	"sync"
	"time"
)

// Status is a check's verdict.
type Status string

// The statuses a check reports.
const (
	StatusHealthy   Status = "healthy"
	StatusDegraded  Status = "degraded"
	StatusUnhealthy Status = "unhealthy"
)

// Result is what a check found. Details are served by /health/{name}, merged
// into its JSON object.
type Result struct {
	Status  Status
	Message string
	Details map[string]any
}

// Check is one dependency's health probe.
type Check interface {
	// Name identifies the check in reports and in /health/{name}.
	Name() string
	// Required says whether the service is not ready unless this is healthy.
	Required() bool
	// Check probes the dependency; it must return when ctx is done.
	Check(ctx context.Context) Result
}

// NewCheck builds a Check from a function.
func NewCheck(name string, required bool, fn func(ctx context.Context) Result) Check {
	return funcCheck{name: name, required: required, fn: fn}
}

type funcCheck struct {
	name     string
	required bool
	fn       func(ctx context.Context) Result
}

func (c funcCheck) Name() string                     { return c.name }
func (c funcCheck) Required() bool                   { return c.required }
func (c funcCheck) Check(ctx context.Context) Result { return c.fn(ctx) }

// ServiceResult is one check's line in a Report.
type ServiceResult struct {
	Name     string         `json:"name"`
	Status   Status         `json:"status"`
	Message  string         `json:"message"`
	Required bool           `json:"required"`
	Details  map[string]any `json:"-"`
}

// Report is the outcome of running every check.
type Report struct {
	// Ready is true when every required check is healthy.
	Ready bool
	// Services holds each check's result, sorted by name.
	Services []ServiceResult
	// Failed names the required checks that are not healthy.
	Failed []string
}

// Run runs checks concurrently, each under its own timeout; a check still running
// at its timeout is reported unhealthy. A check that panics is reported unhealthy.
func Run(ctx context.Context, checks []Check, timeout time.Duration) Report {
	results := make([]ServiceResult, len(checks))
	var wg sync.WaitGroup
	for i, c := range checks {
		wg.Go(func() { results[i] = RunOne(ctx, c, timeout) })
	}
	wg.Wait()
	sort.Slice(results, func(i, j int) bool { return results[i].Name < results[j].Name })
	rep := Report{Ready: true, Services: results, Failed: []string{}}
	for _, r := range results {
		if r.Required && r.Status != StatusHealthy {
			rep.Ready = false
			rep.Failed = append(rep.Failed, r.Name)
		}
	}
	return rep
}

// RunOne runs a single check under timeout.
func RunOne(ctx context.Context, c Check, timeout time.Duration) ServiceResult {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	done := make(chan Result, 1)
	go func() {
		defer func() {
			if p := recover(); p != nil {
				done <- Result{Status: StatusUnhealthy, Message: fmt.Sprintf("check panicked: %v", p)}
			}
		}()
		done <- c.Check(ctx)
	}()
	var r Result
	select {
	case r = <-done:
	case <-ctx.Done():
		r = Result{Status: StatusUnhealthy, Message: fmt.Sprintf("check did not answer within %s", timeout)}
	}
	if r.Status == "" {
		r.Status = StatusUnhealthy
	}
	return ServiceResult{Name: c.Name(), Status: r.Status, Message: r.Message, Required: c.Required(), Details: r.Details}
}
