package jobs_test

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/redifx/redifx/modules/auth"
	"github.com/redifx/redifx/modules/config"
	"github.com/redifx/redifx/modules/httpserver"
	"github.com/redifx/redifx/modules/jobs"
	"github.com/redifx/redifx/modules/redis"
	"github.com/redifx/redifx/modules/redis/redistest"
	"go.uber.org/fx"
	"go.uber.org/zap"
)

// Registrations another app gives the module: a type registered twice made
// the worker run one registration's handler on parameters the other's
// validator had checked; a type no request can name, or a missing handler,
// failed only when a job ran. Each now fails the app's construction, naming
// the type.
func TestBadHandlerRegistrationsFailTheApp(t *testing.T) {
	srv := redistest.Start(t)
	rcfg := redis.DefaultConfig()
	rcfg.URL = srv.URL()
	rcfg.EmbeddedFallback = false
	hcfg := httpserver.DefaultConfig()
	hcfg.Addr = "127.0.0.1:0"
	for name, c := range map[string]struct {
		opt  fx.Option
		want string
	}{
		"a type twice": {fx.Options(
			jobs.AsHandler("noop", jobs.NoopHandler, jobs.WithValidator(jobs.NoParameters)),
			jobs.AsHandler("noop", jobs.SleepHandler)), `"noop" is registered more than once`},
		"an empty type":       {jobs.AsHandler("", jobs.NoopHandler), "job_type"},
		"a blank type":        {jobs.AsHandler("  ", jobs.NoopHandler), "job_type"},
		"a control character": {jobs.AsHandler("a\nb", jobs.NoopHandler), "job_type"},
		"an overlong type":    {jobs.AsHandler(strings.Repeat("t", jobs.MaxTitleBytes+1), jobs.NoopHandler), "job_type"},
		"no handler":          {jobs.AsHandler("nothing", nil), `"nothing" is registered without a handler`},
	} {
		t.Run(name, func(t *testing.T) {
			var mgr *redis.Manager
			app := fx.New(fx.NopLogger,
				fx.Supply(rcfg, jobs.DefaultConfig(), hcfg, auth.Config{JWTSecret: secret}, config.Test, zap.NewNop()),
				redis.Module, auth.Module, fx.Module("capture", fx.Invoke(func(m *redis.Manager) { mgr = m })), jobs.Module, httpserver.Module, c.opt)
			if mgr != nil {
				// Never started: close the clients construction made.
				defer func() { _ = mgr.Stop(context.Background()) }()
			}
			if err := app.Err(); err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("app error %v, want one containing %s", err, c.want)
			}
		})
	}
	if err := jobs.CheckRegistrations([]jobs.Registration{
		jobs.NewRegistration("noop", jobs.NoopHandler), jobs.NewRegistration("sleep", jobs.SleepHandler),
	}); err != nil {
		t.Errorf("good registrations refused: %v", err)
	}
}

// A queue built without Fx and without a types function panicked on the
// first Enqueue; it now takes its types from SetHandlers.
func TestNewQueueWithoutATypesFunction(t *testing.T) {
	srv := redistest.Start(t)
	mgr := jobs.StartManagerForTest(t, srv.URL(), "")
	ctx := context.Background()
	q := jobs.NewQueue(jobs.DefaultConfig(), mgr, nil, nil, nil)
	r := jobs.CreateRequest{JobType: "noop", Title: "t"}
	if _, _, err := q.Enqueue(ctx, "acme", "me", r, ""); !errors.Is(err, jobs.ErrUnknownJobType) {
		t.Errorf("before SetHandlers: %v, want ErrUnknownJobType", err)
	}
	q.SetHandlers([]jobs.Registration{jobs.NewRegistration("noop", jobs.NoopHandler, jobs.WithValidator(jobs.NoParameters))})
	if j, _, err := q.Enqueue(ctx, "acme", "me", r, ""); err != nil || j.JobType != "noop" {
		t.Errorf("after SetHandlers: %v %v", j, err)
	}
	r.Parameters = []byte(`{"x":1}`)
	var fe *jobs.FieldError
	if _, _, err := q.Enqueue(ctx, "acme", "me", r, ""); !errors.As(err, &fe) || fe.Field != "parameters.x" {
		t.Errorf("the validator given to SetHandlers: %v", err)
	}
}

// The Go API's parameters had only json.Valid: a key given twice (the
// validator saw one value, the handler maybe another), or surrounding white
// space refused as "not an object". They now follow a request body's rules.
func TestGoAPIParametersFollowTheBodyRules(t *testing.T) {
	srv := redistest.Start(t)
	in := startValid(t, srv.URL(), false)
	ctx := context.Background()
	name := "s"
	every := int64(60)
	for raw, field := range map[string]string{
		`{"duration":"1s","duration":"1e300"}`: "parameters.duration",
		`{"a":{"b":1,"b":2}}`:                  "parameters.a.b",
		`{} {}`:                                "parameters",
		`{"a":1}x`:                             "parameters",
		`[1]`:                                  "parameters",
	} {
		_, _, err := in.q.Enqueue(ctx, "acme", "me", jobs.CreateRequest{JobType: "image", Title: "t", Parameters: []byte(raw)}, "")
		var fe *jobs.FieldError
		if !errors.As(err, &fe) || fe.Field != field {
			t.Errorf("Enqueue %s: %v, want a FieldError naming %s", raw, err, field)
		}
		p := json.RawMessage(raw)
		jt := "image"
		_, err = in.q.CreateSchedule(ctx, "acme", "me", jobs.ScheduleRequest{Name: &name, JobType: &jt, IntervalSeconds: &every, Parameters: &p})
		if !errors.As(err, &fe) || fe.Field != field {
			t.Errorf("CreateSchedule %s: %v, want a FieldError naming %s", raw, err, field)
		}
	}
	if n := jobCount(t, in.base, token(t, "acme", allPerms...)); n != 0 {
		t.Errorf("refused parameters stored %v jobs", n)
	}
	j, _, err := in.q.Enqueue(ctx, "acme", "me", jobs.CreateRequest{JobType: "image", Title: "t", Parameters: []byte(" \n{\"size\":{\"width\":2}} \t")}, "")
	if err != nil || string(j.Parameters) != `{"size":{"width":2}}` {
		t.Errorf("parameters in white space: %v %v", j, err)
	}
}
