package jobs

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/redifx/redifx/modules/redis"
	goredis "github.com/redis/go-redis/v9"
	"go.uber.org/zap"
)

// Errors the queue returns; the HTTP layer maps them to statuses.
var (
	ErrNotFound    = errors.New("job not found")
	ErrConflict    = errors.New("the job's status does not allow this")
	ErrIdempotency = errors.New("idempotency key reused with a different request")
	ErrTenantFull  = errors.New("too many pending jobs for this tenant")
	// ErrTooManySchedules: the tenant has jobs.max_schedules_per_tenant
	// schedules already.
	ErrTooManySchedules = errors.New("too many schedules for this tenant")
	ErrUnknownJobType   = errors.New("unknown job type")
)

// idempotencyTTL is how long an Idempotency-Key is remembered.
const idempotencyTTL = 24 * time.Hour

// EventPublisher receives job events (job.created, job.progress …) for the
// realtime "jobs" channel. realtime.Publisher satisfies it; jobs works without.
type EventPublisher interface {
	Publish(ctx context.Context, tenant, channel string, event map[string]any) (string, error)
}

// Queue is the job store and API: plain Go over Redis.
type Queue struct {
	cfg      Config
	rdb      goredis.UniversalClient
	mgr      *redis.Manager
	k        keys // every key (keys.go)
	types    func() []string
	registry *registry // set by the Fx module
	pub      EventPublisher
	log      *zap.Logger
	now      func() time.Time
	metrics  *Metrics
}

// NewQueue builds a queue over the manager's default client. types lists the
// registered job types (for validation); when nil, they are the types given
// to SetHandlers. pub may be nil.
func NewQueue(cfg Config, mgr *redis.Manager, types func() []string, pub EventPublisher, log *zap.Logger) *Queue {
	if log == nil {
		log = zap.NewNop()
	}
	q := &Queue{cfg: cfg, rdb: mgr.Client(), mgr: mgr, k: newKeys(mgr.Prefix(redis.ClientDefault)), types: types, pub: pub, log: log.Named("jobs"), now: time.Now}
	if types == nil {
		q.types = func() []string {
			if q.registry == nil {
				return nil
			}
			return q.registry.types()
		}
	}
	q.metrics = newMetrics(q)
	return q
}

func newID() string {
	var b [12]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// CreateRequest is the body of POST /api/v1/jobs.
type CreateRequest struct {
	JobType        string          `json:"job_type"`
	Title          string          `json:"title"`
	Description    string          `json:"description"`
	Parameters     json.RawMessage `json:"parameters"`
	Priority       string          `json:"priority"`
	MaxRetries     *int            `json:"max_retries"`
	TimeoutSeconds *int            `json:"timeout_seconds"`
	ItemsTotal     *int64          `json:"items_total"`
	RunAt          *time.Time      `json:"run_at"`
}

// FieldError names the invalid field of a request.
type FieldError struct {
	Field   string
	Message string
}

func (e *FieldError) Error() string { return e.Field + ": " + e.Message }

func fieldErr(f, format string, args ...any) error {
	return &FieldError{Field: f, Message: fmt.Sprintf(format, args...)}
}

// validate fills defaults and checks r.
func (q *Queue) validate(r *CreateRequest) error {
	if err := checkText("job_type", r.JobType, true, MaxTitleBytes, false); err != nil {
		if r.JobType == "" {
			return fieldErr("job_type", "required; registered types: %v", q.types())
		}
		return err
	}
	if !slices.Contains(q.types(), r.JobType) {
		return fmt.Errorf("%w %q; registered types: %v", ErrUnknownJobType, r.JobType, q.types())
	}
	// Text fields: see checkText (job.go).
	if err := checkText("title", r.Title, true, MaxTitleBytes, false); err != nil {
		return err
	}
	if err := checkText("description", r.Description, false, MaxDescriptionBytes, true); err != nil {
		return err
	}
	if r.Priority == "" {
		r.Priority = "normal"
	}
	if !slices.Contains(Priorities, r.Priority) {
		return fieldErr("priority", "must be one of %v, got %q", Priorities, r.Priority)
	}
	if r.MaxRetries == nil {
		r.MaxRetries = ptr(3)
	}
	if r.TimeoutSeconds == nil {
		r.TimeoutSeconds = ptr(300)
	}
	if err := checkNumbers(r, q.now()); err != nil {
		return err
	}
	if err := checkParamsObject(&r.Parameters); err != nil {
		return err
	}
	// Then what the job type's validator says (WithValidator, handler.go).
	return q.checkParams(r.JobType, r.Parameters)
}

func ptr[T any](v T) *T { return &v }

// jobFields is the initial hash of a job. Fields at their zero value
// (counters, empty optional strings) are left out: jobFromHash reads a missing
// field as zero, and a smaller hash is cheaper to write and to read on every
// dequeue.
func jobFields(id, tenant, createdBy string, r *CreateRequest, now time.Time, retryOf, scheduleID string) []any {
	f := []any{
		"id", id, "tenant_id", tenant, "job_type", r.JobType, "status", string(StatusPending),
		"title", r.Title, "priority", r.Priority, "parameters", string(r.Parameters),
		"max_retries", *r.MaxRetries, "timeout_seconds", *r.TimeoutSeconds,
		"created_by", createdBy, "created_at", now.UnixMilli(),
	}
	if r.Description != "" {
		f = append(f, "description", r.Description)
	}
	if r.ItemsTotal != nil && *r.ItemsTotal != 0 {
		f = append(f, "items_total", *r.ItemsTotal)
	}
	if retryOf != "" {
		f = append(f, "retry_of", retryOf)
	}
	if scheduleID != "" {
		f = append(f, "scheduled_job_id", scheduleID)
	}
	if r.RunAt != nil {
		f = append(f, "run_at", r.RunAt.UnixMilli())
	}
	return f
}

// Enqueue validates and stores a job. With an idempotency key, the same key
// and request from the same tenant within 24 h return the first job and
// existing=true; a different request returns ErrIdempotency. A tenant id that
// cannot name a key (see keys.go) is a FieldError naming tenant_id, an
// idempotency key over MaxIdempotencyKey bytes one naming Idempotency-Key.
func (q *Queue) Enqueue(ctx context.Context, tenant, createdBy string, r CreateRequest, idemKey string) (job *Job, existing bool, err error) {
	if err := checkTenant(tenant); err != nil {
		return nil, false, err
	}
	if len(idemKey) > MaxIdempotencyKey {
		return nil, false, fieldErr("Idempotency-Key", "must be at most %d bytes", MaxIdempotencyKey)
	}
	if err := q.validate(&r); err != nil {
		return nil, false, err
	}
	return q.enqueue(ctx, tenant, createdBy, r, idemKey, "")
}

func (q *Queue) enqueue(ctx context.Context, tenant, createdBy string, r CreateRequest, idemKey, retryOf string) (*Job, bool, error) {
	if err := q.mgr.Err(); err != nil {
		return nil, false, err
	}
	now := q.now()
	id := newID()
	var idemHash string
	if idemKey != "" {
		canon, _ := json.Marshal(r)
		sum := sha256.Sum256(canon)
		idemHash = hex.EncodeToString(sum[:])
	}
	runAt := int64(0)
	if r.RunAt != nil {
		runAt = r.RunAt.UnixMilli()
	}
	args := []any{q.k.base, id, tenant, now.UnixMilli(), q.cfg.MaxPendingPerTenant, idemHash,
		idempotencyTTL.Milliseconds(), runAt, r.Priority}
	fields := jobFields(id, tenant, createdBy, &r, now, retryOf, "")
	args = append(args, fields...)
	scriptKeys := []string{q.k.meta()}
	if idemKey != "" {
		scriptKeys = append(scriptKeys, q.k.idem(tenant, idemKey))
	}
	res, err := enqueueScript.Run(ctx, q.rdb, scriptKeys, args...).StringSlice()
	if err != nil {
		return nil, false, redis.Classify(err)
	}
	switch res[0] {
	case "dup":
		j, err := q.Get(ctx, tenant, res[1])
		if errors.Is(err, ErrNotFound) {
			// The first job has expired (jobs.retention is under the key's 24 h):
			// the key is stale, so the request creates a new job.
			if err := q.rdb.Del(ctx, q.k.idem(tenant, idemKey)).Err(); err != nil {
				return nil, false, redis.Classify(err)
			}
			return q.enqueue(ctx, tenant, createdBy, r, idemKey, retryOf)
		}
		return j, true, err
	case "conflict":
		return nil, false, ErrIdempotency
	case "full":
		return nil, false, ErrTenantFull
	}
	q.metrics.enqueued.WithLabelValues(r.JobType).Inc()
	// The stored hash is exactly these fields: no need to read it back.
	h := make(map[string]string, len(fields)/2)
	for i := 0; i+1 < len(fields); i += 2 {
		h[fields[i].(string)] = fmt.Sprint(fields[i+1])
	}
	j := jobFromHash(h)
	q.emit(ctx, j, "job.created", nil)
	return j, false, nil
}

// Get returns tenant's job id; another tenant's job is ErrNotFound, and so is
// an id that cannot name a key.
func (q *Queue) Get(ctx context.Context, tenant, id string) (*Job, error) {
	if err := checkTenant(tenant); err != nil {
		return nil, err
	}
	if !validID(id) {
		return nil, ErrNotFound
	}
	h, err := q.rdb.HGetAll(ctx, q.k.job(id)).Result()
	if err != nil {
		return nil, redis.Classify(err)
	}
	if len(h) == 0 || h["tenant_id"] != tenant {
		return nil, ErrNotFound
	}
	return jobFromHash(h), nil
}

// getAny reads a job without a tenant check (workers).
func (q *Queue) getAny(ctx context.Context, id string) (*Job, error) {
	if !validID(id) {
		return nil, ErrNotFound
	}
	h, err := q.rdb.HGetAll(ctx, q.k.job(id)).Result()
	if err != nil {
		return nil, redis.Classify(err)
	}
	if len(h) == 0 {
		return nil, ErrNotFound
	}
	return jobFromHash(h), nil
}

// Filter narrows List.
type Filter struct {
	JobType string
	Status  Status
}

// List returns one page of tenant's jobs matching f, newest first, and the
// total that match. Without a filter it reads one page of the tenant's index;
// with one it reads the status and type of each job the tenant keeps (within
// retention), then only the page's jobs in full. page is 1 to MaxPage,
// pageSize 1 to MaxPageSize.
func (q *Queue) List(ctx context.Context, tenant string, f Filter, page, pageSize int) ([]*Job, int, error) {
	if err := checkTenant(tenant); err != nil {
		return nil, 0, err
	}
	if page < 1 || page > MaxPage {
		return nil, 0, fieldErr("page", "must be between 1 and %d", MaxPage)
	}
	if pageSize < 1 || pageSize > MaxPageSize {
		return nil, 0, fieldErr("page_size", "must be between 1 and %d", MaxPageSize)
	}
	from := (page - 1) * pageSize
	var ids []string
	var total int
	var err error
	if f == (Filter{}) {
		ids, total, err = q.indexPage(ctx, tenant, from, pageSize)
	} else {
		ids, total, err = q.matching(ctx, tenant, f, from, pageSize)
	}
	if err != nil {
		return nil, 0, err
	}
	jobs, err := q.readJobs(ctx, tenant, ids)
	return jobs, total, err
}

// indexPage returns n ids of the tenant's index from position from (newest
// first; the index is ordered by creation time) and the index's size.
func (q *Queue) indexPage(ctx context.Context, tenant string, from, n int) ([]string, int, error) {
	var total *goredis.IntCmd
	var ids *goredis.StringSliceCmd
	_, err := q.rdb.Pipelined(ctx, func(p goredis.Pipeliner) error {
		total = p.ZCard(ctx, q.k.tenantJobs(tenant))
		ids = p.ZRevRange(ctx, q.k.tenantJobs(tenant), int64(from), int64(from+n-1))
		return nil
	})
	if err != nil {
		return nil, 0, redis.Classify(err)
	}
	return ids.Val(), int(total.Val()), nil
}

// listScanChunk is how many jobs one pipeline of a filtered list reads.
const listScanChunk = 1000

// matching returns the ids of tenant's jobs matching f at positions
// [from, from+n) among the matches, newest first, and how many match.
func (q *Queue) matching(ctx context.Context, tenant string, f Filter, from, n int) ([]string, int, error) {
	all, err := q.rdb.ZRevRange(ctx, q.k.tenantJobs(tenant), 0, -1).Result()
	if err != nil {
		return nil, 0, redis.Classify(err)
	}
	var page []string
	total := 0
	for start := 0; start < len(all); start += listScanChunk {
		chunk := all[start:min(start+listScanChunk, len(all))]
		cmds := make([]*goredis.SliceCmd, len(chunk))
		_, err := q.rdb.Pipelined(ctx, func(p goredis.Pipeliner) error {
			for i, id := range chunk {
				cmds[i] = p.HMGet(ctx, q.k.job(id), "status", "job_type")
			}
			return nil
		})
		if err != nil {
			return nil, 0, redis.Classify(err)
		}
		for i, c := range cmds {
			v := c.Val()
			st, _ := v[0].(string)
			typ, _ := v[1].(string)
			if st == "" || (f.Status != "" && Status(st) != f.Status) || (f.JobType != "" && typ != f.JobType) {
				continue
			}
			if total >= from && total < from+n {
				page = append(page, chunk[i])
			}
			total++
		}
	}
	return page, total, nil
}

// readJobs reads the jobs ids in order, leaving out any that are gone
// (expired meanwhile) or not tenant's.
func (q *Queue) readJobs(ctx context.Context, tenant string, ids []string) ([]*Job, error) {
	out := make([]*Job, 0, len(ids))
	if len(ids) == 0 {
		return out, nil
	}
	cmds := make([]*goredis.MapStringStringCmd, len(ids))
	_, err := q.rdb.Pipelined(ctx, func(p goredis.Pipeliner) error {
		for i, id := range ids {
			cmds[i] = p.HGetAll(ctx, q.k.job(id))
		}
		return nil
	})
	if err != nil {
		return nil, redis.Classify(err)
	}
	for _, c := range cmds {
		if h := c.Val(); len(h) > 0 && h["tenant_id"] == tenant {
			out = append(out, jobFromHash(h))
		}
	}
	return out, nil
}

// Statistics summarises a tenant's jobs.
type Statistics struct {
	Total              int            `json:"total"`
	ByStatus           map[Status]int `json:"by_status"`
	AvgDurationSeconds *float64       `json:"avg_duration_seconds"`
	ItemsTotal         int64          `json:"items_total"`
	ItemsProcessed     int64          `json:"items_processed"`
	ItemsSucceeded     int64          `json:"items_succeeded"`
	ItemsFailed        int64          `json:"items_failed"`
	// SuccessRate is completed / (completed + failed + timeout), null when
	// nothing has finished that way.
	SuccessRate *float64 `json:"success_rate"`
}

// Statistics computes counts by status, average duration, item totals and
// success rate for tenant, from the counters the scripts keep (one read,
// whatever the tenant's history).
func (q *Queue) Statistics(ctx context.Context, tenant string) (Statistics, error) {
	if err := checkTenant(tenant); err != nil {
		return Statistics{}, err
	}
	h, err := q.rdb.HGetAll(ctx, q.k.stats(tenant)).Result()
	if err != nil {
		return Statistics{}, redis.Classify(err)
	}
	// Counters never go below zero unless Redis lost writes (a restart
	// without persistence); show zero rather than a negative count. Sums
	// saturate rather than wrap.
	n := func(f string) int64 { return max(0, atoi64(h[f])) }
	s := Statistics{ByStatus: map[Status]int{}}
	var total int64
	for _, st := range Statuses {
		c := n(string(st))
		s.ByStatus[st] = int(c)
		total = satAdd(total, c)
	}
	s.Total = int(total)
	s.ItemsTotal, s.ItemsProcessed = n("items_total"), n("items_processed")
	s.ItemsSucceeded, s.ItemsFailed = n("items_succeeded"), n("items_failed")
	if durN := n("durations"); durN > 0 {
		s.AvgDurationSeconds = ptr(float64(n("duration_ms")) / 1000 / float64(durN))
	}
	if done := float64(n("completed")) + float64(n("failed")) + float64(n("timeout")); done > 0 {
		s.SuccessRate = ptr(float64(n("completed")) / done)
	}
	return s, nil
}

// Cancel cancels a pending or retrying job at once, or asks the worker running
// it to stop (the status becomes cancelled when its handler returns; running
// is then true).
func (q *Queue) Cancel(ctx context.Context, tenant, id string) (job *Job, running bool, err error) {
	if err := checkTenant(tenant); err != nil {
		return nil, false, err
	}
	if !validID(id) {
		return nil, false, ErrNotFound
	}
	if err := q.mgr.Err(); err != nil {
		return nil, false, err
	}
	res, err := cancelScript.Run(ctx, q.rdb, []string{q.k.meta()}, q.k.base, id, tenant, q.now().UnixMilli(), q.cfg.Retention.Milliseconds()).Text()
	if err != nil {
		return nil, false, redis.Classify(err)
	}
	switch res {
	case "notfound":
		return nil, false, ErrNotFound
	case "conflict":
		return nil, false, ErrConflict
	}
	j, err := q.Get(ctx, tenant, id)
	if err == nil && res == "cancelled" {
		q.emit(ctx, j, "job.cancelled", nil)
	}
	return j, res == "cancelling", err
}

// Retry creates a new pending job from a failed, cancelled or timed-out one,
// with retry_of set. The new job is validated like Enqueue's (its type still
// registered, its parameters accepted by the type's validator, its fields in
// bounds): a job stored before a check existed is refused with the same
// *FieldError (or ErrUnknownJobType), and nothing is written.
func (q *Queue) Retry(ctx context.Context, tenant, id, createdBy string) (*Job, error) {
	old, err := q.Get(ctx, tenant, id)
	if err != nil {
		return nil, err
	}
	if old.Status != StatusFailed && old.Status != StatusCancelled && old.Status != StatusTimeout {
		return nil, ErrConflict
	}
	r := CreateRequest{
		JobType: old.JobType, Title: old.Title, Description: old.Description, Parameters: old.Parameters,
		Priority: old.Priority, MaxRetries: ptr(old.MaxRetries), TimeoutSeconds: ptr(old.TimeoutSeconds),
		ItemsTotal: ptr(old.ItemsTotal),
	}
	if err := q.validate(&r); err != nil {
		return nil, err
	}
	j, _, err := q.enqueue(ctx, tenant, createdBy, r, "", id)
	return j, err
}

// emit publishes a job event when a publisher is wired; failures are logged
// only — events are a view, the job's hash is the truth.
func (q *Queue) emit(ctx context.Context, j *Job, eventType string, extra map[string]any) {
	if q.pub == nil {
		return
	}
	ev := map[string]any{
		"event_type": eventType, "job_id": j.ID, "job_type": j.JobType, "status": string(j.Status),
		"progress": j.ProgressPct, "items_processed": j.ItemsProcessed, "items_total": j.ItemsTotal,
	}
	for k, v := range extra {
		ev[k] = v
	}
	if _, err := q.pub.Publish(ctx, j.TenantID, "jobs", ev); err != nil {
		level := zap.WarnLevel // a rejected event is a bug worth seeing
		if errors.Is(err, redis.ErrUnavailable) || errors.Is(err, context.Canceled) {
			level = zap.DebugLevel
		}
		q.log.Log(level, "jobs.event_not_published", zap.String("job_id", j.ID), zap.String("event", eventType), zap.Error(err))
	}
}
