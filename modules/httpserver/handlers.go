package httpserver

import (
	"fmt"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/redifx/redifx/modules/health"
)

// ReadyResponse is the body of GET /health/ready.
type ReadyResponse struct {
	Status         string                 `json:"status"`
	Healthy        bool                   `json:"healthy"`
	Draining       bool                   `json:"draining,omitempty"`
	Services       []health.ServiceResult `json:"services"`
	FailedServices []string               `json:"failed_services"`
	Timestamp      string                 `json:"timestamp"`
}

func now() string { return time.Now().UTC().Format(time.RFC3339) }

// registerHealth serves the health endpoints on GET and on HEAD (probes and
// uptime monitors often send HEAD: same status and headers, no body).
func (s *Server) registerHealth(e *gin.Engine) {
	env := string(s.opts.Environment)
	get := func(path string, h gin.HandlerFunc) {
		e.GET(path, h)
		e.HEAD(path, h)
	}
	get("/health", func(c *gin.Context) {
		c.JSON(http.StatusOK, gin.H{"status": "healthy", "version": s.opts.Version, "environment": env})
	})
	get("/health/live", func(c *gin.Context) {
		c.JSON(http.StatusOK, gin.H{"status": "alive", "version": s.opts.Version, "environment": env, "timestamp": now()})
	})
	get("/health/ready", func(c *gin.Context) {
		rep := health.Run(c.Request.Context(), s.opts.Checks, s.opts.Config.HealthCheckTimeout)
		ready := rep.Ready && !s.Draining()
		body := ReadyResponse{
			Status: "ready", Healthy: ready, Draining: s.Draining(),
			Services: rep.Services, FailedServices: rep.Failed, Timestamp: now(),
		}
		status := http.StatusOK
		if !ready {
			body.Status = "not ready"
			status = http.StatusServiceUnavailable
		}
		c.JSON(status, body)
	})
	get("/health/:name", func(c *gin.Context) {
		name := c.Param("name")
		for _, chk := range s.opts.Checks {
			if chk.Name() != name {
				continue
			}
			r := health.RunOne(c.Request.Context(), chk, s.opts.Config.HealthCheckTimeout)
			body := gin.H{}
			for k, v := range r.Details {
				body[k] = v
			}
			body["name"] = r.Name
			body["status"] = r.Status
			body["message"] = r.Message
			body["required"] = r.Required
			status := http.StatusOK
			if r.Status != health.StatusHealthy {
				status = http.StatusServiceUnavailable
			}
			c.JSON(status, body)
			return
		}
		if len(name) > 64 {
			name = name[:64] + "…"
		}
		Error(c, http.StatusNotFound, "not_found", fmt.Sprintf("no health check named %q", name))
	})
}
