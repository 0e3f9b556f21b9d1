package jobs

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"strings"

	"github.com/gin-gonic/gin"
	"github.com/redifx/redifx/modules/auth"
	"github.com/redifx/redifx/modules/httpserver"
	"github.com/redifx/redifx/modules/redis"
	"go.uber.org/zap"
)

// Handlers serves /api/v1/jobs.
type Handlers struct {
	q     *Queue
	authn *auth.Authenticator
	log   *zap.Logger // the queue's: logs 500s with the request id
}

// NewHandlers builds the HTTP side of q.
func NewHandlers(q *Queue, authn *auth.Authenticator) *Handlers {
	return &Handlers{q: q, authn: authn, log: q.log}
}

// Register implements httpserver.Route.
func (h *Handlers) Register(r gin.IRouter) {
	g := r.Group("/api/v1/jobs")
	read, write := h.authn.Require(auth.PermJobsRead), h.authn.Require(auth.PermJobsWrite)
	sched := h.authn.Require(auth.PermJobsSchedule)
	g.POST("", write, h.create)
	g.GET("", read, h.list)
	g.GET("/statistics", read, h.statistics)
	g.GET("/:id", read, h.get)
	g.POST("/:id/cancel", h.authn.Require(auth.PermJobsCancel), h.cancel)
	g.POST("/:id/retry", write, h.retry)
	s := g.Group("/scheduler/scheduled-jobs")
	s.POST("", sched, h.createSchedule)
	s.GET("", read, h.listSchedules)
	s.GET("/:id", read, h.getSchedule)
	s.PATCH("/:id", sched, h.updateSchedule)
	s.DELETE("/:id", sched, h.deleteSchedule)
	s.POST("/:id/toggle", sched, h.toggleSchedule)
}

// fail maps an error to its status and JSON body: a Redis condition (OOM,
// READONLY, LOADING, no connection …) is 503 with Retry-After and a message
// naming it; any other error that is not the caller's (a script's own error
// such as an overflow or WRONGTYPE, a bug) is 500, logged with the request id.
func (h *Handlers) fail(c *gin.Context, err error) {
	var fe *FieldError
	switch {
	case errors.As(err, &fe):
		invalid(c, fe.Field, fe.Error())
	case errors.Is(err, ErrUnknownJobType):
		c.AbortWithStatusJSON(http.StatusBadRequest, gin.H{"error": "validation_error", "message": err.Error(), "field": "job_type", "registered_types": h.q.types()})
	case errors.Is(err, ErrNotFound):
		httpserver.Error(c, http.StatusNotFound, "not_found", "no such job or schedule")
	case errors.Is(err, ErrConflict):
		httpserver.Error(c, http.StatusConflict, "conflict", err.Error())
	case errors.Is(err, ErrIdempotency):
		httpserver.Error(c, http.StatusUnprocessableEntity, "idempotency_conflict", "this Idempotency-Key was used with a different request")
	case errors.Is(err, ErrTenantFull):
		c.Header("Retry-After", "30")
		httpserver.Error(c, http.StatusTooManyRequests, "too_many_pending_jobs", "the tenant has too many pending jobs; retry later")
	case errors.Is(err, ErrTooManySchedules):
		httpserver.Error(c, http.StatusTooManyRequests, "too_many_schedules",
			"the tenant has as many schedules as jobs.max_schedules_per_tenant allows ("+strconv.Itoa(h.q.cfg.MaxSchedulesPerTenant)+"); delete one first")
	case errors.Is(err, context.Canceled) && c.Request.Context().Err() != nil:
		c.AbortWithStatus(499) // the client went away; nobody reads the answer
	case errors.Is(err, redis.ErrUnavailable):
		httpserver.Unavailable(c, h.q.mgr.Config().ReconnectInterval*3, "jobs are unavailable: "+redis.Describe(err))
	default:
		httpserver.Internal(c, h.log, "the jobs request", err)
	}
}

// invalid answers 400 naming field.
func invalid(c *gin.Context, field, message string) {
	c.AbortWithStatusJSON(http.StatusBadRequest, gin.H{"error": "validation_error", "message": message, "field": field})
}

func tenant(c *gin.Context) string  { return auth.CallerOf(c).TenantID }
func subject(c *gin.Context) string { return auth.CallerOf(c).Subject }

func (h *Handlers) create(c *gin.Context) {
	var r CreateRequest
	if !bindJSON(c, &r) {
		return
	}
	if len(c.Request.Header.Values("Idempotency-Key")) > 1 {
		invalid(c, "Idempotency-Key", "Idempotency-Key is given more than once")
		return
	}
	key := strings.TrimSpace(c.GetHeader("Idempotency-Key"))
	if len(key) > MaxIdempotencyKey {
		invalid(c, "Idempotency-Key", "Idempotency-Key must be at most 255 characters")
		return
	}
	j, existing, err := h.q.Enqueue(c.Request.Context(), tenant(c), subject(c), r, key)
	if err != nil {
		h.fail(c, err)
		return
	}
	if existing {
		c.JSON(http.StatusOK, j)
		return
	}
	c.JSON(http.StatusCreated, j)
}

// listParams are the query parameters of GET /api/v1/jobs.
var listParams = []string{"page", "page_size", "status", "job_type"}

func (h *Handlers) list(c *gin.Context) {
	query := c.Request.URL.Query()
	for _, p := range listParams {
		if len(query[p]) > 1 {
			invalid(c, p, p+" is given more than once")
			return
		}
	}
	page, err1 := intQuery(c, "page", 1)
	size, err2 := intQuery(c, "page_size", 20)
	switch {
	case err1 != nil || page < 1:
		invalid(c, "page", "page must be a positive integer")
		return
	case page > MaxPage:
		invalid(c, "page", "page must be at most "+strconv.Itoa(MaxPage))
		return
	case err2 != nil || size < 1 || size > 100:
		invalid(c, "page_size", "page_size must be an integer between 1 and 100")
		return
	}
	f := Filter{JobType: c.Query("job_type"), Status: Status(c.Query("status"))}
	if f.Status != "" && !validStatus(f.Status) {
		invalid(c, "status", "status must be one of pending, running, retrying, completed, failed, cancelled, timeout")
		return
	}
	jobs, total, err := h.q.List(c.Request.Context(), tenant(c), f, page, size)
	if err != nil {
		h.fail(c, err)
		return
	}
	c.JSON(http.StatusOK, gin.H{"jobs": jobs, "total": total, "page": page, "page_size": size, "has_more": page*size < total})
}

func validStatus(s Status) bool {
	for _, v := range Statuses {
		if v == s {
			return true
		}
	}
	return false
}

func intQuery(c *gin.Context, key string, def int) (int, error) {
	v, ok := c.GetQuery(key)
	if !ok || v == "" {
		return def, nil
	}
	return strconv.Atoi(v)
}

func (h *Handlers) statistics(c *gin.Context) {
	s, err := h.q.Statistics(c.Request.Context(), tenant(c))
	if err != nil {
		h.fail(c, err)
		return
	}
	c.JSON(http.StatusOK, s)
}

func (h *Handlers) get(c *gin.Context) {
	j, err := h.q.Get(c.Request.Context(), tenant(c), c.Param("id"))
	if err != nil {
		h.fail(c, err)
		return
	}
	c.JSON(http.StatusOK, j)
}

func (h *Handlers) cancel(c *gin.Context) {
	j, running, err := h.q.Cancel(c.Request.Context(), tenant(c), c.Param("id"))
	if err != nil {
		h.fail(c, err)
		return
	}
	status := http.StatusOK
	if running {
		status = http.StatusAccepted // the worker cancels it within a second
	}
	c.JSON(status, j)
}

func (h *Handlers) retry(c *gin.Context) {
	j, err := h.q.Retry(c.Request.Context(), tenant(c), c.Param("id"), subject(c))
	if err != nil {
		h.fail(c, err)
		return
	}
	c.JSON(http.StatusCreated, j)
}

func (h *Handlers) createSchedule(c *gin.Context) {
	var r ScheduleRequest
	if !bindJSON(c, &r) {
		return
	}
	s, err := h.q.CreateSchedule(c.Request.Context(), tenant(c), subject(c), r)
	if err != nil {
		h.fail(c, err)
		return
	}
	c.JSON(http.StatusCreated, s)
}

func (h *Handlers) listSchedules(c *gin.Context) {
	list, err := h.q.ListSchedules(c.Request.Context(), tenant(c))
	if err != nil {
		h.fail(c, err)
		return
	}
	c.JSON(http.StatusOK, gin.H{"scheduled_jobs": list, "total": len(list)})
}

func (h *Handlers) getSchedule(c *gin.Context) {
	s, err := h.q.GetSchedule(c.Request.Context(), tenant(c), c.Param("id"))
	if err != nil {
		h.fail(c, err)
		return
	}
	c.JSON(http.StatusOK, s)
}

func (h *Handlers) updateSchedule(c *gin.Context) {
	var r ScheduleRequest
	if !bindJSON(c, &r) {
		return
	}
	s, err := h.q.UpdateSchedule(c.Request.Context(), tenant(c), c.Param("id"), r)
	if err != nil {
		h.fail(c, err)
		return
	}
	c.JSON(http.StatusOK, s)
}

func (h *Handlers) deleteSchedule(c *gin.Context) {
	if err := h.q.DeleteSchedule(c.Request.Context(), tenant(c), c.Param("id")); err != nil {
		h.fail(c, err)
		return
	}
	c.Status(http.StatusNoContent)
}

func (h *Handlers) toggleSchedule(c *gin.Context) {
	s, err := h.q.ToggleSchedule(c.Request.Context(), tenant(c), c.Param("id"))
	if err != nil {
		h.fail(c, err)
		return
	}
	c.JSON(http.StatusOK, s)
}
