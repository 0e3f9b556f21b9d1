package jobs

import (
	"testing"
	"time"
)

func cronTiming(t *testing.T, expr, zone string) timing {
	t.Helper()
	s := &Schedule{CronExpression: &expr, Timezone: zone}
	tm, err := s.timing()
	if err != nil {
		t.Fatal(err)
	}
	return tm
}

// The cron library answers a slot before the time asked about when the
// slot's wall-clock time occurs twice; a schedule must then get the later
// occurrence (the earlier answer fired it on every tick, and refusing it
// would park a valid schedule).
func TestCronNextWhenAWallClockTimeOccursTwice(t *testing.T) {
	tm := cronTiming(t, "0 3 * * 0", "Pacific/Chatham")
	from := time.Date(2026, 4, 4, 14, 11, 0, 0, time.UTC) // 02:56 local, after DST ended at 03:45 → 02:45
	want := time.Date(2026, 4, 4, 14, 15, 0, 0, time.UTC) // 03:00 local, its second occurrence
	if got := tm.next(from); !got.Equal(want) {
		t.Fatalf("next after %s: %s, want %s", from, got, want)
	}
}

// Across a year in zones with daylight saving time, every next slot is
// after the time asked about, within two of the expression's periods (a
// slot in a DST gap may be skipped), and at the expression's wall-clock time.
func TestCronNextIsAlwaysAheadAcrossDaylightSavingTime(t *testing.T) {
	exprs := map[string]int{"0 2 * * *": 2, "30 2 * * *": 2, "0 3 * * 0": 3, "30 1 * * *": 1, "*/30 * * * *": -1}
	for _, zone := range []string{"Pacific/Chatham", "Europe/Berlin", "America/New_York", "Australia/Lord_Howe", "Antarctica/Troll", "America/Santiago"} {
		for expr, hour := range exprs {
			tm := cronTiming(t, expr, zone)
			start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
			for at := start; at.Before(start.AddDate(1, 0, 0)); at = at.Add(41 * time.Minute) {
				n := tm.next(at)
				if !n.After(at) || n.Sub(at) > 15*24*time.Hour {
					t.Fatalf("%s %q after %s: %s", zone, expr, at, n)
				}
				// A DST gap may move a slot by the gap (02:30 that does not exist).
				if local := n.In(tm.loc); hour >= 0 && local.Hour() != hour && local.Hour() != hour+1 {
					t.Fatalf("%s %q after %s: %s", zone, expr, at, local)
				}
			}
		}
	}
}

// Interval slots are anchored, strictly ahead, and never computed from
// arithmetic that overflows.
func TestIntervalNext(t *testing.T) {
	anchor := time.UnixMilli(1_700_000_000_000)
	tm := timing{interval: 5 * time.Second, anchor: anchor}
	for _, c := range []struct{ at, want time.Time }{
		{anchor.Add(-time.Hour), anchor},
		{anchor, anchor.Add(5 * time.Second)},
		{anchor.Add(4999 * time.Millisecond), anchor.Add(5 * time.Second)},
		{anchor.Add(5 * time.Second), anchor.Add(10 * time.Second)},
		{anchor.Add(5*time.Second + time.Microsecond), anchor.Add(10 * time.Second)},
	} {
		if got := tm.next(c.at); !got.Equal(c.want) {
			t.Errorf("after %s: %s, want %s", c.at, got, c.want)
		}
	}
	far := time.UnixMilli(maxAnchorMs)
	if got := (timing{interval: 365 * 24 * time.Hour, anchor: time.UnixMilli(0)}).next(far); !got.IsZero() && !got.After(far) {
		t.Errorf("near the end of time: %s", got)
	}
	if got := (timing{interval: 0, anchor: anchor}).next(anchor); !got.IsZero() {
		t.Errorf("a zero interval has a next slot: %s", got)
	}
	if got := (timing{interval: time.Second, anchor: time.UnixMilli(-1 << 62)}).next(time.UnixMilli(1 << 62)); !got.IsZero() {
		t.Errorf("overflowing arithmetic gave a slot: %s", got)
	}
}
