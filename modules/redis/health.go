package redis

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"time"

	"github.com/redifx/redifx/modules/health"
	goredis "github.com/redis/go-redis/v9"
)

// HealthCheckName is the name the Redis check registers under (/health/redis).
const HealthCheckName = "redis"

// Health is the result of Manager.HealthCheck: the shape the predecessor's
// dashboards read (status, redis_version, connected_clients, used_memory_human,
// uptime_in_seconds) plus latency, pool statistics and the manager's state.
type Health struct {
	// Status is healthy, degraded (unreachable, not required) or unhealthy
	// (unreachable, required).
	Status health.Status `json:"status"`
	// State is the manager's state (ready, degraded …).
	State string `json:"state"`
	// Message says what was found, in words.
	Message string `json:"message"`
	// Mode is standalone, sentinel or cluster; Embedded is true on the fallback.
	Mode     string `json:"mode"`
	Embedded bool   `json:"embedded"`
	// The INFO fields; absent when Redis did not report them (the embedded
	// server answers INFO only in part).
	RedisVersion     string `json:"redis_version,omitempty"`
	ConnectedClients *int64 `json:"connected_clients,omitempty"`
	UsedMemoryHuman  string `json:"used_memory_human,omitempty"`
	UptimeInSeconds  *int64 `json:"uptime_in_seconds,omitempty"`
	// Reason is why Redis cannot be used, when it cannot: "unreachable", a
	// server condition such as "LOADING", or "refused" when Redis answers but
	// refuses the configured credentials or certificate (Setting names what
	// to fix); or why it refuses writes while reads work ("OOM", "READONLY",
	// with ReadOnly set).
	Reason  string `json:"reason,omitempty"`
	Setting string `json:"setting,omitempty"`
	// ReadOnly is true while Redis answers but refuses every write (Reason
	// OOM or READONLY); Status stays healthy, since reads still work.
	ReadOnly bool `json:"read_only,omitempty"`
	// LatencyMS is the round trip of one PING in milliseconds.
	LatencyMS float64 `json:"latency_ms"`
	// Pool sums the pool statistics of every client.
	Pool PoolStats `json:"pool"`
}

// PoolStats are connection pool statistics.
type PoolStats struct {
	Hits                uint64  `json:"hits"`
	Misses              uint64  `json:"misses"`
	Timeouts            uint64  `json:"timeouts"`
	TotalConns          uint64  `json:"total_conns"`
	IdleConns           uint64  `json:"idle_conns"`
	StaleConns          uint64  `json:"stale_conns"`
	WaitCount           uint64  `json:"wait_count"`
	WaitDurationSeconds float64 `json:"wait_duration_seconds"`
}

// PoolStats returns the pool statistics of the named client.
func (m *Manager) PoolStats(name string) PoolStats {
	c := m.clients[name]
	if c == nil {
		return PoolStats{}
	}
	return fromGoRedis(c.PoolStats())
}

func fromGoRedis(s *goredis.PoolStats) PoolStats {
	return PoolStats{
		Hits: uint64(s.Hits), Misses: uint64(s.Misses), Timeouts: uint64(s.Timeouts),
		TotalConns: uint64(s.TotalConns), IdleConns: uint64(s.IdleConns), StaleConns: uint64(s.StaleConns),
		WaitCount: uint64(s.WaitCount), WaitDurationSeconds: time.Duration(s.WaitDurationNs).Seconds(),
	}
}

func (p *PoolStats) add(o PoolStats) {
	p.Hits += o.Hits
	p.Misses += o.Misses
	p.Timeouts += o.Timeouts
	p.TotalConns += o.TotalConns
	p.IdleConns += o.IdleConns
	p.StaleConns += o.StaleConns
	p.WaitCount += o.WaitCount
	p.WaitDurationSeconds += o.WaitDurationSeconds
}

// HealthCheck probes Redis now (PING, then INFO) and reports. A successful probe
// while degraded brings the manager back to ready at once.
func (m *Manager) HealthCheck(ctx context.Context) Health {
	h := Health{Mode: m.cfg.Mode, Embedded: m.Embedded()}
	for _, nc := range m.unique {
		h.Pool.add(fromGoRedis(nc.client.PoolStats()))
	}
	if m.State() == StateClosed {
		h.State, h.Status, h.Message = StateClosed.String(), m.downStatus(), "Redis client is closed"
		return h
	}
	start := time.Now()
	err := m.probe(ctx)
	h.LatencyMS = float64(time.Since(start).Microseconds()) / 1000
	h.State = m.State().String()
	if err != nil {
		h.Status = m.downStatus()
		var ce *ConfigError
		if errors.As(err, &ce) {
			h.Reason, h.Setting = CondRefused, ce.Setting
			h.Message = "Redis at " + m.cfg.Addr() + " refuses the configured settings (" + ce.Setting + "): " + ce.Problem + ": " + ce.Err.Error()
			return h
		}
		h.Reason = CondUnreachable
		if cond, ok := Condition(err); ok {
			h.Reason = cond
		}
		h.Message = "Redis unavailable at " + m.cfg.Addr() + ": " + err.Error()
		return h
	}
	h.Status = health.StatusHealthy
	h.Message = "Redis connection successful"
	if h.Embedded {
		h.Message = "embedded in-memory Redis fallback (data is not persisted)"
	}
	if info, err := m.Client().Info(ctx, "server", "clients", "memory", "replication").Result(); err == nil {
		fields := parseInfo(info)
		h.RedisVersion = fields["redis_version"]
		h.UsedMemoryHuman = fields["used_memory_human"]
		h.ConnectedClients = intField(fields, "connected_clients")
		h.UptimeInSeconds = intField(fields, "uptime_in_seconds")
		if cond := refusesWrites(fields, m.cfg.Mode); cond != "" && !h.Embedded {
			// PING and reads answer, but every write fails. The status stays
			// healthy so that readiness keeps the replicas in the load
			// balancer (reads and streams work, and writes answer 503 naming
			// the condition, which "no replica could answer" would hide), but
			// the check says so: reason, message and read_only.
			h.Reason, h.ReadOnly = cond, true
			h.Message = "Redis at " + m.cfg.Addr() + " answers but refuses writes: " +
				Describe(&UnavailableError{Condition: cond, Err: errors.New(cond)})
		}
	}
	return h
}

// refusesWrites returns the condition under which a server that answers PING
// refuses every write, from its INFO fields: OOM when it is over maxmemory
// with the noeviction policy, READONLY when a standalone client is connected
// to a read-only replica (Sentinel follows the master and Cluster routes
// writes to masters, so only standalone mode can end up there).
func refusesWrites(fields map[string]string, mode string) string {
	maxMem, used := intField(fields, "maxmemory"), intField(fields, "used_memory")
	if maxMem != nil && used != nil && *maxMem > 0 && *used > *maxMem && fields["maxmemory_policy"] == "noeviction" {
		return CondOOM
	}
	if mode == ModeStandalone && fields["role"] == "slave" && fields["slave_read_only"] != "0" {
		return CondReadOnly
	}
	return ""
}

func (m *Manager) downStatus() health.Status {
	if m.cfg.Required {
		return health.StatusUnhealthy
	}
	return health.StatusDegraded
}

// parseInfo reads "key:value" lines of an INFO reply. In cluster mode the reply
// of several nodes is concatenated; the first value of a key wins.
func parseInfo(info string) map[string]string {
	out := map[string]string{}
	for line := range strings.SplitSeq(info, "\n") {
		line = strings.TrimSpace(line)
		if line == "" || line[0] == '#' {
			continue
		}
		if k, v, ok := strings.Cut(line, ":"); ok {
			if _, seen := out[k]; !seen {
				out[k] = v
			}
		}
	}
	return out
}

func intField(fields map[string]string, key string) *int64 {
	v, ok := fields[key]
	if !ok {
		return nil
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil {
		return nil
	}
	return &n
}

// Check returns the health.Check named "redis"; it is required exactly when
// Config.Required is.
func (m *Manager) Check() health.Check {
	return health.NewCheck(HealthCheckName, m.cfg.Required, func(ctx context.Context) health.Result {
		h := m.HealthCheck(ctx)
		return health.Result{Status: h.Status, Message: h.Message, Details: h.details()}
	})
}

func (h Health) details() map[string]any {
	d := map[string]any{
		"state": h.State, "mode": h.Mode, "embedded": h.Embedded,
		"latency_ms": h.LatencyMS, "pool": h.Pool,
	}
	if h.Reason != "" {
		d["reason"] = h.Reason
	}
	if h.Setting != "" {
		d["setting"] = h.Setting
	}
	if h.ReadOnly {
		d["read_only"] = true
	}
	if h.RedisVersion != "" {
		d["redis_version"] = h.RedisVersion
	}
	if h.ConnectedClients != nil {
		d["connected_clients"] = *h.ConnectedClients
	}
	if h.UsedMemoryHuman != "" {
		d["used_memory_human"] = h.UsedMemoryHuman
	}
	if h.UptimeInSeconds != nil {
		d["uptime_in_seconds"] = *h.UptimeInSeconds
	}
	return d
}
