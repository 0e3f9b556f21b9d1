package auth

import (
	"context"
	"slices"
	"time"
)

// Permissions known to redifx's modules.
const (
	PermJobsRead        = "jobs.read"
	PermJobsWrite       = "jobs.write"
	PermJobsCancel      = "jobs.cancel"
	PermJobsSchedule    = "jobs.schedule"
	PermRealtimeRead    = "realtime.read"
	PermRealtimePublish = "realtime.publish"
	PermMetricsRead     = "metrics.read"
	PermMetricsManage   = "metrics.manage"
)

// RoleAdmin holds every permission — within its own tenant only.
const RoleAdmin = "admin"

// Caller is who made a request, from a verified token.
type Caller struct {
	Subject     string    `json:"sub"`
	TenantID    string    `json:"tenant_id"`
	Permissions []string  `json:"permissions"`
	Roles       []string  `json:"roles"`
	ExpiresAt   time.Time `json:"expires_at"`

	// leeway is the verifier's tolerance on exp (see ValidUntil).
	leeway time.Duration
}

// ValidUntil returns the instant from which the verifier refuses the caller's
// token: its exp plus the configured leeway (auth.leeway). Long-lived
// requests (event streams) end then, so that one rule decides both whether a
// token is accepted and how long a stream it opened lasts. It is the zero
// time when the token has no expiry.
func (c *Caller) ValidUntil() time.Time {
	if c.ExpiresAt.IsZero() {
		return time.Time{}
	}
	return c.ExpiresAt.Add(c.leeway)
}

// IsAdmin reports whether the caller has the admin role.
func (c *Caller) IsAdmin() bool { return slices.Contains(c.Roles, RoleAdmin) }

// Has reports whether the caller holds perm (admins hold every permission).
// Permissions apply to the caller's own tenant only; see CanAccessTenant.
func (c *Caller) Has(perm string) bool { return c.IsAdmin() || slices.Contains(c.Permissions, perm) }

// CanAccessTenant reports whether the caller may touch tenant's data: only its
// own, whatever its roles.
func (c *Caller) CanAccessTenant(tenant string) bool { return tenant != "" && tenant == c.TenantID }

type callerKey struct{}

// WithCaller returns ctx carrying c.
func WithCaller(ctx context.Context, c *Caller) context.Context {
	return context.WithValue(ctx, callerKey{}, c)
}

// FromContext returns the caller stored by the authentication middleware.
func FromContext(ctx context.Context) (*Caller, bool) {
	c, ok := ctx.Value(callerKey{}).(*Caller)
	return c, ok && c != nil
}
