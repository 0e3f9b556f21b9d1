package jobs

import (
	"math"
	"time"
)

// Bounds on the numbers a request or a Go caller can give the queue. They are
// checked before anything is written, so a script never meets a number it
// cannot store or add up (the scripts check again, see scripts.go).
const (
	// MaxItems bounds items_total and the item counters a handler reports
	// (items_processed, items_succeeded, items_failed): 10^12. A tenant's
	// sums stay far below the 9e18 the scripts allow for any counter.
	MaxItems = 1_000_000_000_000
	// MaxRetries bounds max_retries.
	MaxRetries = 100
	// MaxTimeoutSeconds bounds timeout_seconds (a week).
	MaxTimeoutSeconds = 7 * 24 * 3600
	// MaxRunAhead is how far ahead run_at may be.
	MaxRunAhead = 366 * 24 * time.Hour
	// MaxPage bounds the page of a list: page × page_size stays far from
	// overflowing.
	MaxPage = 1_000_000
	// MaxPageSize bounds List's page size (HTTP allows up to 100).
	MaxPageSize = 1000
	// MaxIdempotencyKey bounds an idempotency key, in bytes.
	MaxIdempotencyKey = 255
	// MaxConcurrentRuns bounds a schedule's max_concurrent_runs.
	MaxConcurrentRuns = 1000
)

// checkScheduleNumbers checks the numbers of a schedule about to be written
// that its validation leaves unbounded above.
func checkScheduleNumbers(s *Schedule) error {
	if s.MaxConcurrentRuns < 1 || s.MaxConcurrentRuns > MaxConcurrentRuns {
		return fieldErr("max_concurrent_runs", "must be between 1 and %d", MaxConcurrentRuns)
	}
	return nil
}

// checkNumbers checks every number of r (after defaults are filled) against
// the bounds above; now is when the job is created.
func checkNumbers(r *CreateRequest, now time.Time) error {
	if *r.MaxRetries < 0 || *r.MaxRetries > MaxRetries {
		return fieldErr("max_retries", "must be between 0 and %d", MaxRetries)
	}
	if *r.TimeoutSeconds < 1 || *r.TimeoutSeconds > MaxTimeoutSeconds {
		return fieldErr("timeout_seconds", "must be between 1 and %d", MaxTimeoutSeconds)
	}
	if r.ItemsTotal != nil && (*r.ItemsTotal < 0 || *r.ItemsTotal > MaxItems) {
		return fieldErr("items_total", "must be between 0 and %d", int64(MaxItems))
	}
	if r.RunAt != nil && (r.RunAt.Before(time.Unix(0, 0)) || r.RunAt.After(now.Add(MaxRunAhead))) {
		return fieldErr("run_at", "must be after 1970-01-01 and at most %d days ahead", int(MaxRunAhead/(24*time.Hour)))
	}
	return nil
}

// clampItems keeps an item counter a handler reports within [0, MaxItems].
func clampItems(n int64) int64 { return min(max(n, 0), MaxItems) }

// clampPercent keeps a reported percentage within [0, 100] (NaN is 0).
func clampPercent(p float64) float64 {
	if math.IsNaN(p) {
		return 0
	}
	return min(max(p, 0), 100)
}

// satAdd adds without overflowing (saturating at the int64 bounds).
func satAdd(a, b int64) int64 {
	s := a + b
	switch {
	case a > 0 && b > 0 && s < 0:
		return math.MaxInt64
	case a < 0 && b < 0 && s >= 0:
		return math.MinInt64
	}
	return s
}
