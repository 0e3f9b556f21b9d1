package metrics

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strconv"
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
	keys    keys
	sources []Source
	group   singleflight.Group
	log     *zap.Logger

	mu       sync.Mutex
	computes map[string]int // per tenant, for tests and metrics
	local    sync.Map       // tenant -> localEntry
}

// NewDashboard builds a dashboard over sources (sorted by name).
func NewDashboard(cfg Config, mgr *redis.Manager, sources []Source, log *zap.Logger) *Dashboard {
	if log == nil {
		log = zap.NewNop()
	}
	s := append([]Source(nil), sources...)
	sort.Slice(s, func(i, j int) bool { return s[i].Name < s[j].Name })
	return &Dashboard{cfg: cfg, mgr: mgr, rdb: mgr.Named(redis.ClientCache), keys: newKeys(mgr.Prefix(redis.ClientCache)),
		sources: s, log: log.Named("metrics"), computes: map[string]int{}}
}

func (d *Dashboard) cacheKey(tenant string) string { return d.keys.dashboard(tenant) }
func (d *Dashboard) lockKey(tenant string) string  { return d.keys.lock(tenant) }

// Computes returns how many times tenant's dashboard was computed by this
// process.
func (d *Dashboard) Computes(tenant string) int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.computes[tenant]
}

// cached is one computed dashboard: its sections and timestamp as one JSON
// object, ready to send once the "cache" member is added.
type cached struct {
	ComputedAt time.Time
	Body       []byte // {"jobs":…,"network":…,"timestamp":"…"}
}

// encode is the Redis form: the computation time in Unix ms, a newline, the body.
func (c *cached) encode() []byte {
	b := strconv.AppendInt(nil, c.ComputedAt.UnixMilli(), 10)
	b = append(b, '\n')
	return append(b, c.Body...)
}

// clockSkew is how far in the future another replica's computation time may
// be (clocks of replicas differ a little).
const clockSkew = time.Minute

// decodeCached reads the Redis form, or reports false for anything this
// process would not have written: a body that is not one JSON object (it is
// sent as it is, so it would make the answer invalid JSON), or a computation
// time that is not a plausible recent instant.
func decodeCached(raw []byte, now time.Time) (*cached, bool) {
	ms, body, ok := bytes.Cut(raw, []byte{'\n'})
	n, err := strconv.ParseInt(string(ms), 10, 64)
	if !ok || err != nil || n <= 0 || n > now.Add(clockSkew).UnixMilli() {
		return nil, false
	}
	if len(body) < 2 || body[0] != '{' || body[len(body)-1] != '}' || !json.Valid(body) {
		return nil, false
	}
	return &cached{ComputedAt: time.UnixMilli(n).UTC(), Body: body}, true
}

// localEntry is the in-process tier in front of Redis.
type localEntry struct {
	c        *cached
	storedAt time.Time
}

// Get returns tenant's dashboard as JSON: from the in-process tier (at most
// Config.LocalCacheTTL old there), else from Redis when fresh, else computed
// and cached before it returns. Without Redis it is computed uncached. A
// tenant that cannot be carried in a key is never cached (see Load).
func (d *Dashboard) Get(ctx context.Context, tenant string) ([]byte, CacheInfo) {
	if checkTenant(tenant) != nil {
		return d.render(d.compute(ctx, tenant), CacheInfo{Available: false})
	}
	body, info, _ := d.Load(ctx, tenant)
	return body, info
}

// Load is Get, refusing with a *keyspace.IDError naming tenant_id (wrapping
// ErrInvalidTenant) a tenant that cannot be carried in a key.
func (d *Dashboard) Load(ctx context.Context, tenant string) ([]byte, CacheInfo, error) {
	if err := checkTenant(tenant); err != nil {
		return nil, CacheInfo{}, err
	}
	body, info := d.get(ctx, tenant)
	return body, info, nil
}

func (d *Dashboard) get(ctx context.Context, tenant string) ([]byte, CacheInfo) {
	if d.mgr.Err() != nil {
		return d.render(d.compute(ctx, tenant), CacheInfo{Available: false})
	}
	if d.cfg.LocalCacheTTL > 0 {
		if v, ok := d.local.Load(tenant); ok {
			e := v.(localEntry)
			if time.Since(e.storedAt) < d.cfg.LocalCacheTTL && time.Since(e.c.ComputedAt) < d.cfg.CacheTTL {
				return d.render(e.c, d.info(e.c, true))
			}
		}
	}
	if c, ok := d.read(ctx, tenant); ok {
		d.remember(tenant, c)
		return d.render(c, d.info(c, true))
	}
	v, err, _ := d.group.Do(tenant, func() (any, error) {
		return d.fill(context.WithoutCancel(ctx), tenant)
	})
	if err != nil {
		// Redis failed mid-way: serve without the cache.
		return d.render(d.compute(ctx, tenant), CacheInfo{Available: false})
	}
	c := v.(*cached)
	d.remember(tenant, c)
	return d.render(c, d.info(c, false))
}

func (d *Dashboard) remember(tenant string, c *cached) {
	if d.cfg.LocalCacheTTL > 0 {
		d.local.Store(tenant, localEntry{c: c, storedAt: time.Now()})
	}
}

func (d *Dashboard) info(c *cached, hit bool) CacheInfo {
	return CacheInfo{Available: true, Hit: hit, AgeSeconds: time.Since(c.ComputedAt).Seconds(), TTLSeconds: d.cfg.CacheTTL.Seconds()}
}

func (d *Dashboard) read(ctx context.Context, tenant string) (*cached, bool) {
	raw, err := d.rdb.Get(ctx, d.cacheKey(tenant)).Bytes()
	if err != nil {
		return nil, false
	}
	// An entry is a miss unless it is well-formed and younger than the
	// cache TTL: the key's own TTL is not trusted alone (a key that lost it
	// would otherwise be served forever), and a miss recomputes and
	// overwrites it.
	c, ok := decodeCached(raw, time.Now())
	if !ok || time.Since(c.ComputedAt) >= d.cfg.CacheTTL {
		return nil, false
	}
	return c, true
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
		// A lock without a TTL (of any kind: no replica writes one) would
		// hold every cold computation up by LockTTL forever: give it one.
		if ttl, err := d.rdb.PTTL(ctx, d.lockKey(tenant)).Result(); err == nil && ttl == -1 {
			d.rdb.PExpire(ctx, d.lockKey(tenant), d.cfg.LockTTL)
		}
		deadline := time.Now().Add(d.cfg.LockTTL)
		for time.Now().Before(deadline) {
			time.Sleep(25 * time.Millisecond)
			if c, ok := d.read(ctx, tenant); ok {
				return c, nil
			}
		}
	}
	// A request that missed the cache may get here just after another
	// computation finished and released the lock: look again first.
	if c, ok := d.read(ctx, tenant); ok {
		if locked {
			d.rdb.Del(ctx, d.lockKey(tenant))
		}
		return c, nil
	}
	c := d.compute(ctx, tenant)
	if err := d.rdb.Set(ctx, d.cacheKey(tenant), c.encode(), d.cfg.CacheTTL).Err(); err != nil {
		return nil, err
	}
	if locked {
		d.rdb.Del(ctx, d.lockKey(tenant))
	}
	return c, nil
}

// compute runs every source concurrently and renders their sections.
func (d *Dashboard) compute(ctx context.Context, tenant string) *cached {
	d.mu.Lock()
	d.computes[tenant]++
	d.mu.Unlock()
	now := time.Now().UTC()
	sections := make(map[string]json.RawMessage, len(d.sources)+1)
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
					msg = "unavailable: " + redis.Describe(err)
				}
				d.log.Debug("metrics.source_failed", zap.String("source", s.Name), zap.Error(err))
				raw, _ = json.Marshal(map[string]any{"available": false, "message": msg})
			}
			mu.Lock()
			sections[s.Name] = raw
			mu.Unlock()
		})
	}
	wg.Wait()
	ts, _ := json.Marshal(now.Format(time.RFC3339))
	sections["timestamp"] = ts
	body, _ := json.Marshal(sections)
	return &cached{ComputedAt: now, Body: body}
}

func safeCompute(ctx context.Context, s Source, tenant string) (v any, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("source %s panicked: %v", s.Name, r)
		}
	}()
	return s.Compute(ctx, tenant)
}

// render adds the "cache" member to the body.
func (d *Dashboard) render(c *cached, info CacheInfo) ([]byte, CacheInfo) {
	ci, _ := json.Marshal(info)
	out := make([]byte, 0, len(c.Body)+len(ci)+12)
	out = append(out, c.Body[:len(c.Body)-1]...)
	if len(c.Body) > 2 {
		out = append(out, ',')
	}
	out = append(out, `"cache":`...)
	out = append(out, ci...)
	return append(out, '}'), info
}

// Invalidate drops tenant's cached dashboard (in Redis and in this process;
// other replicas' in-process tier ages out within Config.LocalCacheTTL). A
// tenant that cannot be carried in a key is a *keyspace.IDError naming
// tenant_id; a Redis condition wraps redis.ErrUnavailable.
func (d *Dashboard) Invalidate(ctx context.Context, tenant string) error {
	if err := checkTenant(tenant); err != nil {
		return err
	}
	d.local.Delete(tenant)
	if err := d.mgr.Err(); err != nil {
		return err
	}
	return redis.Classify(d.rdb.Del(ctx, d.cacheKey(tenant)).Err())
}
