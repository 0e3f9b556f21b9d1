package auth

import (
	"net/http"

	"github.com/gin-gonic/gin"
)

// WhoAmI is the body of GET /api/v1/auth/whoami.
type WhoAmI struct {
	Subject     string   `json:"sub"`
	TenantID    string   `json:"tenant_id"`
	Permissions []string `json:"permissions"`
	Roles       []string `json:"roles"`
	ExpiresAt   string   `json:"expires_at"`
}

// Register adds GET /api/v1/auth/whoami: any valid token, no permission.
func (a *Authenticator) Register(r gin.IRouter) {
	r.GET("/api/v1/auth/whoami", a.Authenticate(), func(c *gin.Context) {
		caller := CallerOf(c)
		c.JSON(http.StatusOK, WhoAmI{
			Subject: caller.Subject, TenantID: caller.TenantID,
			Permissions: caller.Permissions, Roles: caller.Roles,
			ExpiresAt: caller.ExpiresAt.Format("2006-01-02T15:04:05Z07:00"),
		})
	})
}
