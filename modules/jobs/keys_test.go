package jobs

import (
	"fmt"
	"math/rand"
	"testing"
	"time"

	"github.com/redifx/redifx/modules/redis/keyspace"
)

// keyFuncs is every key the module builds, each as a function of the parts a
// caller or the module chooses (a fixed key takes none).
func keyFuncs(k keys) map[string]func(a, b string) string {
	return map[string]func(a, b string) string{
		"meta":         func(_, _ string) string { return k.meta() },
		"notify":       func(_, _ string) string { return k.notify() },
		"delayed":      func(_, _ string) string { return k.delayed() },
		"leases":       func(_, _ string) string { return k.leases() },
		"expire":       func(_, _ string) string { return k.expire() },
		"cancel":       func(_, _ string) string { return k.cancel() },
		"schedDue":     func(_, _ string) string { return k.schedDue() },
		"job":          func(a, _ string) string { return k.job(a) },
		"queue":        func(a, _ string) string { return k.queue(a) },
		"tenantJobs":   func(a, _ string) string { return k.tenantJobs(a) },
		"stats":        func(a, _ string) string { return k.stats(a) },
		"idem":         func(a, b string) string { return k.idem(a, b) },
		"sched":        func(a, _ string) string { return k.sched(a) },
		"schedRuns":    func(a, _ string) string { return k.schedRuns(a) },
		"tenantScheds": func(a, _ string) string { return k.tenantScheds(a) },
	}
}

// arity is how many parts each key function uses.
var arity = map[string]int{"job": 1, "queue": 1, "tenantJobs": 1, "stats": 1, "idem": 2, "sched": 1, "schedRuns": 1, "tenantScheds": 1}

// TestKeysAreInjective: two different (function, parts) never give one key,
// for ids that keyspace.ValidateID admits (drawn from an alphabet that
// includes the words and separators of the key names, so that a careless
// scheme would collide) and any free-form idempotency key.
func TestKeysAreInjective(t *testing.T) {
	k := newKeys("redifx:")
	fns := keyFuncs(k)
	r := rand.New(rand.NewSource(11))
	pieces := []string{"a", "b", "-", "t", "q", "s", "st", "job", "sched", "runs", "due", "meta", ":", "1", "{", "}", "idem"}
	draw := func() string {
		var s string
		for n := 1 + r.Intn(4); n > 0; n-- {
			s += pieces[r.Intn(len(pieces))]
		}
		return s
	}
	validID := func() string {
		for {
			if s := draw(); keyspace.ValidateID("id", s) == nil {
				return s
			}
		}
	}
	seen := map[string]string{}
	for range 100000 {
		for name, f := range fns {
			var a, b string
			if arity[name] >= 1 {
				a = validID()
				if name == "queue" {
					a = Priorities[r.Intn(len(Priorities))]
				}
			}
			if arity[name] == 2 {
				b = draw() // free-form: ':' and braces allowed
			}
			who := fmt.Sprintf("%s(%q, %q)", name, a, b)
			key := f(a, b)
			if prev, ok := seen[key]; ok && prev != who {
				t.Fatalf("%s and %s both make %q", prev, who, key)
			}
			seen[key] = who
		}
	}
	// The sample of issue 11: tenant x with key y:z against tenant x:y with
	// key z — the second tenant id cannot be carried, and is refused.
	if k.idem("x", "y:z") == k.idem("x", "y") {
		t.Error("different idempotency keys collide")
	}
	if err := checkTenant("x:y"); err == nil {
		t.Error("tenant x:y is accepted")
	}
	// Every key shares the {jobs} hash tag.
	for name, f := range fns {
		if key := f("a", "b"); key[:len(k.base)] != "redifx:{jobs}:" {
			t.Errorf("%s: %q is not under the {jobs} hash tag", name, key)
		}
	}
}

func TestClampsAndSaturation(t *testing.T) {
	for in, want := range map[int64]int64{-5: 0, 0: 0, 7: 7, MaxItems + 1: MaxItems, 1 << 62: MaxItems} {
		if got := clampItems(in); got != want {
			t.Errorf("clampItems(%d) = %d, want %d", in, got, want)
		}
	}
	nan := 0.0
	nan /= nan
	for in, want := range map[float64]float64{-1: 0, 50: 50, 101: 100, nan: 0} {
		if got := clampPercent(in); got != want {
			t.Errorf("clampPercent(%v) = %v, want %v", in, got, want)
		}
	}
	if got := satAdd(1<<62, 1<<62); got <= 0 {
		t.Errorf("satAdd wrapped: %d", got)
	}
}

func TestBackoffStaysWithinItsBounds(t *testing.T) {
	for _, base := range []time.Duration{time.Nanosecond, 50 * time.Millisecond, time.Hour, 1 << 62} {
		w := &Worker{cfg: Config{RetryBaseDelay: base, RetryMaxDelay: 2 * time.Hour}}
		for _, attempt := range []int{-1, 0, 1, 10, 29, 30, 31, 63, 1 << 40} {
			if d := w.backoff(attempt); d < 0 || d > 2*time.Hour {
				t.Errorf("base %s, attempt %d: backoff %s", base, attempt, d)
			}
		}
	}
}
