package realtime_test

import (
	"context"
	"testing"
	"time"

	"github.com/redifx/redifx/modules/realtime"
	"github.com/redifx/redifx/modules/redis"
)

// The ONU view keeps the latest state of the ONUs heard from within the
// history, not of every ONU ever seen: a silent ONU is dropped when another
// reports, and the whole view expires with the history.
func TestONUViewDropsSilentONUs(t *testing.T) {
	srv := startRedis(t)
	in := startInstance(t, srv.URL(), func(c *realtime.Config, _ *redis.Config) { c.HistoryTTL = time.Second })
	ctx := context.Background()
	report := func(serial, status string) {
		t.Helper()
		if _, err := in.pub.Publish(ctx, "acme", realtime.ChannelONUStatus, map[string]any{
			"event_type": "onu.online", "onu_serial": serial, "status": status,
		}); err != nil {
			t.Fatal(err)
		}
	}
	serials := func() map[string]string {
		t.Helper()
		onus, err := in.hub.ONUs(ctx, "acme")
		if err != nil {
			t.Fatal(err)
		}
		out := map[string]string{}
		for _, o := range onus {
			out[o.Serial] = o.Status
		}
		return out
	}
	report("ONU-A", "online")
	report("ONU-B", "online")
	report("ONU-A", "degraded")
	if got := serials(); len(got) != 2 || got["ONU-A"] != "degraded" || got["ONU-B"] != "online" {
		t.Fatalf("latest states: %v", got)
	}
	time.Sleep(1200 * time.Millisecond) // A and B fall out of the history
	report("ONU-C", "online")
	if got := serials(); len(got) != 1 || got["ONU-C"] != "online" {
		t.Errorf("after A and B were silent for longer than the history: %v", got)
	}
	time.Sleep(1200 * time.Millisecond) // nothing reports: the view expires
	if got := serials(); len(got) != 0 {
		t.Errorf("after every ONU was silent for longer than the history: %v", got)
	}
}
