package realtime

import (
	"context"
	"testing"

	"github.com/redifx/redifx/modules/redis/redistest"
	goredis "github.com/redis/go-redis/v9"
)

// A batch spanning tenants goes out as one pipeline of EVALSHA; when Redis
// does not have the script (restarted, or another Cluster node), every
// tenant's events are still stored, through a call that loads it.
func TestFlushAcrossTenantsLoadsAMissingScript(t *testing.T) {
	redistest.RequireReal(t) // SCRIPT FLUSH
	srv := redistest.Start(t)
	rdb := goredis.NewClient(&goredis.Options{Addr: srv.Addr()})
	defer func() { _ = rdb.Close() }()
	ctx := context.Background()
	s := newStore(rdb, "test:", DefaultConfig())
	if err := rdb.ScriptFlush(ctx).Err(); err != nil {
		t.Fatal(err)
	}
	batch := []*publishReq{
		{tenant: "acme", channel: ChannelAlerts, eventType: "alert.raised", data: []byte(`{"n":1}`)},
		{tenant: "initech", channel: ChannelAlerts, eventType: "alert.raised", data: []byte(`{"n":2}`)},
		{tenant: "acme", channel: ChannelAlerts, eventType: "alert.raised", data: []byte(`{"n":3}`)},
	}
	s.flush(ctx, batch)
	for _, r := range batch {
		if r.err != nil || r.id == "" {
			t.Fatalf("%s: id %q, err %v", r.tenant, r.id, r.err)
		}
	}
	for tenant, want := range map[string]int{"acme": 2, "initech": 1} {
		evs, err := s.after(ctx, tenant, "0-0", 10)
		if err != nil || len(evs) != want {
			t.Errorf("%s: %d events stored (%v), want %d", tenant, len(evs), err, want)
		}
	}
	if !idLess(batch[0].id, batch[2].id) {
		t.Errorf("acme's events out of order: %s, %s", batch[0].id, batch[2].id)
	}
}
