package jobs

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"runtime/debug"
	"sort"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/redifx/redifx/modules/redis"
	goredis "github.com/redis/go-redis/v9"
	"go.uber.org/zap"
)

// Causes of a handler's context ending, besides its timeout.
var (
	errCancelRequested = errors.New("job cancelled")
	errShutdown        = errors.New("worker shutting down")
	errLeaseLost       = errors.New("lease lost to another worker")
)

// WorkerStats are a worker's counters.
type WorkerStats struct {
	Started, Completed, Failed, Retried, Recovered, Requeued atomic.Uint64
	Running                                                  atomic.Int64
	// Poisoned counts damaged records (a job whose key is not a hash, a
	// corrupt counter) that dequeue and sweep skipped and logged.
	Poisoned atomic.Uint64
}

// Worker runs jobs from the queue: it owns each through a renewed lease,
// retries failures with backoff, puts jobs back at shutdown, and sweeps
// expired leases, due retries and expired jobs.
type Worker struct {
	q        *Queue
	cfg      Config
	handlers map[string]Handler
	id       string
	log      *zap.Logger

	mu      sync.Mutex
	running map[string]*run

	avgRun     atomic.Int64  // recent handler run time, ns (see holdLimit)
	noPrefetch atomic.Bool   // a held job waited too long; cleared when a job ends
	seq        atomic.Uint64 // numbers dequeue calls (lease tokens)

	stats WorkerStats

	stopFetch context.CancelFunc // stops taking jobs
	stopRuns  context.CancelCauseFunc
	stopLoops context.CancelFunc
	fetchDone chan struct{}
	loops     sync.WaitGroup

	finishCh     chan finishReq
	stopFinisher context.CancelFunc
	finisherDone chan struct{}
	runs         sync.WaitGroup
}

type run struct {
	token  string
	cancel context.CancelCauseFunc
}

// NewWorker builds a worker for the registered handlers.
func NewWorker(q *Queue, regs []Registration) *Worker {
	h := make(map[string]Handler, len(regs))
	for _, r := range regs {
		h[r.Type] = r.Handler
		// Every type's series exist from the start, at zero.
		for _, v := range []*prometheus.CounterVec{q.metrics.started, q.metrics.completed, q.metrics.failed, q.metrics.recovered} {
			v.WithLabelValues(r.Type)
		}
	}
	w := &Worker{q: q, cfg: q.cfg, handlers: h, id: newID()[:12], log: q.log, running: map[string]*run{}}
	w.avgRun.Store(int64(time.Second)) // no prefetch until jobs prove short
	return w
}

// Stats returns the worker's counters.
func (w *Worker) Stats() *WorkerStats { return &w.stats }

// Start launches the fetch, renew, sweep and cancel loops.
func (w *Worker) Start(context.Context) error {
	fetchCtx, stopFetch := context.WithCancel(context.Background())
	runCtx, stopRuns := context.WithCancelCause(context.Background())
	loopCtx, stopLoops := context.WithCancel(context.Background())
	w.stopFetch, w.stopRuns, w.stopLoops = stopFetch, stopRuns, stopLoops
	w.fetchDone = make(chan struct{})
	w.finishCh = make(chan finishReq)
	finCtx, stopFinisher := context.WithCancel(context.Background())
	w.stopFinisher = stopFinisher
	w.finisherDone = make(chan struct{})
	go func() { defer close(w.finisherDone); w.finisher(finCtx) }()
	w.loops.Add(3)
	go func() { defer close(w.fetchDone); w.fetch(fetchCtx, runCtx) }()
	go func() { defer w.loops.Done(); w.every(loopCtx, w.cfg.Lease/3, w.renew) }()
	go func() { defer w.loops.Done(); w.every(loopCtx, w.cfg.SweepInterval, w.sweep) }()
	go func() { defer w.loops.Done(); w.listenCancels(loopCtx) }()
	return nil
}

// Stop stops taking jobs, gives running ones ShutdownGrace to finish, then
// cancels them and puts them back without spending a retry.
func (w *Worker) Stop(ctx context.Context) error {
	if w.stopFetch == nil {
		return nil
	}
	w.stopFetch()
	<-w.fetchDone // no job starts after this
	done := make(chan struct{})
	go func() { w.runs.Wait(); close(done) }()
	grace := time.NewTimer(w.cfg.ShutdownGrace)
	defer grace.Stop()
	select {
	case <-done:
	case <-grace.C:
	case <-ctx.Done():
	}
	// Whatever still runs is cancelled and put back (see execute); lease
	// renewal goes on until every handler has returned, so no other worker can
	// take a job while it still runs here.
	w.stopRuns(errShutdown)
	<-done
	w.stopFinisher() // every handler has returned and recorded its outcome
	<-w.finisherDone
	w.stopLoops()
	w.loops.Wait()
	return nil
}

func (w *Worker) every(ctx context.Context, d time.Duration, f func(context.Context)) {
	t := time.NewTicker(d)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			f(ctx)
		}
	}
}

// order returns the priorities to try, weighted at random so that higher ones
// usually come first and lower ones still progress under load.
func order() []any {
	type pw struct {
		p string
		k float64
	}
	items := make([]pw, 0, len(Priorities))
	for _, p := range Priorities {
		// Efraimidis–Spirakis weighted shuffle.
		items = append(items, pw{p, -rand.ExpFloat64() / float64(priorityWeights[p])})
	}
	sort.Slice(items, func(i, j int) bool { return items[i].k > items[j].k })
	out := make([]any, len(items))
	for i, it := range items {
		out[i] = it.p
	}
	return out
}

// Prefetch: while jobs are short, a worker holds up to prefetchFactor ×
// Concurrency leased jobs and refills in batches of Concurrency, so that the
// next jobs are at hand when running ones end and taking jobs costs one round
// trip per batch, not per job. Long jobs would keep held jobs from idle
// replicas, so prefetch is off while the recent average run time is above
// shortJob, and a held job that waits holdWait for a free slot goes back to
// its queue (no recovery counted) and turns prefetch off until a job ends.
const (
	prefetchFactor = 4
	shortJob       = 50 * time.Millisecond
	holdWait       = time.Second
)

// noteRun folds a handler's run time into the average that decides prefetch.
func (w *Worker) noteRun(d time.Duration) {
	for {
		old := w.avgRun.Load()
		avg := old + (int64(d)-old)/8
		if w.avgRun.CompareAndSwap(old, avg) {
			return
		}
	}
}

// holdLimit is how many leased jobs the worker may hold, and the smallest
// batch worth a round trip while the queues are busy.
func (w *Worker) holdLimit() (limit, batch int) {
	c := w.cfg.Concurrency
	if !w.noPrefetch.Load() && time.Duration(w.avgRun.Load()) < shortJob {
		return prefetchFactor * c, c
	}
	return c, 1
}

// fetch takes jobs while the worker has room (see holdLimit); at most
// Concurrency handlers run at once. When the queues are empty it blocks on the
// notify list (woken by every enqueue), so idle pickup is immediate without
// polling Redis in a loop.
func (w *Worker) fetch(ctx, runCtx context.Context) {
	var held atomic.Int64
	freed := make(chan struct{}, 1)
	exec := make(chan struct{}, w.cfg.Concurrency)
	busy := false // the last dequeue got all it asked for
	for {
		limit, batch := w.holdLimit()
		if !busy {
			batch = 1
		}
		want := limit - int(held.Load())
		if want < batch {
			select {
			case <-ctx.Done():
				return
			case <-freed:
			}
			continue
		}
		taken, err := w.dequeue(ctx, want)
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			// Redis is down (or, logged, the script refused): pause, then
			// try again.
			w.logicError("dequeue", err)
			busy = false
			select {
			case <-ctx.Done():
				return
			case <-time.After(w.q.mgr.Config().ReconnectInterval):
			}
			continue
		}
		busy = len(taken) >= min(want, maxDequeue)
		held.Add(int64(len(taken)))
		for _, l := range taken {
			jobCtx, r := w.hold(runCtx, l)
			w.runs.Add(1)
			go func() {
				defer w.runs.Done()
				defer func() {
					held.Add(-1)
					select {
					case freed <- struct{}{}:
					default:
					}
				}()
				defer w.release(l.job.ID, r)
				w.await(ctx, jobCtx, exec, l)
			}()
		}
		if len(taken) == 0 {
			// Nothing queued: wait for a notification (bounded, so that due
			// retries promoted by any sweeper and stop requests are seen).
			if err := w.q.rdb.BLPop(ctx, time.Second, w.q.k.notify()).Err(); err != nil && !errors.Is(err, goredis.Nil) && ctx.Err() == nil {
				select {
				case <-ctx.Done():
					return
				case <-time.After(w.q.mgr.Config().ReconnectInterval):
				}
			}
		}
	}
}

// await runs a held job once one of the exec slots is free. A job that waits
// longer than holdWait, or is still waiting when the worker stops taking
// jobs, goes back to its queue unstarted.
func (w *Worker) await(fetchCtx, jobCtx context.Context, exec chan struct{}, l leased) {
	if fetchCtx.Err() != nil {
		w.putBack(l, true) // shutting down: not started, so not run
		return
	}
	select {
	case exec <- struct{}{}:
	default:
		t := time.NewTimer(holdWait)
		defer t.Stop()
		select {
		case exec <- struct{}{}:
		case <-fetchCtx.Done():
			w.putBack(l, true)
			return
		case <-jobCtx.Done():
			w.notStarted(l, context.Cause(jobCtx))
			return
		case <-t.C:
			// The running jobs are long: hand this one to a worker with room,
			// and stop prefetching until a job ends.
			w.noPrefetch.Store(true)
			w.putBack(l, false)
			return
		}
	}
	// The slot is free again as soon as the handler has returned: recording
	// the outcome (batched, see finisher) does not hold up the next handler.
	held := true
	free := func() {
		if held {
			held = false
			<-exec
		}
	}
	defer free()
	if jobCtx.Err() != nil {
		w.notStarted(l, context.Cause(jobCtx))
		return
	}
	w.execute(jobCtx, l.job, l.token, free)
}

// hold registers a leased job for lease renewal (and cancel requests) from
// the moment it is taken, before its handler starts.
func (w *Worker) hold(parent context.Context, l leased) (context.Context, *run) {
	ctx, cancel := context.WithCancelCause(parent)
	r := &run{token: l.token, cancel: cancel}
	w.mu.Lock()
	old := w.running[l.job.ID]
	w.running[l.job.ID] = r
	w.mu.Unlock()
	if old != nil {
		// This worker held an earlier lease of the job (it expired, the job
		// was put back and is taken again): that run has lost it.
		old.cancel(errLeaseLost)
	}
	return ctx, r
}

// release unregisters a job taken by hold. The entry may already belong to a
// newer lease of the same job (put back, then taken again by this worker):
// that one stays.
func (w *Worker) release(id string, r *run) {
	r.cancel(nil)
	w.mu.Lock()
	if w.running[id] == r {
		delete(w.running, id)
	}
	w.mu.Unlock()
}

// putBack returns a leased job whose handler did not start. It never counts
// as a retry; at shutdown (shutdown set) it counts as a recovery, like every
// job put back by a shutdown, while a job handed on by a busy worker does not.
func (w *Worker) putBack(l leased, shutdown bool) {
	if !shutdown {
		w.logicError("requeue", requeueScript.Run(context.Background(), w.q.rdb, []string{w.q.k.meta()}, w.q.k.base, l.job.ID, l.token, "0").Err())
		return
	}
	w.requeue(context.Background(), l.job, l.token)
}

// requeue puts back a job this worker leased, because it is shutting down.
func (w *Worker) requeue(ctx context.Context, job *Job, token string) {
	ok, err := requeueScript.Run(ctx, w.q.rdb, []string{w.q.k.meta()}, w.q.k.base, job.ID, token, "1").Text()
	if err == nil && ok == "ok" {
		w.stats.Requeued.Add(1)
		w.q.metrics.recovered.WithLabelValues(job.JobType).Inc()
	}
	w.logicError("requeue", err)
}

// notStarted handles a leased job whose context ended before it started.
func (w *Worker) notStarted(l leased, cause error) {
	switch {
	case errors.Is(cause, errCancelRequested):
		w.finish(context.Background(), l.job, l.token, "cancelled", false, nil, errors.New("cancelled by request"), nil)
	case errors.Is(cause, errLeaseLost):
		// Another worker owns it now.
	default:
		w.putBack(l, true)
	}
}

// leased is a job this worker now owns.
type leased struct {
	job   *Job
	token string
}

// maxDequeue bounds the jobs one dequeue call takes.
const maxDequeue = 256

func (w *Worker) dequeue(ctx context.Context, n int) ([]leased, error) {
	now := w.q.now().UnixMilli()
	// Every call's tokens differ from every other's (and each job's from its
	// earlier leases): the worker id and a sequence number prefix the job id.
	prefix := w.id + ":" + strconv.FormatUint(w.seq.Add(1), 36) + ":"
	args := append([]any{w.q.k.base, now, now + w.cfg.Lease.Milliseconds(), w.id, min(n, maxDequeue), prefix}, order()...)
	reply, err := dequeueScript.Run(ctx, w.q.rdb, []string{w.q.k.meta()}, args...).Slice()
	if err != nil {
		return nil, err
	}
	if len(reply) != 2 {
		return nil, fmt.Errorf("dequeue script answered %d values, not 2", len(reply))
	}
	res, _ := reply[0].([]any)
	w.poison("dequeue", reply[1])
	started := strconv.FormatInt(now, 10)
	out := make([]leased, 0, len(res)/3)
	for i := 0; i+2 < len(res); i += 3 {
		token, _ := res[i+1].(string)
		flat, _ := res[i+2].([]any)
		h := make(map[string]string, len(flat)/2+2)
		for j := 0; j+1 < len(flat); j += 2 {
			k, _ := flat[j].(string)
			v, _ := flat[j+1].(string)
			h[k] = v
		}
		// The hash as the script found it, with what the lease changed.
		h["status"], h["started_at"] = string(StatusRunning), started
		out = append(out, leased{job: jobFromHash(h), token: token})
	}
	return out, nil
}

// execute runs one leased job to an outcome; ctx is the job's own context
// (see hold), cancelled with a cause. It calls handlerDone once the handler
// has returned (or would not run), before the outcome is recorded.
func (w *Worker) execute(ctx context.Context, job *Job, token string, handlerDone func()) {
	id := job.ID
	w.stats.Running.Add(1)
	w.q.metrics.running.Inc()
	running := true
	ended := func() {
		if running {
			running = false
			w.stats.Running.Add(-1)
			w.q.metrics.running.Dec()
			handlerDone()
		}
	}
	defer ended()
	// Redis calls about the job use their own context: they must happen even
	// when the handler's context has been cancelled.
	bg := context.WithoutCancel(ctx)

	w.stats.Started.Add(1)
	w.q.metrics.started.WithLabelValues(job.JobType).Inc()
	if job.StartedAt != nil {
		due := job.CreatedAt
		if job.RunAt != nil && job.RunAt.After(*due) {
			due = job.RunAt
		}
		if job.Attempts == 0 && job.Recoveries == 0 && due != nil {
			w.q.metrics.wait.Observe(job.StartedAt.Sub(*due).Seconds())
		}
	}
	w.q.emit(bg, job, "job.started", nil)
	handler, ok := w.handlers[job.JobType]
	if !ok {
		ended()
		w.finish(bg, job, token, "failed", true, nil, fmt.Errorf("no handler for job type %q in this worker", job.JobType), nil)
		return
	}
	// The stored timeout is within bounds unless the hash was altered; keep
	// it there so that the duration cannot overflow.
	timeout := time.Duration(min(max(job.TimeoutSeconds, 1), MaxTimeoutSeconds)) * time.Second
	runCtx, cancelTimeout := context.WithTimeout(ctx, timeout)
	defer cancelTimeout()

	pr := &progressor{w: w, job: job, token: token}
	began := time.Now()
	result, herr := safeCall(runCtx, handler, job, pr.report)
	w.noteRun(time.Since(began))
	w.noPrefetch.Store(false)
	ended()
	cause := context.Cause(ctx)
	switch {
	case errors.Is(cause, errLeaseLost):
		w.log.Warn("jobs.lease_lost", zap.String("job_id", id))
		return // another worker owns it now
	case errors.Is(cause, errShutdown):
		w.requeue(bg, job, token)
		return
	case errors.Is(cause, errCancelRequested):
		w.finish(bg, job, token, "cancelled", false, nil, errors.New("cancelled by request"), pr)
		return
	}
	if herr == nil {
		w.finish(bg, job, token, "completed", false, result, nil, pr)
		return
	}
	timedOut := errors.Is(runCtx.Err(), context.DeadlineExceeded)
	if timedOut {
		herr = fmt.Errorf("timed out after %ds: %w", job.TimeoutSeconds, herr)
	}
	var perm permanentError
	if !errors.As(herr, &perm) && job.Attempts+1 <= job.MaxRetries {
		w.finish(bg, job, token, "retry", true, nil, herr, pr)
		return
	}
	outcome := "failed"
	if timedOut {
		outcome = "timeout"
	}
	w.finish(bg, job, token, outcome, true, nil, herr, pr)
}

func safeCall(ctx context.Context, h Handler, job *Job, p Progress) (result any, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = Permanent(fmt.Errorf("handler panicked: %v\n%s", r, debug.Stack()))
		}
	}()
	return h(ctx, job, p)
}

// backoff is exponential with full jitter in [d/2, d].
func (w *Worker) backoff(attempt int) time.Duration {
	// base << a cannot overflow when base <= max >> a.
	d := w.cfg.RetryMaxDelay
	if a := min(max(attempt, 0), 30); w.cfg.RetryBaseDelay > 0 && w.cfg.RetryBaseDelay <= w.cfg.RetryMaxDelay>>a {
		d = w.cfg.RetryBaseDelay << a
	}
	return d/2 + time.Duration(rand.Int64N(int64(d/2)+1))
}

func (w *Worker) finish(ctx context.Context, job *Job, token, outcome string, failed bool, result any, herr error, pr *progressor) {
	now := w.q.now()
	var fields []any
	if pr != nil {
		fields = append(fields, pr.fields()...)
	}
	attempts := job.Attempts
	if failed {
		attempts++
		fields = append(fields, "attempts", attempts)
	}
	if outcome == "completed" {
		if result != nil {
			fields = append(fields, "result", encodeResult(result))
		}
		if job.ErrorMessage != "" || len(job.ErrorDetails) > 0 && string(job.ErrorDetails) != "null" {
			// An earlier attempt's error no longer applies.
			fields = append(fields, "error_message", "", "error_details", "")
		}
		if pr == nil || !pr.sent {
			fields = append(fields, "progress_percent", "100")
		}
	}
	if herr != nil {
		details, _ := json.Marshal(map[string]any{"attempt": attempts, "error": herr.Error(), "at": now.UTC().Format(time.RFC3339Nano)})
		fields = append(fields, "error_message", herr.Error(), "error_details", string(details))
	}
	retryAt := int64(0)
	if outcome == "retry" {
		retryAt = now.Add(w.backoff(job.Attempts)).UnixMilli()
	}
	group := append([]any{job.ID, token, outcome, retryAt, len(fields)}, fields...)
	res, err := w.finishBatched(ctx, group)
	if err != nil || res != "ok" {
		w.log.Warn("jobs.finish_failed", zap.String("job_id", job.ID), zap.String("outcome", outcome), zap.String("result", res), zap.Error(err))
		return
	}
	switch outcome {
	case "completed":
		w.stats.Completed.Add(1)
		w.q.metrics.completed.WithLabelValues(job.JobType).Inc()
	case "retry":
		w.stats.Retried.Add(1)
		w.q.metrics.failed.WithLabelValues(job.JobType).Inc()
	case "cancelled":
	default:
		w.stats.Failed.Add(1)
		w.q.metrics.failed.WithLabelValues(job.JobType).Inc()
	}
	if w.q.pub == nil {
		return
	}
	// The event is built from what was just written, not read back.
	final := *job
	final.Status = Status(outcome)
	if outcome == "retry" {
		final.Status = StatusRetrying
	}
	if u, ok := pr.latest(); ok {
		final.ProgressPct, final.ItemsProcessed = u.Percent, u.ItemsProcessed
	} else if outcome == "completed" {
		final.ProgressPct = 100
	}
	event := map[string]string{"completed": "job.completed", "failed": "job.failed", "timeout": "job.timeout", "cancelled": "job.cancelled", "retry": "job.retrying"}[outcome]
	extra := map[string]any{}
	if herr != nil {
		extra["error"] = herr.Error()
	}
	w.q.emit(ctx, &final, event, extra)
}

// encodeResult is a handler's result as stored JSON. A json.RawMessage that
// is valid JSON is stored as it is (no reflection).
func encodeResult(result any) string {
	if raw, ok := result.(json.RawMessage); ok && json.Valid(raw) {
		return string(raw)
	}
	raw, err := json.Marshal(result)
	if err != nil {
		raw, _ = json.Marshal(map[string]string{"unencodable_result": err.Error()})
	}
	return string(raw)
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

func boolStr(b bool) string { return strconv.Itoa(boolInt(b)) }

// logicError logs err when it is not a Redis condition (nor a cancellation):
// a script that refused its arguments or found a key of the wrong type, which
// retrying will not fix and an operator must see.
func (w *Worker) logicError(what string, err error) {
	if err == nil || errors.Is(err, context.Canceled) {
		return
	}
	if _, ok := redis.Condition(err); !ok {
		w.log.Error("jobs.script_failed", zap.String("script", what), zap.Error(err))
	}
}

// poison logs the poison records a script skipped (a flat list of job id,
// reason): a damaged job or statistics hash that an operator must look at.
// The script has taken each off the list it was on, so it is reported once.
func (w *Worker) poison(script string, list any) {
	flat, _ := list.([]any)
	for i := 0; i+1 < len(flat); i += 2 {
		id, _ := flat[i].(string)
		reason, _ := flat[i+1].(string)
		w.stats.Poisoned.Add(1)
		w.log.Error("jobs.poison_job_skipped", zap.String("script", script), zap.String("job_id", id), zap.String("reason", reason))
	}
}

// renew extends the leases of running jobs; a lost lease or a cancel request
// cancels the handler.
func (w *Worker) renew(ctx context.Context) {
	w.mu.Lock()
	args := []any{w.q.k.base, w.q.now().UnixMilli(), w.cfg.Lease.Milliseconds()}
	sent := make(map[string]*run, len(w.running))
	for id, r := range w.running {
		args = append(args, id, r.token)
		sent[id] = r
	}
	w.mu.Unlock()
	if len(args) == 3 {
		return
	}
	res, err := renewScript.Run(ctx, w.q.rdb, []string{w.q.k.meta()}, args...).StringSlice()
	if err != nil {
		w.logicError("renew", err)
		return
	}
	// An answer concerns the lease whose token was sent: the job may have
	// been put back and leased again by this worker meanwhile.
	for i := 0; i+1 < len(res); i += 2 {
		r := sent[res[i]]
		if r == nil {
			continue
		}
		switch res[i+1] {
		case "lost":
			r.cancel(errLeaseLost)
		case "cancel":
			r.cancel(errCancelRequested)
		}
	}
}

func (w *Worker) cancelRun(id string, cause error) {
	w.mu.Lock()
	r := w.running[id]
	w.mu.Unlock()
	if r != nil {
		r.cancel(cause)
	}
}

// sweep reclaims expired leases, promotes due delayed jobs and deletes expired
// finished jobs. Every replica sweeps; the script makes it safe.
func (w *Worker) sweep(ctx context.Context) {
	res, err := sweepScript.Run(ctx, w.q.rdb, []string{w.q.k.meta()}, w.q.k.base, w.q.now().UnixMilli(), 200, w.cfg.Retention.Milliseconds()).Slice()
	if err != nil || len(res) < 4 {
		w.logicError("sweep", err)
		return
	}
	w.poison("sweep", res[3])
	if reclaimed, _ := res[0].(int64); reclaimed > 0 {
		w.stats.Recovered.Add(uint64(reclaimed))
		w.log.Info("jobs.recovered", zap.Int64("jobs", reclaimed))
	}
	for _, t := range res[4:] {
		if jobType, ok := t.(string); ok {
			w.q.metrics.recovered.WithLabelValues(jobType).Inc()
		}
	}
}

// listenCancels cancels local handlers as soon as a cancel is published.
func (w *Worker) listenCancels(ctx context.Context) {
	sub := w.q.mgr.Named("pubsub").Subscribe(ctx, w.q.k.cancel())
	defer func() { _ = sub.Close() }()
	ch := sub.Channel()
	for {
		select {
		case <-ctx.Done():
			return
		case m, ok := <-ch:
			if !ok {
				return
			}
			w.cancelRun(m.Payload, errCancelRequested)
		}
	}
}

// progressor stores throttled progress and publishes it.
type progressor struct {
	w     *Worker
	job   *Job
	token string
	mu    sync.Mutex
	last  time.Time
	cur   ProgressUpdate
	sent  bool
}

func (p *progressor) report(ctx context.Context, u ProgressUpdate) {
	p.mu.Lock()
	p.cur, p.sent = u, true
	due := time.Since(p.last) >= p.w.cfg.ProgressInterval
	if due {
		p.last = time.Now()
	}
	p.mu.Unlock()
	if !due {
		return
	}
	ctx = context.WithoutCancel(ctx)
	args := append([]any{p.w.q.k.base, p.job.ID, p.token}, p.fields()...)
	if res, err := progressScript.Run(ctx, p.w.q.rdb, []string{p.w.q.k.meta()}, args...).Text(); err != nil || res != "ok" {
		p.w.logicError("progress", err)
		return
	}
	j := *p.job
	j.ProgressPct, j.ItemsProcessed = u.Percent, u.ItemsProcessed
	j.Status = StatusRunning
	p.w.q.emit(ctx, &j, "job.progress", map[string]any{"message": u.CurrentItem})
}

// latest returns the latest update, if any.
func (p *progressor) latest() (ProgressUpdate, bool) {
	if p == nil {
		return ProgressUpdate{}, false
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.cur, p.sent
}

func (p *progressor) fields() []any {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.sent {
		return nil
	}
	// What a handler reports is kept within bounds (limits.go): a percentage
	// in [0, 100], item counters in [0, MaxItems].
	u := p.cur
	return []any{"progress_percent", strconv.FormatFloat(clampPercent(u.Percent), 'f', -1, 64),
		"items_processed", clampItems(u.ItemsProcessed), "items_succeeded", clampItems(u.ItemsSucceeded),
		"items_failed", clampItems(u.ItemsFailed), "current_item", u.CurrentItem}
}

// finishReq is one job's outcome waiting for the batch that records it.
type finishReq struct {
	group []any
	done  chan finishRes
}

type finishRes struct {
	res string
	err error
}

// finishBatched hands an outcome to the finisher, which records every outcome
// that is waiting in one script call: jobs that end together cost one round
// trip.
func (w *Worker) finishBatched(ctx context.Context, group []any) (string, error) {
	req := finishReq{group: group, done: make(chan finishRes, 1)}
	select {
	case w.finishCh <- req:
	case <-ctx.Done():
		return "", ctx.Err()
	}
	r := <-req.done
	return r.res, r.err
}

// maxFinishBatch bounds one finish script call.
const maxFinishBatch = 128

func (w *Worker) finisher(ctx context.Context) {
	for {
		var first finishReq
		select {
		case <-ctx.Done():
			return
		case first = <-w.finishCh:
		}
		batch := []finishReq{first}
		for more := true; more && len(batch) < maxFinishBatch; {
			select {
			case r := <-w.finishCh:
				batch = append(batch, r)
			default:
				more = false
			}
		}
		now := w.q.now().UnixMilli()
		args := []any{w.q.k.base, now, now + w.cfg.Retention.Milliseconds()}
		for _, r := range batch {
			args = append(args, r.group...)
		}
		res, err := finishScript.Run(context.WithoutCancel(ctx), w.q.rdb, []string{w.q.k.meta()}, args...).StringSlice()
		if _, cond := redis.Condition(err); err != nil && !cond && len(batch) > 1 {
			// The script refused the batch (a damaged job hash, a corrupt
			// counter): record each outcome alone, so that one poison job
			// loses only its own.
			for _, r := range batch {
				one := append([]any{w.q.k.base, now, now + w.cfg.Retention.Milliseconds()}, r.group...)
				res, err := finishScript.Run(context.WithoutCancel(ctx), w.q.rdb, []string{w.q.k.meta()}, one...).StringSlice()
				switch {
				case err != nil:
					r.done <- finishRes{err: err}
				case len(res) == 1:
					r.done <- finishRes{res: res[0]}
				default:
					r.done <- finishRes{err: fmt.Errorf("finish script answered %d results for 1 job", len(res))}
				}
			}
			continue
		}
		for i, r := range batch {
			switch {
			case err != nil:
				r.done <- finishRes{err: err}
			case i < len(res):
				r.done <- finishRes{res: res[i]}
			default:
				r.done <- finishRes{err: fmt.Errorf("finish script answered %d results for %d jobs", len(res), len(batch))}
			}
		}
	}
}
