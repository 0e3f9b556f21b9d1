package health_test

import (
	"context"
	"testing"
	"time"

	"github.com/redifx/redifx/modules/health"
	"go.uber.org/fx"
	"go.uber.org/fx/fxtest"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func fixed(name string, required bool, s health.Status) health.Check {
	return health.NewCheck(name, required, func(context.Context) health.Result { return health.Result{Status: s, Message: string(s)} })
}

func TestReadyOnlyWhenEveryRequiredCheckIsHealthy(t *testing.T) {
	cases := []struct {
		name   string
		checks []health.Check
		ready  bool
		failed []string
	}{
		{"all healthy", []health.Check{fixed("a", true, health.StatusHealthy), fixed("b", false, health.StatusHealthy)}, true, nil},
		{"optional degraded", []health.Check{fixed("a", true, health.StatusHealthy), fixed("b", false, health.StatusDegraded)}, true, nil},
		{"optional unhealthy", []health.Check{fixed("b", false, health.StatusUnhealthy)}, true, nil},
		{"required degraded", []health.Check{fixed("a", true, health.StatusDegraded)}, false, []string{"a"}},
		{"required unhealthy", []health.Check{fixed("z", true, health.StatusUnhealthy), fixed("a", true, health.StatusUnhealthy)}, false, []string{"a", "z"}},
		{"no checks", nil, true, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			rep := health.Run(context.Background(), tc.checks, time.Second)
			if rep.Ready != tc.ready {
				t.Errorf("ready = %v", rep.Ready)
			}
			if len(rep.Failed) != len(tc.failed) {
				t.Fatalf("failed = %v, want %v", rep.Failed, tc.failed)
			}
			for i := range tc.failed {
				if rep.Failed[i] != tc.failed[i] {
					t.Errorf("failed = %v, want %v", rep.Failed, tc.failed)
				}
			}
			if len(rep.Services) != len(tc.checks) {
				t.Errorf("services = %v", rep.Services)
			}
		})
	}
}

func TestChecksRunConcurrentlyUnderATimeout(t *testing.T) {
	slow := func(name string) health.Check {
		return health.NewCheck(name, true, func(ctx context.Context) health.Result {
			<-ctx.Done()
			return health.Result{Status: health.StatusHealthy}
		})
	}
	start := time.Now()
	rep := health.Run(context.Background(), []health.Check{slow("a"), slow("b"), slow("c")}, 200*time.Millisecond)
	if took := time.Since(start); took > 550*time.Millisecond {
		t.Errorf("three 200ms checks took %s: not concurrent", took)
	}
	if rep.Ready {
		t.Error("timed-out required checks must make the service not ready")
	}
	for _, s := range rep.Services {
		if s.Status != health.StatusUnhealthy {
			t.Errorf("%s: %s", s.Name, s.Status)
		}
	}
}

func TestPanickingCheckIsUnhealthy(t *testing.T) {
	c := health.NewCheck("p", true, func(context.Context) health.Result { panic("boom") })
	r := health.RunOne(context.Background(), c, time.Second)
	if r.Status != health.StatusUnhealthy || r.Message == "" {
		t.Errorf("got %+v", r)
	}
}

func TestAsCheckJoinsTheGroup(t *testing.T) {
	var got health.Checks
	fxtest.New(t,
		fx.Provide(health.AsCheck(func() health.Check { return fixed("x", true, health.StatusHealthy) })),
		fx.Provide(health.AsCheck(func() health.Check { return fixed("y", false, health.StatusHealthy) })),
		fx.Populate(&got),
	).RequireStart().RequireStop()
	if len(got.All) != 2 {
		t.Fatalf("group has %d checks", len(got.All))
	}
}
