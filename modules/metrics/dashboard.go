package metrics

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"sync"
	"time"

	"github.com/redifx/redifx/modules/redis"
	goredis "github.com/redis/go-redis/v9"
	"go.uber.org/zap"
	"golang.org/x/sync/singleflight"
)

// Source computes one section of a tenant's dashboard. Another app adds its
// own (database-backed, say) with AsSource.
type Source struct {
	// Name is the section's key in the dashboard JSON.
	Name string
	// Compute returns the section for tenant. When it fails the section reads
	// {"available": false, "message": …} and the rest is still served.
	Compute func(ctx context.Context, tenant string) (any, error)
}

// CacheInfo is the dashboard's "cache" member.
type CacheInfo struct {
	Available  bool    `json:"available"`
	Hit        bool    `json:"hit"`
	AgeSeconds float64 `json:"age_seconds"`
	TTLSeconds float64 `json:"ttl_seconds"`
}

// Dashboard computes tenants' KPI dashboards from the sources, cache-aside in
// Redis: one computation per tenant per process at a time (single flight) and,
// through a short Redis lock, about one across replicas.
type Dashboard struct {
	cfg     Config
	mgr     *redis.Manager
	rdb     goredis.UniversalClient
	prefix  string
	sources []Source
	group   singleflight.Group
	log     *zap.Logger

	mu       sync.Mutex
	computes map[string]int // per tenant, for tests and metrics
}

// NewDashboard builds a dashboard over sources (sorted by name).
func NewDashboard(cfg Config, mgr *redis.Manager, sources []Source, log *zap.Logger) *Dashboard {
	if log == nil {
		log = zap.NewNop()
	}
	s := append([]Source(nil), sources...)
	sort.Slice(s, func(i, j int) bool { return s[i].Name < s[j].Name })
	return &Dashboard{cfg: cfg, mgr: mgr, rdb: mgr.Named(redis.ClientCache), prefix: mgr.Prefix(redis.ClientCache) + "metrics:",
		sources: s, log: log.Named("metrics"), computes: map[string]int{}}
}

func (d *Dashboard) cacheKey(tenant string) string { return d.prefix + "{" + tenant + "}:dashboard" }
func (d *Dashboard) lockKey(tenant string) string  { return d.prefix + "{" + tenant + "}:lock" }

// Computes returns how many times tenant's dashboard was computed by this
// process.
func (d *Dashboard) Computes(tenant string) int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.computes[tenant]
}

// cached is what the cache holds.
type cached struct {
	ComputedAt time.Time                  `json:"computed_at"`
	Sections   map[string]json.RawMessage `json:"sections"`
}

// Get returns tenant's dashboard: from the cache when fresh, else computed
// (and cached before it returns). Without Redis it is computed uncached.
func (d *Dashboard) Get(ctx context.Context, tenant string) (map[string]any, error) {
	if d.mgr.Err() != nil {
		return d.render(d.compute(ctx, tenant), CacheInfo{Available: false}), nil
	}
	if c, ok := d.read(ctx, tenant); ok {
		return d.render(c, d.info(c, true)), nil
	}
	v, err, _ := d.group.Do(tenant, func() (any, error) {
		return d.fill(context.WithoutCancel(ctx), tenant)
	})
	if err != nil {
		// Redis failed mid-way: serve without the cache.
		return d.render(d.compute(ctx, tenant), CacheInfo{Available: false}), nil
	}
	c := v.(*cached)
	return d.render(c, d.info(c, false)), nil
}

func (d *Dashboard) info(c *cached, hit bool) CacheInfo {
	return CacheInfo{Available: true, Hit: hit, AgeSeconds: time.Since(c.ComputedAt).Seconds(), TTLSeconds: d.cfg.CacheTTL.Seconds()}
}

func (d *Dashboard) read(ctx context.Context, tenant string) (*cached, bool) {
	raw, err := d.rdb.Get(ctx, d.cacheKey(tenant)).Bytes()
	if err != nil {
		return nil, false
	}
	var c cached
	if json.Unmarshal(raw, &c) != nil {
		return nil, false
	}
	return &c, true
}

// fill computes and caches a cold dashboard. The replica that takes the lock
// computes; the others wait for its result, up to the lock's TTL, then compute
// themselves.
func (d *Dashboard) fill(ctx context.Context, tenant string) (*cached, error) {
	locked, err := d.rdb.SetNX(ctx, d.lockKey(tenant), "1", d.cfg.LockTTL).Result()
	if err != nil {
		return nil, err
	}
	if !locked {
		deadline := time.Now().Add(d.cfg.LockTTL)
		for time.Now().Before(deadline) {
			time.Sleep(25 * time.Millisecond)
			if c, ok := d.read(ctx, tenant); ok {
				return c, nil
			}
		}
	}
	c := d.compute(ctx, tenant)
	raw, _ := json.Marshal(c)
	if err := d.rdb.Set(ctx, d.cacheKey(tenant), raw, d.cfg.CacheTTL).Err(); err != nil {
		return nil, err
	}
	if locked {
		d.rdb.Del(ctx, d.lockKey(tenant))
	}
	return c, nil
}

// compute runs every source concurrently.
func (d *Dashboard) compute(ctx context.Context, tenant string) *cached {
	d.mu.Lock()
	d.computes[tenant]++
	d.mu.Unlock()
	c := &cached{ComputedAt: time.Now().UTC(), Sections: make(map[string]json.RawMessage, len(d.sources))}
	var mu sync.Mutex
	var wg sync.WaitGroup
	for _, s := range d.sources {
		wg.Go(func() {
			sctx, cancel := context.WithTimeout(ctx, d.cfg.SourceTimeout)
			defer cancel()
			v, err := safeCompute(sctx, s, tenant)
			var raw []byte
			if err == nil {
				raw, err = json.Marshal(v)
			}
			if err != nil {
				msg := "unavailable"
				if errors.Is(err, redis.ErrUnavailable) {
					msg = "unavailable: Redis is down"
				}
				d.log.Debug("metrics.source_failed", zap.String("source", s.Name), zap.Error(err))
				raw, _ = json.Marshal(map[string]any{"available": false, "message": msg})
			}
			mu.Lock()
			c.Sections[s.Name] = raw
			mu.Unlock()
		})
	}
	wg.Wait()
	return c
}

func safeCompute(ctx context.Context, s Source, tenant string) (v any, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("source %s panicked: %v", s.Name, r)
		}
	}()
	return s.Compute(ctx, tenant)
}

func (d *Dashboard) render(c *cached, info CacheInfo) map[string]any {
	out := make(map[string]any, len(c.Sections)+2)
	for k, v := range c.Sections {
		out[k] = v
	}
	out["timestamp"] = c.ComputedAt.Format(time.RFC3339)
	out["cache"] = info
	return out
}

// Invalidate drops tenant's cached dashboard.
func (d *Dashboard) Invalidate(ctx context.Context, tenant string) error {
	if err := d.mgr.Err(); err != nil {
		return err
	}
	return d.rdb.Del(ctx, d.cacheKey(tenant)).Err()
}
