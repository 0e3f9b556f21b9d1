// Package jobs is a reliable Redis job queue with workers, cancellation,
// progress and a scheduler; every replica of an app is a worker and a
// scheduler, coordinating only through Redis.
//
// Jobs are Redis hashes under one hash tag ("<prefix>{jobs}:"), so every Lua
// script runs on Redis Cluster too. A worker owns a job through a lease it
// renews (jobs.lease); a worker that dies loses its jobs to another within the
// lease plus jobs.sweep_interval, without spending a retry (counted as
// "recoveries"). Handler errors retry with exponential backoff and jitter up to
// max_retries (Permanent errors fail at once); a timeout cancels the handler's
// context and counts as a failed attempt. Cancelling a running job cancels its
// handler's context on whichever replica runs it, within about a second. Idle
// workers block on a notification list, so pickup is immediate without
// polling; priorities are weighted so that low still progresses under load.
//
// Throughput comes from batching, not from fewer guarantees: a worker takes
// jobs in batches (one script call leases many), records outcomes in batches,
// and frees a handler's slot as soon as it returns. While its jobs are short
// (recent average under 50 ms) it holds up to four times jobs.concurrency
// leased jobs so the next ones are at hand; with long jobs it holds no more
// than it runs, and a held job that waits a second for a slot goes back to the
// queue for another replica. Requires Redis 6.2 or later (LPOP with a count).
// At stop, running jobs get jobs.shutdown_grace, then are cancelled and put
// back; leases are renewed until every handler has returned, so a job never
// runs twice at once because of a shutdown.
//
// The scheduler fires cron (5 fields or @descriptors, with a time zone) or
// interval schedules anchored to their creation; each (schedule, slot) fires
// exactly once across replicas (a compare-and-set inside a script), within
// max_concurrent_runs, with a misfire policy after an outage.
//
// Storage: every key is built in keys.go by one injective rule (tenant and
// object ids must pass keyspace.ValidateID; the idempotency key is
// length-prefixed). Numbers are bounded before anything is written
// (limits.go: items_total up to 10^12, run_at at most 366 days ahead, pages
// up to 1,000,000), and every script checks all its writes before the first
// one, so an error never leaves a half-written job. Errors a script raises
// itself (an overflow, a key of the wrong type, a bad argument) answer 500,
// logged with the request id; Redis conditions (OOM, READONLY, LOADING, no
// connection …) answer 503 naming the condition.
//
// HTTP: /api/v1/jobs (jobs.read, jobs.write, jobs.cancel) and
// /api/v1/jobs/scheduler/scheduled-jobs (jobs.read, jobs.schedule); see
// docs/openapi.yaml.
//
// Handlers register through a value group:
//
//	fx.New(..., jobs.Module, jobs.AsHandler("images.resize", resize))
//
// A registration may carry a ParamsValidator, which checks a job's parameters
// before anything is stored — at enqueue, and when a schedule of the type is
// created or updated, since its jobs carry its parameters — so that bad
// parameters answer 400 naming the parameter ("parameters.width") instead of
// failing when the job runs; the Go API returns a *FieldError. DecodeParams
// decodes strictly and names the offending parameter:
//
//	jobs.AsHandler("images.resize", resize, jobs.WithValidator(func(p json.RawMessage) error {
//		var v struct{ Width int `json:"width"` }
//		if err := jobs.DecodeParams(p, &v); err != nil {
//			return err
//		}
//		if v.Width < 1 || v.Width > 10000 {
//			return &jobs.FieldError{Field: "width", Message: "must be between 1 and 10000"}
//		}
//		return nil
//	}))
//
// A handler still checks what it relies on when it runs: jobs stored before
// a validator existed never went through it. The built-in handlers come with
// theirs: NoopHandler takes no parameters (NoParameters), SleepHandler
// checks its own (ValidateSleepParams).
//
// Every request field is checked before anything is written: required text
// (title, name, job_type) must not be blank, text holds no control
// characters and has a maximum length (MaxTitleBytes, MaxDescriptionBytes),
// and a schedule's timing must yield a next run: a cron expression that
// matches no date (30 February), an @every outside one second to one year,
// or a TZ= prefix is refused. A stored schedule whose next run cannot be computed (stored by an
// older version) never fires: the scheduler takes it off the due list, clears
// its next_run_at and logs jobs.schedule_never_fires, until an update gives it
// a working timing.
//
// A key given twice in a body is refused with 400 naming the field, also when
// the two differ only in letter case ("title" and "Title": encoding/json would
// decode both into one field), and so is a list query parameter or an
// Idempotency-Key given twice. A Go caller's parameters follow the same rules
// as a body's (one object, no key twice), and Retry checks the new job like
// Enqueue. CheckRegistrations (run by the module) refuses a job type
// registered twice, one no request could name, or one without a handler.
//
// Damaged records do not stall the queue: a job whose key is not a hash, or
// whose tenant's counters are corrupt, is skipped by dequeue and sweep, taken
// off its list and logged (jobs.poison_job_skipped); a schedule whose key is
// damaged leaves the due list (jobs.schedule_poison_skipped), one the fire
// script refuses is parked; invalid stored JSON reads as null.
//
// Job events (job.created, job.started, job.progress, job.completed …) go to an
// optional EventPublisher — realtime.Publisher satisfies it — so the package
// works without realtime.
package jobs
