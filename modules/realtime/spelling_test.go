package realtime_test

import (
	"errors"
	"testing"

	"github.com/redifx/redifx/modules/realtime"
)

// A member that is a schema field or a reserved member spelled in another
// case is 400 naming it, over HTTP and through the Go API, and nothing is
// stored. Before, {"status":"online","ſtatus":"hacked"} passed validation
// (status is online, ſtatus an unknown member) and the ONU view, decoded
// with encoding/json, read status "hacked"; "Tenant_ID" named another tenant
// to every such reader.
func TestMembersSpelledInAnotherCaseAreRefused(t *testing.T) {
	srv := startRedis(t)
	in := startInstance(t, srv.URL())
	pub := token(t, "acme", pubPerm)
	rdb := srv.Client(t)
	cases := []struct{ channel, member string }{
		{realtime.ChannelONUStatus, "ſtatus"},
		{realtime.ChannelONUStatus, "Status"},
		{realtime.ChannelONUStatus, "ONU_SERIAL"},
		{realtime.ChannelONUStatus, "Signal_dBm"},
		{realtime.ChannelAlerts, "Tenant_ID"},
		{realtime.ChannelAlerts, "TimeStamp"},
		{realtime.ChannelAlerts, "Event_Type"},
		{realtime.ChannelAlerts, "SOURCE"},
		{realtime.ChannelTickets, "Ticket_Id"},
		{realtime.ChannelRadiusSessions, "Bytes_In"},
	}
	for _, tc := range cases {
		ev := validEvent(tc.channel)
		ev[tc.member] = "hacked"
		a := post(t, in.base+"/api/v1/realtime/"+tc.channel, pub, mustJSON(t, ev))
		if a.code != 400 || a.body["field"] != tc.member || a.body["error"] != "validation_error" {
			t.Errorf("%s %q: %d %s", tc.channel, tc.member, a.code, a.raw)
		}
		_, err := in.pub.Publish(t.Context(), "acme", tc.channel, validEventWith(tc.channel, tc.member, "hacked"))
		var ve *realtime.ValidationError
		if !errors.As(err, &ve) || ve.Field != tc.member {
			t.Errorf("Go API %s %q: %v", tc.channel, tc.member, err)
		}
	}
	if n := rdb.XLen(t.Context(), streamKey("acme")).Val(); n != 0 {
		t.Fatalf("refused events were stored: %d", n)
	}
	onus, err := in.hub.ONUs(t.Context(), "acme")
	if err != nil || len(onus) != 0 {
		t.Errorf("ONU view: %v %v", onus, err)
	}
	// Members that match no field in any case are still kept as sent.
	ev := validEvent(realtime.ChannelONUStatus)
	ev["Statuses"], ev["note"] = "x", "y"
	if a := post(t, in.base+"/api/v1/realtime/onu-status", pub, mustJSON(t, ev)); a.code != 202 {
		t.Errorf("unrelated members: %d %s", a.code, a.raw)
	}
	if onus, _ := in.hub.ONUs(t.Context(), "acme"); len(onus) != 1 || onus[0].Status != "online" {
		t.Errorf("ONU view after a good event: %+v", onus)
	}
}
