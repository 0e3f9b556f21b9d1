package metrics

import (
	"context"
	"errors"
	"net/http"

	"github.com/gin-gonic/gin"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/redifx/redifx/modules/auth"
	"github.com/redifx/redifx/modules/httpserver"
	"github.com/redifx/redifx/modules/redis"
	"github.com/redifx/redifx/modules/redis/keyspace"
)

// Handlers serves /api/v1/metrics and, unless Config.Addr is set, /metrics.
type Handlers struct {
	cfg   Config
	dash  *Dashboard
	reg   *prometheus.Registry
	authn *auth.Authenticator
}

// NewHandlers builds the HTTP side.
func NewHandlers(cfg Config, dash *Dashboard, reg *prometheus.Registry, authn *auth.Authenticator) *Handlers {
	return &Handlers{cfg: cfg, dash: dash, reg: reg, authn: authn}
}

// fail answers err: a tenant keys cannot carry 400 naming tenant_id (the
// verifier already refuses such tokens), a Redis condition 503 naming it,
// the client leaving nothing, anything else 500 with the request id.
func (h *Handlers) fail(c *gin.Context, what string, err error) {
	var idErr *keyspace.IDError
	switch {
	case errors.As(err, &idErr):
		c.AbortWithStatusJSON(http.StatusBadRequest, gin.H{"error": "validation_error", "message": idErr.Error(), "field": idErr.Field})
	case errors.Is(err, redis.ErrUnavailable):
		httpserver.Unavailable(c, h.dash.mgr.Config().ReconnectInterval*3, what+" is unavailable: "+redis.Describe(err))
	case errors.Is(err, context.Canceled):
		c.Abort()
	default:
		httpserver.Internal(c, h.dash.log, what, err)
	}
}

// Register implements httpserver.Route.
func (h *Handlers) Register(r gin.IRouter) {
	if h.cfg.Addr == "" {
		r.GET("/metrics", gin.WrapH(Handler(h.reg)))
	}
	g := r.Group("/api/v1/metrics")
	g.GET("/dashboard", h.authn.Require(auth.PermMetricsRead), h.dashboard)
	g.POST("/cache/invalidate", h.authn.Require(auth.PermMetricsManage), h.invalidate)
}

// Handler serves reg in the Prometheus text format.
func Handler(reg *prometheus.Registry) http.Handler {
	return promhttp.HandlerFor(reg, promhttp.HandlerOpts{Registry: reg, ErrorHandling: promhttp.ContinueOnError})
}

func (h *Handlers) dashboard(c *gin.Context) {
	body, _, err := h.dash.Load(c.Request.Context(), auth.CallerOf(c).TenantID)
	if err != nil {
		h.fail(c, "the dashboard", err)
		return
	}
	c.Data(http.StatusOK, "application/json; charset=utf-8", body)
}

func (h *Handlers) invalidate(c *gin.Context) {
	err := h.dash.Invalidate(c.Request.Context(), auth.CallerOf(c).TenantID)
	if err != nil {
		h.fail(c, "the cache", err)
		return
	}
	c.JSON(http.StatusOK, gin.H{"invalidated": true})
}
