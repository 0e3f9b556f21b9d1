// Package health is the health-check contract shared by every module: a [Check]
// reports a [Result]; [Run] runs a set of checks concurrently, each under a
// timeout, and says whether the service is ready.
//
// A module contributes a check to the Fx value group with [AsCheck]:
//
//	fx.Provide(health.AsCheck(func(m *Manager) health.Check { return m.Check() }))
//
// The HTTP server collects the group and serves /health/ready and /health/{name}.
// A service is ready when every required check reports healthy; a check that is
// not required may be degraded or unhealthy without taking the service out of the
// load balancer.
package health
