package realtime

import (
	"context"
	"encoding/json"
	"strconv"
	"strings"
	"time"

	"github.com/redifx/redifx/modules/redis"
	goredis "github.com/redis/go-redis/v9"
)

// ONUState is the latest onu-status event of one ONU.
type ONUState struct {
	Serial    string   `json:"onu_serial"`
	Status    string   `json:"status"`
	SignalDBM *float64 `json:"signal_dbm"`
	Timestamp string   `json:"timestamp"`
}

// ONUs returns the latest state of every ONU of tenant, from the onu-status
// events published for it. A tenant that cannot be carried in a key is a
// *ValidationError naming tenant_id; a Redis condition wraps
// redis.ErrUnavailable.
func (h *Hub) ONUs(ctx context.Context, tenant string) ([]ONUState, error) {
	if err := checkTenant(tenant); err != nil {
		return nil, err
	}
	m, err := h.store.rdb.HGetAll(ctx, h.store.keys.onus(tenant)).Result()
	if err != nil {
		return nil, redis.Classify(err)
	}
	out := make([]ONUState, 0, len(m))
	for serial, raw := range m {
		var st ONUState
		if json.Unmarshal([]byte(raw), &st) == nil {
			st.Serial = serial
			out = append(out, st)
		}
	}
	return out, nil
}

// EventCounts returns tenant's events by channel over the last window (whole
// minutes, at most 60). Errors as ONUs.
func (h *Hub) EventCounts(ctx context.Context, tenant string, window time.Duration) (map[string]int64, error) {
	if err := checkTenant(tenant); err != nil {
		return nil, err
	}
	minutes := min(max(int(window/time.Minute), 1), 60)
	now := time.Now()
	cmds := make([]*goredis.MapStringStringCmd, minutes)
	_, err := h.store.rdb.Pipelined(ctx, func(p goredis.Pipeliner) error {
		for i := range minutes {
			cmds[i] = p.HGetAll(ctx, h.store.keys.counts(tenant, now.Add(-time.Duration(i)*time.Minute)))
		}
		return nil
	})
	if err != nil {
		return nil, redis.Classify(err)
	}
	out := make(map[string]int64, len(Channels))
	for _, ch := range Channels {
		out[ch] = 0
	}
	for _, c := range cmds {
		for ch, v := range c.Val() {
			n, _ := strconv.ParseInt(v, 10, 64)
			out[ch] += n
		}
	}
	return out, nil
}

// presenceTTL: a replica's count of a tenant's clients is trusted this long.
const presenceTTL = 15 * time.Second

// reportPresence writes this process's client count of each tenant it serves
// (or served at the last report), so that ConnectedClients sums replicas.
func (h *Hub) reportPresence(ctx context.Context) {
	h.mu.RLock()
	counts := make(map[string]int, len(h.tenants)+len(h.reported))
	for t := range h.reported {
		counts[t] = 0
	}
	for t, cs := range h.tenants {
		counts[t] = len(cs)
	}
	h.mu.RUnlock()
	now := strconv.FormatInt(time.Now().UnixMilli(), 10)
	_, _ = h.store.rdb.Pipelined(ctx, func(p goredis.Pipeliner) error {
		for t, n := range counts {
			p.HSet(ctx, h.store.keys.clients(t), h.replica, strconv.Itoa(n)+":"+now)
			p.Expire(ctx, h.store.keys.clients(t), time.Hour)
		}
		return nil
	})
	h.mu.Lock()
	h.reported = map[string]bool{}
	for t, n := range counts {
		if n > 0 {
			h.reported[t] = true
		}
	}
	h.mu.Unlock()
}

// ConnectedClients returns tenant's open streams across every replica, from
// the counts replicas report every few seconds. Errors as ONUs.
func (h *Hub) ConnectedClients(ctx context.Context, tenant string) (int64, error) {
	if err := checkTenant(tenant); err != nil {
		return 0, err
	}
	m, err := h.store.rdb.HGetAll(ctx, h.store.keys.clients(tenant)).Result()
	if err != nil {
		return 0, redis.Classify(err)
	}
	var total int64
	cutoff := time.Now().Add(-presenceTTL).UnixMilli()
	for replica, v := range m {
		n, at, _ := strings.Cut(v, ":")
		ts, _ := strconv.ParseInt(at, 10, 64)
		if replica == h.replica {
			continue // our own count is exact
		}
		if ts >= cutoff {
			c, _ := strconv.ParseInt(n, 10, 64)
			total += c
		}
	}
	h.mu.RLock()
	total += int64(len(h.tenants[tenant]))
	h.mu.RUnlock()
	return total, nil
}
