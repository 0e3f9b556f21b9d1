package metrics_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/redifx/redifx/modules/metrics"
	"github.com/redifx/redifx/modules/redis"
	"github.com/redifx/redifx/modules/redis/redistest"
)

// A cache entry this process would not have written — a body that is not
// one JSON object, a computation time that is zero, negative, in the future
// or older than cache_ttl (a key that lost its TTL), a key of another type —
// is a miss: the dashboard is computed, the answer is valid JSON, and the
// entry is overwritten with a good one. Before, a truncated or over-long body
// was sent as it was (invalid JSON), and an entry computed in 1970 was a hit
// with age_seconds in the billions.
func TestCorruptOrStaleCacheEntriesAreMisses(t *testing.T) {
	srv := redistest.Start(t)
	e := start(t, srv.URL(), metrics.DefaultConfig())
	ctx := context.Background()
	rdb := e.mgr.Named(redis.ClientCache)
	prefix := e.mgr.Prefix(redis.ClientCache) + "metrics:{"
	now := time.Now()
	ms := func(t time.Time) string { return strconv.FormatInt(t.UnixMilli(), 10) }
	entries := map[string]string{
		"trailing":  ms(now) + "\n" + `{"plain":{"x":1}}}`,
		"truncated": ms(now) + "\n" + `{"plain":{"x":1}`,
		"notjson":   ms(now) + "\n" + `{plain}`,
		"array":     ms(now) + "\n" + `[{"a":1}]`,
		"epoch":     "1\n" + `{"plain":{"x":1}}`,
		"negative":  "-99999999999999\n" + `{"plain":{"x":1}}`,
		"future":    ms(now.Add(time.Hour)) + "\n" + `{"plain":{"x":1}}`,
		"stale":     ms(now.Add(-301*time.Second)) + "\n" + `{"plain":{"x":1}}`,
		"overflow":  "99999999999999999999\n" + `{"plain":{"x":1}}`,
		"nonewline": `{"plain":{"x":1}}`,
	}
	for tenant, raw := range entries {
		key := prefix + tenant + "}:dashboard"
		if err := rdb.Set(ctx, key, raw, 0).Err(); err != nil { // no TTL
			t.Fatal(err)
		}
		checkRecomputed(t, e, tenant, key)
	}
	// A key of another type in the cache key's place.
	key := prefix + "wrongtype}:dashboard"
	rdb.HSet(ctx, key, "a", "b")
	checkRecomputed(t, e, "wrongtype", key)

	// A well-formed fresh entry is still a hit, served as stored.
	key = prefix + "good}:dashboard"
	rdb.Set(ctx, key, ms(now.Add(-2*time.Second))+"\n"+`{"plain":{"x":7}}`, time.Minute)
	code, d := call(t, "GET", e.base+"/api/v1/metrics/dashboard", token(t, "good", "metrics.read"))
	if code != 200 || d["cache"].(map[string]any)["hit"] != true || d["plain"].(map[string]any)["x"] != 7.0 {
		t.Errorf("a good entry: %d %v", code, d)
	}
}

func checkRecomputed(t *testing.T, e *env, tenant, key string) {
	t.Helper()
	code, body := rawGet(t, e.base+"/api/v1/metrics/dashboard", token(t, tenant, "metrics.read"))
	var d map[string]any
	if code != 200 || json.Unmarshal(body, &d) != nil {
		t.Errorf("%s: %d %s", tenant, code, body)
		return
	}
	cache, _ := d["cache"].(map[string]any)
	plain, _ := d["plain"].(map[string]any)
	if cache["hit"] != false || cache["available"] != true || plain["tenant"] != tenant || cache["age_seconds"].(float64) > 60 {
		t.Errorf("%s: served %s", tenant, body)
	}
	if _, err := e.mgr.Named(redis.ClientCache).Get(context.Background(), key).Result(); err != nil {
		t.Errorf("%s: the entry was not rewritten: %v", tenant, err)
	}
	if ttl := e.mgr.Named(redis.ClientCache).TTL(context.Background(), key).Val(); ttl <= 0 {
		t.Errorf("%s: the rewritten entry has no TTL (%s)", tenant, ttl)
	}
}

// rawGet returns the status and the raw body (which must be valid JSON).
func rawGet(t *testing.T, url, tok string) (int, []byte) {
	t.Helper()
	req, err := http.NewRequest("GET", url, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+tok)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, b
}

// A lock key without a TTL — of any kind; no replica writes one — gets one:
// before, every cold dashboard of the tenant waited lock_ttl for it, forever.
func TestALockWithoutTTLExpires(t *testing.T) {
	srv := redistest.Start(t)
	cfg := metrics.DefaultConfig()
	cfg.LockTTL = 300 * time.Millisecond
	e := start(t, srv.URL(), cfg)
	ctx := context.Background()
	rdb := e.mgr.Named(redis.ClientCache)
	for _, tenant := range []string{"stringlock", "listlock"} {
		lock := e.mgr.Prefix(redis.ClientCache) + "metrics:{" + tenant + "}:lock"
		if tenant == "listlock" {
			rdb.LPush(ctx, lock, "x")
		} else {
			rdb.Set(ctx, lock, "1", 0)
		}
		code, d := call(t, "GET", e.base+"/api/v1/metrics/dashboard", token(t, tenant, "metrics.read"))
		if code != 200 || d["plain"].(map[string]any)["tenant"] != tenant {
			t.Fatalf("%s: %d %v", tenant, code, d)
		}
		if ttl := rdb.PTTL(ctx, lock).Val(); ttl == -1 {
			t.Errorf("%s: the lock still has no TTL", tenant)
		}
	}
}
