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
	body, _ := h.dash.Get(c.Request.Context(), auth.CallerOf(c).TenantID)
	c.Data(http.StatusOK, "application/json; charset=utf-8", body)
}

func (h *Handlers) invalidate(c *gin.Context) {
	err := h.dash.Invalidate(c.Request.Context(), auth.CallerOf(c).TenantID)
	switch {
	case err == nil:
		c.JSON(http.StatusOK, gin.H{"invalidated": true})
	case errors.Is(err, redis.ErrUnavailable):
		httpserver.Unavailable(c, h.dash.mgr.Config().ReconnectInterval*3, "the cache is unavailable: Redis is down")
	case errors.Is(err, context.Canceled):
		c.Abort()
	default:
		httpserver.Unavailable(c, h.dash.mgr.Config().ReconnectInterval*3, "the cache could not be cleared")
	}
}
