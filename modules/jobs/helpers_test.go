package jobs_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redifx/redifx/internal/testutil"
	"github.com/redifx/redifx/modules/auth"
	"github.com/redifx/redifx/modules/config"
	"github.com/redifx/redifx/modules/httpserver"
	"github.com/redifx/redifx/modules/jobs"
	"github.com/redifx/redifx/modules/redis"
	"go.uber.org/fx"
	"go.uber.org/fx/fxtest"
	"go.uber.org/goleak"
	"go.uber.org/zap"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

const secret = "jobs-test-secret-0123456789abcdefghij"

var allPerms = []string{"jobs.read", "jobs.write", "jobs.cancel", "jobs.schedule"}

// recorder is an EventPublisher that keeps what it is given.
type recorder struct {
	mu     sync.Mutex
	events []map[string]any
}

func (r *recorder) Publish(_ context.Context, tenant, channel string, ev map[string]any) (string, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	ev["tenant_id"], ev["channel"] = tenant, channel
	r.events = append(r.events, ev)
	return fmt.Sprint(len(r.events)), nil
}

func (r *recorder) types(jobID string) []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []string
	for _, e := range r.events {
		if e["job_id"] == jobID {
			out = append(out, e["event_type"].(string))
		}
	}
	return out
}

// counters shared by the test handlers, by job id.
type counters struct {
	mu    sync.Mutex
	calls map[string]int
	live  atomic.Int64 // handlers running now
	peak  atomic.Int64
}

func (c *counters) inc(id string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.calls == nil {
		c.calls = map[string]int{}
	}
	c.calls[id]++
	return c.calls[id]
}

func (c *counters) get(id string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.calls[id]
}

func (c *counters) enter() func() {
	n := c.live.Add(1)
	for {
		p := c.peak.Load()
		if n <= p || c.peak.CompareAndSwap(p, n) {
			break
		}
	}
	return func() { c.live.Add(-1) }
}

// testHandlers registers the job types the tests use.
func testHandlers(c *counters) fx.Option {
	return fx.Options(
		jobs.AsHandler("noop", jobs.NoopHandler),
		jobs.AsHandler("sleep", jobs.SleepHandler),
		// flaky fails until its "succeed_on" attempt (1-based).
		jobs.AsHandler("flaky", func(ctx context.Context, j *jobs.Job, _ jobs.Progress) (any, error) {
			n := c.inc(j.ID)
			var p struct {
				SucceedOn int `json:"succeed_on"`
			}
			_ = json.Unmarshal(j.Parameters, &p)
			if n < p.SucceedOn || p.SucceedOn == 0 {
				return nil, fmt.Errorf("attempt %d failed", n)
			}
			return map[string]any{"attempt": n}, nil
		}),
		jobs.AsHandler("permanent", func(ctx context.Context, j *jobs.Job, _ jobs.Progress) (any, error) {
			c.inc(j.ID)
			return nil, jobs.Permanent(errors.New("bad input"))
		}),
		// block runs until its context ends.
		jobs.AsHandler("block", func(ctx context.Context, j *jobs.Job, _ jobs.Progress) (any, error) {
			c.inc(j.ID)
			defer c.enter()()
			<-ctx.Done()
			return nil, ctx.Err()
		}),
		jobs.AsHandler("panic", func(context.Context, *jobs.Job, jobs.Progress) (any, error) { panic("boom") }),
	)
}

type instance struct {
	base string
	q    *jobs.Queue
	mgr  *redis.Manager
	app  *fxtest.App
	once sync.Once
}

func (in *instance) stop() { in.once.Do(func() { in.app.RequireStop() }) }

type mutate func(*jobs.Config, *redis.Config)

func fastJobs(c *jobs.Config, _ *redis.Config) {
	c.Lease = 2 * time.Second
	c.SweepInterval = 100 * time.Millisecond
	c.RetryBaseDelay = 50 * time.Millisecond
	c.RetryMaxDelay = 200 * time.Millisecond
	c.ShutdownGrace = 300 * time.Millisecond
	c.SchedulerInterval = 50 * time.Millisecond
	c.ProgressInterval = 10 * time.Millisecond
}

func startInstance(t *testing.T, redisURL string, c *counters, rec *recorder, muts ...mutate) *instance {
	t.Helper()
	rcfg := redis.DefaultConfig()
	if redisURL != "" {
		rcfg.URL = redisURL
	}
	rcfg.EmbeddedFallback = false
	rcfg.HealthInterval, rcfg.ReconnectInterval, rcfg.StartupWait = 100*time.Millisecond, 100*time.Millisecond, time.Second
	jcfg := jobs.DefaultConfig()
	fastJobs(&jcfg, &rcfg)
	for _, m := range muts {
		m(&jcfg, &rcfg)
	}
	hcfg := httpserver.DefaultConfig()
	hcfg.Addr = "127.0.0.1:0"
	in := &instance{}
	var srv *httpserver.Server
	opts := []fx.Option{
		fx.NopLogger,
		fx.Supply(rcfg, jcfg, hcfg, auth.Config{JWTSecret: secret}, config.Test, zap.NewNop()),
		redis.Module, auth.Module, jobs.Module, testHandlers(c), httpserver.Module,
		fx.Populate(&srv, &in.q, &in.mgr),
	}
	if rec != nil {
		opts = append(opts, fx.Provide(func() jobs.EventPublisher { return rec }))
	}
	in.app = fxtest.New(t, opts...)
	in.app.RequireStart()
	t.Cleanup(in.stop)
	in.base = "http://" + srv.Addr().String()
	return in
}

func token(t *testing.T, tenant string, perms ...string) string {
	t.Helper()
	return testutil.Token(t, secret, tenant, perms...)
}

func call(t *testing.T, method, url, tok string, body any, hdr ...string) (int, map[string]any) {
	t.Helper()
	return testutil.Call(t, method, url, tok, body, hdr...)
}

func create(t *testing.T, in *instance, tok string, body map[string]any) map[string]any {
	t.Helper()
	if body["title"] == nil {
		body["title"] = "test job"
	}
	code, out := call(t, "POST", in.base+"/api/v1/jobs", tok, body)
	if code != 201 {
		t.Fatalf("create: %d %v", code, out)
	}
	return out
}

func getJob(t *testing.T, in *instance, tok, id string) map[string]any {
	t.Helper()
	code, out := call(t, "GET", in.base+"/api/v1/jobs/"+id, tok, nil)
	if code != 200 {
		t.Fatalf("get: %d %v", code, out)
	}
	return out
}

// waitStatus polls until the job has status (or fails after within).
func waitStatus(t *testing.T, in *instance, tok, id, status string, within time.Duration) map[string]any {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		j := getJob(t, in, tok, id)
		if j["status"] == status {
			return j
		}
		if time.Now().After(deadline) {
			t.Fatalf("job %s is %v, not %s, after %s: %v", id, j["status"], status, within, j)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func eventually(t *testing.T, what string, within time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", within, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func noWorkers(c *jobs.Config, _ *redis.Config) { c.Workers = false }
