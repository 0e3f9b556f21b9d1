package jobs

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"strconv"
	"strings"
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

// Bounds of a schedule's timing fields.
const (
	// maxCronBytes bounds cron_expression.
	maxCronBytes = 200
	// maxTimezoneBytes bounds timezone (IANA names are far shorter).
	maxTimezoneBytes = 100
	// maxAnchorMs is the latest anchor an interval schedule can have (the
	// year 9999), so that slot arithmetic in milliseconds cannot overflow.
	maxAnchorMs = 253402300799999
	maxInt64    = 1<<63 - 1
)

var cronParser = cron.NewParser(cron.Minute | cron.Hour | cron.Dom | cron.Month | cron.Dow | cron.Descriptor)

// errNoNextRun is a schedule whose next run cannot be computed.
var errNoNextRun = errors.New("no next run can be computed")

// timing computes a schedule's slots.
type timing struct {
	cron     cron.Schedule
	loc      *time.Location
	interval time.Duration
	anchor   time.Time
}

// next returns the first slot strictly after t, or the zero time when there
// is none that can be computed (a cron expression that matches no date
// within five years, such as 30 February; an interval whose arithmetic
// would overflow).
func (tm timing) next(t time.Time) time.Time {
	var n time.Time
	if tm.cron != nil {
		n = tm.cronNext(t)
	} else {
		if tm.interval <= 0 {
			return time.Time{}
		}
		if t.Before(tm.anchor) {
			return tm.anchor.UTC()
		}
		// In milliseconds, checking every step: a stored anchor far in the past
		// must not wrap around into a slot before t.
		since, iv := t.UnixMilli()-tm.anchor.UnixMilli(), tm.interval.Milliseconds()
		if since < 0 || iv <= 0 {
			return time.Time{}
		}
		k := since/iv + 1
		if k > (maxInt64-tm.anchor.UnixMilli())/iv {
			return time.Time{}
		}
		n = time.UnixMilli(tm.anchor.UnixMilli() + k*iv)
	}
	if n.IsZero() || !n.After(t) {
		return time.Time{}
	}
	return n.UTC()
}

// cronNext is the cron schedule's first slot after t. The cron library can
// answer a time before t when the slot's wall-clock time occurs twice (the
// hour a daylight saving time ends: Pacific/Chatham's 03:00 on its last
// DST day); then the slot is that wall-clock time's later occurrence, or
// failing that the first slot found from a little later.
func (tm timing) cronNext(t time.Time) time.Time {
	n := tm.cron.Next(t.In(tm.loc))
	if n.IsZero() || n.After(t) {
		return n
	}
	wall := func(x time.Time) [5]int {
		x = x.In(tm.loc)
		return [5]int{x.Year(), int(x.Month()), x.Day(), x.Hour(), x.Minute()}
	}
	for _, d := range []time.Duration{30 * time.Minute, time.Hour, 2 * time.Hour} {
		if later := n.Add(d); later.After(t) && wall(later) == wall(n) {
			return later
		}
	}
	from := t
	for range 4 {
		from = from.Add(time.Hour)
		if n = tm.cron.Next(from.In(tm.loc)); n.IsZero() || n.After(t) {
			return n
		}
	}
	return time.Time{}
}

func (s *Schedule) timing() (timing, error) {
	if len(s.Timezone) > maxTimezoneBytes {
		return timing{}, fieldErr("timezone", "must be at most %d bytes", maxTimezoneBytes)
	}
	loc, err := time.LoadLocation(s.Timezone)
	if err != nil {
		return timing{}, fieldErr("timezone", "unknown time zone %q", s.Timezone)
	}
	if s.CronExpression != nil {
		c, err := parseCron(*s.CronExpression)
		if err != nil {
			return timing{}, err
		}
		return timing{cron: c, loc: loc}, nil
	}
	if s.IntervalSeconds == nil || *s.IntervalSeconds < 1 || *s.IntervalSeconds > maxIntervalSeconds {
		return timing{}, fieldErr("interval_seconds", "must be between 1 and %d (a year)", maxIntervalSeconds)
	}
	if s.anchor < 0 || s.anchor > maxAnchorMs {
		// Only a stored hash can hold this (the anchor is the creation time).
		return timing{}, fieldErr("interval_seconds", "the schedule's anchor %d is out of range", s.anchor)
	}
	return timing{loc: loc, interval: time.Duration(*s.IntervalSeconds) * time.Second, anchor: time.UnixMilli(s.anchor)}, nil
}

// parseCron parses a cron expression, refusing what the parser would accept
// but not mean: a time zone prefix (the schedule's timezone says it) and an
// @every whose duration the parser would silently round (under a second,
// fractions of a second) or that is beyond the interval limit.
func parseCron(expr string) (c cron.Schedule, err error) {
	bad := func(format string, args ...any) (cron.Schedule, error) {
		return nil, fieldErr("cron_expression", format, args...)
	}
	if len(expr) > maxCronBytes {
		return bad("must be at most %d bytes", maxCronBytes)
	}
	spec := strings.TrimSpace(expr)
	if spec == "" {
		return bad("required")
	}
	if strings.HasPrefix(spec, "TZ=") || strings.HasPrefix(spec, "CRON_TZ=") {
		return bad("must not name a time zone; give it in timezone")
	}
	if d, ok := strings.CutPrefix(spec, "@every "); ok {
		every, err := time.ParseDuration(strings.TrimSpace(d))
		switch {
		case err != nil:
			return bad("@every needs a duration such as 90s or 1h30m: %v", err)
		case every < time.Second || every > maxIntervalSeconds*time.Second:
			return bad("@every must be between 1s and %s (a year), like interval_seconds", time.Duration(maxIntervalSeconds)*time.Second)
		case every%time.Second != 0:
			return bad("@every must be a whole number of seconds")
		}
	}
	defer func() {
		// The parser has panicked on malformed input before; such an
		// expression is invalid, not a crash.
		if p := recover(); p != nil {
			c, err = bad("cannot be parsed")
		}
	}()
	c, err = cronParser.Parse(spec)
	if err != nil {
		return bad("%v", err)
	}
	return c, nil
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
	if err := checkText("name", s.Name, true, MaxTitleBytes, false); err != nil {
		return err
	}
	if s.JobType == "" {
		return fieldErr("job_type", "required; registered types: %v", q.types())
	}
	if !slices.Contains(q.types(), s.JobType) {
		return fieldErr("job_type", "unknown job type %q; registered types: %v", clip(s.JobType), q.types())
	}
	switch {
	case s.CronExpression != nil && s.IntervalSeconds != nil:
		return fieldErr("cron_expression", "give exactly one of cron_expression and interval_seconds")
	case s.CronExpression == nil && s.IntervalSeconds == nil:
		return fieldErr("cron_expression", "give exactly one of cron_expression and interval_seconds")
	case s.IntervalSeconds != nil && (*s.IntervalSeconds < 1 || *s.IntervalSeconds > maxIntervalSeconds):
		return fieldErr("interval_seconds", "must be between 1 and %d (a year)", maxIntervalSeconds)
	}
	if s.Timezone == "" || s.Timezone == "Local" {
		return fieldErr("timezone", "must name an IANA time zone such as UTC or Europe/Berlin, got %q", clip(s.Timezone))
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
	if err := checkParamsObject(&s.Parameters); err != nil {
		return err
	}
	if s.MisfirePolicy != MisfireFireOnce && s.MisfirePolicy != MisfireSkip {
		return fieldErr("misfire_policy", "must be fire_once or skip")
	}
	if err := q.checkNextRun(s); err != nil {
		return err
	}
	// The schedule's jobs carry its parameters: check them as Enqueue would.
	return q.checkParams(s.JobType, s.Parameters)
}

// checkNextRun checks s's timing, and that it yields a next run after now.
func (q *Queue) checkNextRun(s *Schedule) error {
	tm, err := s.timing()
	if err != nil {
		return err
	}
	if !tm.next(q.now()).IsZero() {
		return nil
	}
	if s.CronExpression != nil {
		return fieldErr("cron_expression", "never matches a date within five years (such as 30 February): it would never run")
	}
	return fieldErr("interval_seconds", "gives no next run")
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

// saveSchedule writes a new schedule s and lists it as due, unless its
// tenant has MaxSchedulesPerTenant schedules already (ErrTooManySchedules):
// one script counts and writes, so concurrent creates never exceed it.
func (q *Queue) saveSchedule(ctx context.Context, s *Schedule) error {
	if err := checkScheduleNumbers(s); err != nil {
		return err
	}
	tm, err := s.timing()
	if err != nil {
		return err
	}
	next := ""
	if s.IsActive {
		next = strconv.FormatInt(tm.next(q.now()).UnixMilli(), 10)
	}
	args := []any{q.k.base, s.ID, s.TenantID, q.cfg.MaxSchedulesPerTenant, s.CreatedAt.UnixMilli(), next}
	res, err := createScheduleScript.Run(ctx, q.rdb, []string{q.k.meta()}, append(args, scheduleFields(s)...)...).Text()
	if err != nil {
		return redis.Classify(err)
	}
	if res == "full" {
		return ErrTooManySchedules
	}
	return nil
}

// scheduleFields are the stored fields of s, but for next_run_at and the
// run counters.
func scheduleFields(s *Schedule) []any {
	return []any{
		"id", s.ID, "tenant_id", s.TenantID, "name", s.Name, "job_type", s.JobType,
		"cron_expression", deref(s.CronExpression), "interval_seconds", derefInt(s.IntervalSeconds),
		"timezone", s.Timezone, "is_active", boolStr(s.IsActive), "max_concurrent_runs", s.MaxConcurrentRuns,
		"priority", s.Priority, "max_retries", s.MaxRetries, "timeout_seconds", s.TimeoutSeconds,
		"parameters", string(s.Parameters), "misfire_policy", s.MisfirePolicy, "created_by", s.CreatedBy,
		"created_at", s.CreatedAt.UnixMilli(), "anchor", s.anchor,
	}
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
	key := q.k.sched(s.ID)
	p.HSet(ctx, key, scheduleFields(s)...)
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
		if r.CronExpression != nil || r.IntervalSeconds != nil {
			s.anchor = q.now().UnixMilli()
		}
		if err := q.applySchedule(s, r); err != nil {
			return false, err
		}
		return r.CronExpression != nil || r.IntervalSeconds != nil || r.Timezone != nil || r.IsActive != nil, nil
	})
}

// ToggleSchedule flips is_active; concurrent toggles each flip it.
func (q *Queue) ToggleSchedule(ctx context.Context, tenant, id string) (*Schedule, error) {
	return q.modifySchedule(ctx, tenant, id, func(s *Schedule) (bool, error) {
		s.IsActive = !s.IsActive
		if s.IsActive {
			// A schedule parked for having no next run stays inactive.
			return true, q.checkNextRun(s)
		}
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

// Each tick reads due schedules in batches of tickBatch, up to tickBatches
// batches: a tick keeps up with more than one batch of due schedules (a
// tenant's many schedules must not delay every other tenant's by a tick per
// hundred), and still ends.
const (
	tickBatch   = 100
	tickBatches = 50
)

func (s *Scheduler) tick(ctx context.Context) {
	q := s.q
	now := q.now()
	for range tickBatches {
		ids, err := q.rdb.ZRangeByScore(ctx, q.k.schedDue(), &goredis.ZRangeBy{Min: "-inf", Max: strconv.FormatInt(now.UnixMilli(), 10), Count: tickBatch}).Result()
		if err != nil {
			return
		}
		failed := false
		for _, id := range ids {
			if err := s.fire(ctx, id, now); err != nil && ctx.Err() == nil {
				failed = true
				q.log.Warn("jobs.schedule_fire_failed", zap.String("schedule_id", id), zap.Error(err))
			}
		}
		// A failed fire leaves its schedule due: the next batch would read it
		// again. Every other outcome moves a schedule past now or off the list.
		if failed || len(ids) < tickBatch || ctx.Err() != nil {
			return
		}
	}
}

// fire handles one due slot of schedule id.
func (s *Scheduler) fire(ctx context.Context, id string, now time.Time) error {
	q := s.q
	h, err := q.rdb.HGetAll(ctx, q.k.sched(id)).Result()
	if poisoned(ctx, err) {
		// The schedule's key is damaged (not a hash): retrying every tick
		// would fail every tick. Take it off the due list, once, and say so.
		q.log.Error("jobs.schedule_poison_skipped", zap.String("schedule_id", id), zap.Error(err))
		return q.rdb.ZRem(ctx, q.k.schedDue(), id).Err()
	}
	if err != nil {
		return err
	}
	if len(h) == 0 {
		return q.rdb.ZRem(ctx, q.k.schedDue(), id).Err()
	}
	sc := scheduleFromHash(h)
	tm, err := sc.timing()
	if err != nil {
		return s.park(ctx, id, sc, h["next_run_at"], err)
	}
	slotStr := h["next_run_at"]
	slot := time.UnixMilli(atoi64(slotStr))
	next := tm.next(slot)
	doFire := true
	if next.IsZero() || !next.After(now) {
		// Slots were missed (an outage): apply the misfire policy once and
		// continue from the first slot after now.
		next = tm.next(now)
		doFire = sc.MisfirePolicy == MisfireFireOnce
	}
	if next.IsZero() {
		// Stored before such timings were refused (30 February): firing it
		// would fire on every tick, forever.
		return s.park(ctx, id, sc, slotStr, errNoNextRun)
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
	if poisoned(ctx, err) {
		// The script refused the schedule's own data (a tenant id that cannot
		// name a key, a corrupt counter, a key of the wrong type): it would
		// refuse it again on every tick. Park it until an update repairs it.
		return s.park(ctx, id, sc, slotStr, err)
	}
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

// poisoned reports whether err is a logic error about stored data, which
// retrying will not fix: not a Redis condition, nor the end of ctx.
func poisoned(ctx context.Context, err error) bool {
	if err == nil || errors.Is(err, goredis.Nil) || ctx.Err() != nil {
		return false
	}
	_, cond := redis.Condition(err)
	return !cond
}

// park takes schedule id (sc as read), whose next run cannot be computed,
// off the due list and clears its next_run_at, so that it never fires (nor
// is looked at again) until an update gives it a timing that works. It
// changes nothing when the schedule changed since it was read (slot is the
// next_run_at it had): the next tick sees the new state.
func (s *Scheduler) park(ctx context.Context, id string, sc *Schedule, slot string, why error) error {
	q := s.q
	key := q.k.sched(id)
	parked := false
	err := q.rdb.Watch(ctx, func(tx *goredis.Tx) error {
		n, err := tx.Exists(ctx, key).Result()
		if err != nil {
			return err
		}
		cur, err := tx.HGet(ctx, key, "next_run_at").Result()
		if err != nil && !errors.Is(err, goredis.Nil) {
			return err
		}
		if n == 1 && cur != slot {
			return nil // changed meanwhile
		}
		_, err = tx.TxPipelined(ctx, func(p goredis.Pipeliner) error {
			if n == 1 {
				p.HSet(ctx, key, "next_run_at", "")
			}
			p.ZRem(ctx, q.k.schedDue(), id)
			return nil
		})
		parked = err == nil && n == 1
		return err
	}, key)
	if errors.Is(err, goredis.TxFailedErr) {
		return nil
	}
	if err != nil {
		return err
	}
	if parked {
		q.log.Error("jobs.schedule_never_fires", zap.String("schedule_id", id), zap.String("tenant_id", sc.TenantID),
			zap.String("cron_expression", deref(sc.CronExpression)), zap.String("interval_seconds", derefInt(sc.IntervalSeconds)),
			zap.String("timezone", sc.Timezone), zap.NamedError("reason", why))
	}
	return nil
}
