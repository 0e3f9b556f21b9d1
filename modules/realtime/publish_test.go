package realtime_test

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redifx/redifx/modules/realtime"
	"github.com/redifx/redifx/modules/redis/redistest"
)

// streamID orders event ids ("<ms>-<seq>").
func streamID(t *testing.T, id string) [2]uint64 {
	t.Helper()
	ms, seq, ok := strings.Cut(id, "-")
	a, err1 := strconv.ParseUint(ms, 10, 64)
	b, err2 := strconv.ParseUint(seq, 10, 64)
	if !ok || err1 != nil || err2 != nil {
		t.Fatalf("not an event id: %q", id)
	}
	return [2]uint64{a, b}
}

// Concurrent publishes are stored in batches (one script call per tenant);
// every caller still gets its own event's id, and every stream gets every
// event of its tenant once, in id order.
func TestConcurrentPublishesAreBatchedAndEachGetsItsID(t *testing.T) {
	redistest.RequireReal(t) // counts script calls with INFO commandstats
	srv := startRedis(t)
	in := startInstance(t, srv.URL())
	tenants := []string{"acme", "initech", "umbrella"}
	const perTenant = 80
	streams := map[string]*sseClient{}
	for _, tn := range tenants {
		c := connect(t, in.base+"/api/v1/realtime/alerts", token(t, tn, readPerm))
		c.skipPreamble(t)
		streams[tn] = c
	}
	rdb := in.mgr.Client()
	if err := rdb.ConfigResetStat(context.Background()).Err(); err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	ids := map[string]map[string]string{} // tenant -> id -> alert_id
	for _, tn := range tenants {
		ids[tn] = map[string]string{}
	}
	var wg sync.WaitGroup
	for i := range perTenant {
		for _, tn := range tenants {
			wg.Go(func() {
				alertID := fmt.Sprintf("%s-%d", tn, i)
				id, err := in.pub.Publish(context.Background(), tn, realtime.ChannelAlerts, alert(alertID))
				if err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				defer mu.Unlock()
				if _, dup := ids[tn][id]; dup {
					t.Errorf("id %s given twice", id)
				}
				ids[tn][id] = alertID
			})
		}
	}
	wg.Wait()
	// Fewer script calls than events: concurrent publishes were combined.
	info, err := rdb.Info(context.Background(), "commandstats").Result()
	if err != nil {
		t.Fatal(err)
	}
	calls := 0
	for _, cmd := range []string{"cmdstat_evalsha:calls=", "cmdstat_eval:calls="} {
		if _, rest, ok := strings.Cut(info, cmd); ok {
			n, _ := strconv.Atoi(rest[:strings.IndexByte(rest, ',')])
			calls += n
		}
	}
	if total := perTenant * len(tenants); calls == 0 || calls >= total {
		t.Errorf("%d script calls for %d concurrent events", calls, total)
	}
	for _, tn := range tenants {
		if len(ids[tn]) != perTenant {
			t.Fatalf("%s: %d ids for %d events", tn, len(ids[tn]), perTenant)
		}
		var last [2]uint64
		for n := range perTenant {
			ev := streams[tn].next(t, 5*time.Second)
			alertID, ok := ids[tn][ev.ID]
			if !ok {
				t.Fatalf("%s: event %d has id %s, which no publish of this tenant returned", tn, n, ev.ID)
			}
			if !strings.Contains(ev.Data, `"alert_id":"`+alertID+`"`) {
				t.Fatalf("%s: event %s carries %s, its publish sent %s", tn, ev.ID, ev.Data, alertID)
			}
			cur := streamID(t, ev.ID)
			if n > 0 && (cur[0] < last[0] || cur[0] == last[0] && cur[1] <= last[1]) {
				t.Fatalf("%s: event %s after %v: out of order", tn, ev.ID, last)
			}
			last = cur
		}
		streams[tn].expectNone(t, 200*time.Millisecond)
		counts, err := in.hub.EventCounts(context.Background(), tn, time.Minute)
		if err != nil || counts[realtime.ChannelAlerts] != perTenant {
			t.Errorf("%s: counts %v (%v), want %d alerts", tn, counts, err, perTenant)
		}
	}
	for _, c := range streams {
		c.close()
	}
}
