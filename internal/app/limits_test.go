package app_test

import (
	"bufio"
	"context"
	"errors"
	"net/http"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redifx/redifx/internal/app"
	"github.com/redifx/redifx/internal/testutil"
	"github.com/redifx/redifx/modules/config"
	"github.com/redifx/redifx/modules/httpserver"
	"github.com/redifx/redifx/modules/redis/redistest"
	"go.uber.org/fx"
)

// numericKeys lists the keys whose values are integers or durations.
func numericKeys(t *testing.T) []string {
	t.Helper()
	def := app.DefaultConfig()
	keys, err := config.Keys(&def)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, key := range keys {
		f := fieldByKey(reflect.ValueOf(&def).Elem(), key)
		if f.Type() == reflect.TypeFor[time.Duration]() || f.Kind() == reflect.Int || f.Kind() == reflect.Int64 {
			out = append(out, key)
		}
	}
	return out
}

// format writes n as an environment value of key's type.
func format(key string, n int64, duration bool) string {
	if duration {
		return time.Duration(n).String()
	}
	return strconv.FormatInt(n, 10)
}

// largestAccepted finds the largest value of key that Load accepts with every
// other key at its default (the accepted values of a key form a range that
// contains its default), by bisection between the default and 2^63-1.
func largestAccepted(t *testing.T, base []string, key string) (string, bool) {
	t.Helper()
	def := app.DefaultConfig()
	f := fieldByKey(reflect.ValueOf(&def).Elem(), key)
	duration := f.Type() == reflect.TypeFor[time.Duration]()
	lo := f.Int() // accepted
	if _, err := app.Load("", append(base, config.EnvName(key)+"="+format(key, lo, duration))); err != nil {
		return "", false // the default needs other keys (checked elsewhere)
	}
	hi := int64(1<<63 - 1)
	if _, err := app.Load("", append(base, config.EnvName(key)+"="+format(key, hi, duration))); err == nil {
		return format(key, hi, duration), true
	}
	for hi-lo > 1 {
		mid := lo + (hi-lo)/2
		if _, err := app.Load("", append(base, config.EnvName(key)+"="+format(key, mid, duration))); err == nil {
			lo = mid
		} else {
			hi = mid
		}
	}
	return format(key, lo, duration), true
}

// Issue 11's class of settings that passed validation and failed later (a
// pool size that panicked the client, a stream buffer that panicked every
// stream, a leeway that never let a token expire, timeouts that wrapped into
// negative ones): every integer and duration key, at the largest value Load
// accepts, either fails start-up naming the key or gives a service that
// starts, answers its probes, opens a stream, publishes, runs a job and
// computes the dashboard without a 5xx.
func TestLargestAcceptedValueOfEveryNumericKeyWorks(t *testing.T) {
	srv := redistest.Start(t)
	secret := strings.Repeat("s", 32)
	base := []string{"ENVIRONMENT=test", "HTTP__ADDR=127.0.0.1:0", "REDIS__URL=" + srv.URL(),
		"AUTH__JWT_SECRET=" + secret, "LOG__LEVEL=error", "REDIS__STARTUP_WAIT=1s"}
	// Keys whose largest value only lengthens a stop or a start-up that
	// this test does not wait for; their bounds are checked by Load alone.
	slow := map[string]bool{"http.drain_delay": true, "http.shutdown_timeout": true, "jobs.shutdown_grace": true, "redis.startup_wait": true}
	for _, key := range numericKeys(t) {
		v, ok := largestAccepted(t, base, key)
		if !ok || slow[key] {
			continue
		}
		t.Run(key+"="+v, func(t *testing.T) {
			srv.Flush(t)
			cfg, err := app.Load("", append(base, config.EnvName(key)+"="+v))
			if err != nil {
				t.Fatal(err)
			}
			var s *httpserver.Server
			a := fx.New(app.Options(&cfg, "test"), fx.NopLogger, fx.Populate(&s))
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			if err := a.Start(ctx); err != nil {
				if !strings.Contains(err.Error(), key) {
					t.Fatalf("start-up failed without naming %s: %v", key, err)
				}
				return
			}
			defer func() {
				ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
				defer cancel()
				if err := a.Stop(ctx); err != nil {
					t.Errorf("stop: %v", err)
				}
			}()
			exercise(t, "http://"+s.Addr().String(), secret)
		})
	}
}

// exercise drives the main flows and fails on any 5xx.
func exercise(t *testing.T, base, secret string) {
	t.Helper()
	tok := testutil.Token(t, secret, "acme", "realtime.read", "realtime.publish", "jobs.read", "jobs.write", "metrics.read")
	no5xx := func(what string, code int, out map[string]any) {
		t.Helper()
		if code >= 500 {
			t.Errorf("%s: %d %v", what, code, out)
		}
	}
	code, out := testutil.Call(t, "GET", base+"/health/ready", "", nil)
	no5xx("ready", code, out)
	// A stream opens and says it is connected.
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, base+"/api/v1/realtime/alerts", nil)
	req.Header.Set("Authorization", "Bearer "+tok)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("stream: %v", err)
	}
	if resp.StatusCode != 200 {
		t.Errorf("stream: %d", resp.StatusCode)
	} else if line, err := bufio.NewReader(resp.Body).ReadString('\n'); err != nil && !errors.Is(err, context.Canceled) {
		t.Errorf("stream: %q %v", line, err)
	}
	cancel()
	resp.Body.Close()
	code, out = testutil.Call(t, "POST", base+"/api/v1/realtime/alerts", tok,
		`{"event_type":"alert.raised","alert_id":"a","severity":"info","message":"m"}`)
	no5xx("publish", code, out)
	code, out = testutil.Call(t, "POST", base+"/api/v1/jobs", tok, `{"job_type":"noop","title":"t"}`)
	no5xx("job", code, out)
	code, out = testutil.Call(t, "GET", base+"/api/v1/jobs?page=1", tok, nil)
	no5xx("list", code, out)
	code, out = testutil.Call(t, "GET", base+"/api/v1/metrics/dashboard", tok, nil)
	no5xx("dashboard", code, out)
}
