package jobs

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"strconv"
	"time"

	"github.com/redifx/redifx/modules/redis"
	goredis "github.com/redis/go-redis/v9"
	"github.com/robfig/cron/v3"
	"go.uber.org/zap"
)

// Misfire policies: what a schedule does about slots missed during an outage.
const (
	MisfireFireOnce = "fire_once" // one run for all missed slots
	MisfireSkip     = "skip"      // no run for missed slots
)

// Schedule is a recurring job.
type Schedule struct {
	ID                string          `json:"id"`
	TenantID          string          `json:"tenant_id"`
	Name              string          `json:"name"`
	JobType           string          `json:"job_type"`
	CronExpression    *string         `json:"cron_expression"`
	IntervalSeconds   *int64          `json:"interval_seconds"`
	Timezone          string          `json:"timezone"`
	IsActive          bool            `json:"is_active"`
	MaxConcurrentRuns int             `json:"max_concurrent_runs"`
	Priority          string          `json:"priority"`
	MaxRetries        int             `json:"max_retries"`
	TimeoutSeconds    int             `json:"timeout_seconds"`
	Parameters        json.RawMessage `json:"parameters"`
	MisfirePolicy     string          `json:"misfire_policy"`
	NextRunAt         *time.Time      `json:"next_run_at"`
	LastRunAt         *time.Time      `json:"last_run_at"`
	TotalRuns         int64           `json:"total_runs"`
	SuccessfulRuns    int64           `json:"successful_runs"`
	FailedRuns        int64           `json:"failed_runs"`
	SkippedRuns       int64           `json:"skipped_runs"`
	CreatedBy         string          `json:"created_by"`
	CreatedAt         *time.Time      `json:"created_at"`
	anchor            int64           // interval schedules: slots are anchor + k*interval (ms)
}

// ScheduleRequest is the body of POST and PATCH on scheduled-jobs; on PATCH
// absent fields keep their value.
type ScheduleRequest struct {
	Name              *string          `json:"name"`
	JobType           *string          `json:"job_type"`
	CronExpression    *string          `json:"cron_expression"`
	IntervalSeconds   *int64           `json:"interval_seconds"`
	Timezone          *string          `json:"timezone"`
	IsActive          *bool            `json:"is_active"`
	MaxConcurrentRuns *int             `json:"max_concurrent_runs"`
	Priority          *string          `json:"priority"`
	MaxRetries        *int             `json:"max_retries"`
	TimeoutSeconds    *int             `json:"timeout_seconds"`
	Parameters        *json.RawMessage `json:"parameters"`
	MisfirePolicy     *string          `json:"misfire_policy"`
}

// maxIntervalSeconds bounds interval_seconds (a year).
const maxIntervalSeconds = 365 * 24 * 3600

var cronParser = cron.NewParser(cron.Minute | cron.Hour | cron.Dom | cron.Month | cron.Dow | cron.Descriptor)

// timing computes a schedule's slots.
type timing struct {
	cron     cron.Schedule
	loc      *time.Location
	interval time.Duration
	anchor   time.Time
}

// next returns the first slot strictly after t.
func (tm timing) next(t time.Time) time.Time {
	if tm.cron != nil {
		return tm.cron.Next(t.In(tm.loc)).UTC()
	}
	if t.Before(tm.anchor) {
		return tm.anchor
	}
	k := t.Sub(tm.anchor)/tm.interval + 1
	return tm.anchor.Add(k * tm.interval)
}

func (s *Schedule) timing() (timing, error) {
	loc, err := time.LoadLocation(s.Timezone)
	if err != nil {
		return timing{}, fieldErr("timezone", "unknown time zone %q", s.Timezone)
	}
	if s.CronExpression != nil {
		c, err := cronParser.Parse(*s.CronExpression)
		if err != nil {
			return timing{}, fieldErr("cron_expression", "%v", err)
		}
		return timing{cron: c, loc: loc}, nil
	}
	return timing{loc: loc, interval: time.Duration(*s.IntervalSeconds) * time.Second, anchor: time.UnixMilli(s.anchor)}, nil
}

// apply merges r into s and validates the result.
func (q *Queue) applySchedule(s *Schedule, r ScheduleRequest) error {
	if r.Name != nil {
		s.Name = *r.Name
	}
	if r.JobType != nil {
		s.JobType = *r.JobType
	}
	if r.CronExpression != nil || r.IntervalSeconds != nil {
		s.CronExpression, s.IntervalSeconds = r.CronExpression, r.IntervalSeconds
	}
	if r.Timezone != nil {
		s.Timezone = *r.Timezone
	}
	if r.IsActive != nil {
		s.IsActive = *r.IsActive
	}
	if r.MaxConcurrentRuns != nil {
		s.MaxConcurrentRuns = *r.MaxConcurrentRuns
	}
	if r.Priority != nil {
		s.Priority = *r.Priority
	}
	if r.MaxRetries != nil {
		s.MaxRetries = *r.MaxRetries
	}
	if r.TimeoutSeconds != nil {
		s.TimeoutSeconds = *r.TimeoutSeconds
	}
	if r.Parameters != nil {
		s.Parameters = *r.Parameters
	}
	if r.MisfirePolicy != nil {
		s.MisfirePolicy = *r.MisfirePolicy
	}
	if s.Name == "" {
		return fieldErr("name", "required")
	}
	if s.JobType == "" {
		return fieldErr("job_type", "required; registered types: %v", q.types())
	}
	if !slices.Contains(q.types(), s.JobType) {
		return fieldErr("job_type", "unknown job type %q; registered types: %v", s.JobType, q.types())
	}
	switch {
	case s.CronExpression != nil && s.IntervalSeconds != nil:
		return fieldErr("cron_expression", "give exactly one of cron_expression and interval_seconds")
	case s.CronExpression == nil && s.IntervalSeconds == nil:
		return fieldErr("cron_expression", "give exactly one of cron_expression and interval_seconds")
	case s.IntervalSeconds != nil && (*s.IntervalSeconds < 1 || *s.IntervalSeconds > maxIntervalSeconds):
		return fieldErr("interval_seconds", "must be between 1 and %d (a year)", maxIntervalSeconds)
	}
	if len(s.Name) > 500 {
		return fieldErr("name", "must be at most 500 bytes")
	}
	if s.Timezone == "" || s.Timezone == "Local" {
		return fieldErr("timezone", "must name an IANA time zone such as UTC or Europe/Berlin, got %q", s.Timezone)
	}
	if s.Priority == "" {
		s.Priority = "normal"
	}
	if s.MaxConcurrentRuns < 1 {
		return fieldErr("max_concurrent_runs", "must be at least 1")
	}
	if !slices.Contains(Priorities, s.Priority) {
		return fieldErr("priority", "must be one of %v", Priorities)
	}
	if s.MaxRetries < 0 || s.MaxRetries > 100 {
		return fieldErr("max_retries", "must be between 0 and 100")
	}
	if s.TimeoutSeconds < 1 || s.TimeoutSeconds > 7*24*3600 {
		return fieldErr("timeout_seconds", "must be between 1 and 604800")
	}
	if len(s.Parameters) == 0 || string(s.Parameters) == "null" {
		s.Parameters = json.RawMessage("{}")
	}
	if s.Parameters[0] != '{' {
		return fieldErr("parameters", "must be a JSON object")
	}
	if s.MisfirePolicy != MisfireFireOnce && s.MisfirePolicy != MisfireSkip {
		return fieldErr("misfire_policy", "must be fire_once or skip")
	}
	_, err := s.timing()
	return err
}

// CreateSchedule validates and stores a schedule for tenant.
func (q *Queue) CreateSchedule(ctx context.Context, tenant, createdBy string, r ScheduleRequest) (*Schedule, error) {
	if err := checkTenant(tenant); err != nil {
		return nil, err
	}
	now := q.now()
	s := &Schedule{
		ID: newID(), TenantID: tenant, Timezone: "UTC", IsActive: true, MaxConcurrentRuns: 1, Priority: "normal",
		MaxRetries: 3, TimeoutSeconds: 300, MisfirePolicy: MisfireFireOnce, CreatedBy: createdBy, CreatedAt: &now,
		anchor: now.UnixMilli(),
	}
	if err := q.applySchedule(s, r); err != nil {
		return nil, err
	}
	if err := q.mgr.Err(); err != nil {
		return nil, err
	}
	if err := q.saveSchedule(ctx, s); err != nil {
		return nil, err
	}
	return q.GetSchedule(ctx, tenant, s.ID)
}

// saveSchedule writes a new schedule s and lists it as due.
func (q *Queue) saveSchedule(ctx context.Context, s *Schedule) error {
	cmds, err := q.rdb.TxPipelined(ctx, func(p goredis.Pipeliner) error {
		return q.writeSchedule(ctx, p, s, true)
	})
	return txError(cmds, err)
}

// writeSchedule queues the writes of s on p; when reschedule is set the next
// run is computed from now (and the schedule is (de)listed as due).
func (q *Queue) writeSchedule(ctx context.Context, p goredis.Pipeliner, s *Schedule, reschedule bool) error {
	if err := checkScheduleNumbers(s); err != nil {
		return err
	}
	tm, err := s.timing()
	if err != nil {
		return err
	}
	fields := []any{
		"id", s.ID, "tenant_id", s.TenantID, "name", s.Name, "job_type", s.JobType,
		"cron_expression", deref(s.CronExpression), "interval_seconds", derefInt(s.IntervalSeconds),
		"timezone", s.Timezone, "is_active", boolStr(s.IsActive), "max_concurrent_runs", s.MaxConcurrentRuns,
		"priority", s.Priority, "max_retries", s.MaxRetries, "timeout_seconds", s.TimeoutSeconds,
		"parameters", string(s.Parameters), "misfire_policy", s.MisfirePolicy, "created_by", s.CreatedBy,
		"created_at", s.CreatedAt.UnixMilli(), "anchor", s.anchor,
	}
	key := q.k.sched(s.ID)
	p.HSet(ctx, key, fields...)
	p.ZAdd(ctx, q.k.tenantScheds(s.TenantID), goredis.Z{Score: float64(s.CreatedAt.UnixMilli()), Member: s.ID})
	if reschedule {
		if s.IsActive {
			next := tm.next(q.now()).UnixMilli()
			p.HSet(ctx, key, "next_run_at", next)
			p.ZAdd(ctx, q.k.schedDue(), goredis.Z{Score: float64(next), Member: s.ID})
		} else {
			p.HSet(ctx, key, "next_run_at", "")
			p.ZRem(ctx, q.k.schedDue(), s.ID)
		}
	}
	return nil
}

// maxScheduleRetries bounds how often a schedule change starts over because
// the schedule changed under it.
const maxScheduleRetries = 20

// modifySchedule reads tenant's schedule id, lets change modify it (and say
// whether the next run must be recomputed) and writes it, under WATCH: when
// anything changes the schedule meanwhile (another update, a toggle, a fire,
// a delete), it starts over, so no change is lost and a deleted schedule
// stays deleted.
func (q *Queue) modifySchedule(ctx context.Context, tenant, id string, change func(*Schedule) (reschedule bool, err error)) (*Schedule, error) {
	if err := checkTenant(tenant); err != nil {
		return nil, err
	}
	if !validID(id) {
		return nil, ErrNotFound
	}
	if err := q.mgr.Err(); err != nil {
		return nil, err
	}
	key := q.k.sched(id)
	for range maxScheduleRetries {
		err := q.rdb.Watch(ctx, func(tx *goredis.Tx) error {
			h, err := tx.HGetAll(ctx, key).Result()
			if err != nil {
				return redis.Classify(err)
			}
			if len(h) == 0 || h["tenant_id"] != tenant {
				return ErrNotFound
			}
			s := scheduleFromHash(h)
			reschedule, err := change(s)
			if err != nil {
				return err
			}
			var werr error
			cmds, err := tx.TxPipelined(ctx, func(p goredis.Pipeliner) error {
				werr = q.writeSchedule(ctx, p, s, reschedule)
				return werr
			})
			if werr != nil {
				return werr
			}
			if err != nil && !errors.Is(err, goredis.TxFailedErr) {
				return txError(cmds, err)
			}
			return err
		}, key)
		if errors.Is(err, goredis.TxFailedErr) {
			continue
		}
		if err != nil {
			return nil, err
		}
		return q.GetSchedule(ctx, tenant, id)
	}
	return nil, conflictError("schedule " + id + " kept changing during the update; retry")
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

func derefInt(n *int64) string {
	if n == nil {
		return ""
	}
	return strconv.FormatInt(*n, 10)
}

func scheduleFromHash(h map[string]string) *Schedule {
	s := &Schedule{
		ID: h["id"], TenantID: h["tenant_id"], Name: h["name"], JobType: h["job_type"], Timezone: h["timezone"],
		IsActive: h["is_active"] == "1", MaxConcurrentRuns: int(atoi64(h["max_concurrent_runs"])), Priority: h["priority"],
		MaxRetries: int(atoi64(h["max_retries"])), TimeoutSeconds: int(atoi64(h["timeout_seconds"])),
		Parameters: rawOrNull(h["parameters"]), MisfirePolicy: h["misfire_policy"], CreatedBy: h["created_by"],
		TotalRuns: atoi64(h["total_runs"]), SuccessfulRuns: atoi64(h["successful_runs"]), FailedRuns: atoi64(h["failed_runs"]),
		SkippedRuns: atoi64(h["skipped_runs"]), anchor: atoi64(h["anchor"]),
	}
	if c := h["cron_expression"]; c != "" {
		s.CronExpression = &c
	}
	if iv := h["interval_seconds"]; iv != "" {
		n := atoi64(iv)
		s.IntervalSeconds = &n
	}
	s.NextRunAt = msTime(h["next_run_at"])
	s.LastRunAt = msTime(h["last_run_at"])
	s.CreatedAt = msTime(h["created_at"])
	return s
}

// GetSchedule returns tenant's schedule id (ErrNotFound for another tenant's).
func (q *Queue) GetSchedule(ctx context.Context, tenant, id string) (*Schedule, error) {
	if err := checkTenant(tenant); err != nil {
		return nil, err
	}
	if !validID(id) {
		return nil, ErrNotFound
	}
	h, err := q.rdb.HGetAll(ctx, q.k.sched(id)).Result()
	if err != nil {
		return nil, redis.Classify(err)
	}
	if len(h) == 0 || h["tenant_id"] != tenant {
		return nil, ErrNotFound
	}
	return scheduleFromHash(h), nil
}

// ListSchedules returns tenant's schedules, newest first.
func (q *Queue) ListSchedules(ctx context.Context, tenant string) ([]*Schedule, error) {
	if err := checkTenant(tenant); err != nil {
		return nil, err
	}
	ids, err := q.rdb.ZRevRange(ctx, q.k.tenantScheds(tenant), 0, -1).Result()
	if err != nil {
		return nil, redis.Classify(err)
	}
	out := make([]*Schedule, 0, len(ids))
	for _, id := range ids {
		s, err := q.GetSchedule(ctx, tenant, id)
		if err == nil {
			out = append(out, s)
		}
	}
	return out, nil
}

// UpdateSchedule applies r; a change of timing, time zone or activity
// recomputes the next run from now.
func (q *Queue) UpdateSchedule(ctx context.Context, tenant, id string, r ScheduleRequest) (*Schedule, error) {
	return q.modifySchedule(ctx, tenant, id, func(s *Schedule) (bool, error) {
		if err := q.applySchedule(s, r); err != nil {
			return false, err
		}
		if r.CronExpression != nil || r.IntervalSeconds != nil {
			s.anchor = q.now().UnixMilli()
		}
		return r.CronExpression != nil || r.IntervalSeconds != nil || r.Timezone != nil || r.IsActive != nil, nil
	})
}

// ToggleSchedule flips is_active; concurrent toggles each flip it.
func (q *Queue) ToggleSchedule(ctx context.Context, tenant, id string) (*Schedule, error) {
	return q.modifySchedule(ctx, tenant, id, func(s *Schedule) (bool, error) {
		s.IsActive = !s.IsActive
		return true, nil
	})
}

// DeleteSchedule removes a schedule; jobs it created stay.
func (q *Queue) DeleteSchedule(ctx context.Context, tenant, id string) error {
	if _, err := q.GetSchedule(ctx, tenant, id); err != nil {
		return err
	}
	cmds, err := q.rdb.TxPipelined(ctx, func(p goredis.Pipeliner) error {
		p.Del(ctx, q.k.sched(id), q.k.schedRuns(id))
		p.ZRem(ctx, q.k.tenantScheds(tenant), id)
		p.ZRem(ctx, q.k.schedDue(), id)
		return nil
	})
	return txError(cmds, err)
}

// Scheduler fires due schedules. Every replica runs one; the fire script's
// compare-and-set on next_run_at makes each (schedule, slot) fire once.
type Scheduler struct {
	q      *Queue
	cancel context.CancelFunc
	done   chan struct{}
}

// NewScheduler builds a scheduler over q.
func NewScheduler(q *Queue) *Scheduler { return &Scheduler{q: q} }

// Start runs the scheduling loop until Stop.
func (s *Scheduler) Start(context.Context) error {
	ctx, cancel := context.WithCancel(context.Background())
	s.cancel, s.done = cancel, make(chan struct{})
	go func() {
		defer close(s.done)
		t := time.NewTicker(s.q.cfg.SchedulerInterval)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				s.tick(ctx)
			}
		}
	}()
	return nil
}

// Stop ends the loop.
func (s *Scheduler) Stop(ctx context.Context) error {
	if s.cancel == nil {
		return nil
	}
	s.cancel()
	select {
	case <-s.done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (s *Scheduler) tick(ctx context.Context) {
	q := s.q
	now := q.now()
	ids, err := q.rdb.ZRangeByScore(ctx, q.k.schedDue(), &goredis.ZRangeBy{Min: "-inf", Max: strconv.FormatInt(now.UnixMilli(), 10), Count: 100}).Result()
	if err != nil {
		return
	}
	for _, id := range ids {
		if err := s.fire(ctx, id, now); err != nil && ctx.Err() == nil {
			q.log.Warn("jobs.schedule_fire_failed", zap.String("schedule_id", id), zap.Error(err))
		}
	}
}

// fire handles one due slot of schedule id.
func (s *Scheduler) fire(ctx context.Context, id string, now time.Time) error {
	q := s.q
	h, err := q.rdb.HGetAll(ctx, q.k.sched(id)).Result()
	if err != nil {
		return err
	}
	if len(h) == 0 {
		return q.rdb.ZRem(ctx, q.k.schedDue(), id).Err()
	}
	sc := scheduleFromHash(h)
	tm, err := sc.timing()
	if err != nil {
		return err
	}
	slotStr := h["next_run_at"]
	slot := time.UnixMilli(atoi64(slotStr))
	next := tm.next(slot)
	doFire := true
	if !next.After(now) {
		// Slots were missed (an outage): apply the misfire policy once and
		// continue from the first slot after now.
		next = tm.next(now)
		doFire = sc.MisfirePolicy == MisfireFireOnce
	}
	jobID := newID()
	// run_at records the slot the job stands for (it runs at once).
	r := CreateRequest{
		JobType: sc.JobType, Title: sc.Name, Parameters: sc.Parameters, Priority: sc.Priority,
		MaxRetries: ptr(sc.MaxRetries), TimeoutSeconds: ptr(sc.TimeoutSeconds), RunAt: &slot,
	}
	args := []any{q.k.base, id, slotStr, next.UnixMilli(), now.UnixMilli(), boolStr(doFire), q.cfg.MaxPendingPerTenant, jobID, sc.TenantID, sc.Priority}
	args = append(args, jobFields(jobID, sc.TenantID, "scheduler:"+id, &r, now, "", id)...)
	res, err := fireScript.Run(ctx, q.rdb, []string{q.k.meta()}, args...).Text()
	if err != nil {
		return err
	}
	if res == "fired" {
		q.metrics.enqueued.WithLabelValues(sc.JobType).Inc()
		if j, err := q.getAny(ctx, jobID); err == nil {
			q.emit(ctx, j, "job.created", nil)
		}
	}
	if res != "fired" && res != "stale" {
		q.log.Debug("jobs.schedule_slot", zap.String("schedule_id", id), zap.String("outcome", res))
	}
	return nil
}
