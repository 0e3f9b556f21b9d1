package realtime

import (
	"encoding/json"
	"testing"
)

func TestDecodeEnvelope(t *testing.T) {
	head := func(tenant string) string {
		b, _ := json.Marshal(map[string]string{"t": tenant, "id": "17-3", "c": "alerts", "e": "alert.raised"})
		return string(b[:len(b)-1])
	}
	data := `{"alert_id":"a","nested":{"d":",\"d\":1"},"n":1}`
	cases := []struct {
		name, payload, tenant, data string
	}{
		{"as the script writes it", head("acme") + `,"d":` + data + `}`, "acme", data},
		{"a tenant holding the separator", head(`a,"d":b`) + `,"d":` + data + `}`, `a,"d":b`, data},
		{"head in another order", `{"e":"alert.raised","c":"alerts","id":"17-3","t":"acme","d":` + data + `}`, "acme", data},
		{"data first (full decode)", `{"d":` + data + `,"t":"acme","id":"17-3","c":"alerts","e":"alert.raised"}`, "acme", data},
	}
	for _, c := range cases {
		ev, err := decodeEnvelope(c.payload)
		if err != nil {
			t.Errorf("%s: %v", c.name, err)
			continue
		}
		if ev.Tenant != c.tenant || ev.ID != "17-3" || ev.Channel != "alerts" || ev.Type != "alert.raised" {
			t.Errorf("%s: %+v", c.name, ev)
		}
		var got, want any
		if json.Unmarshal(ev.Data, &got) != nil || json.Unmarshal([]byte(c.data), &want) != nil || string(mustJSON(got)) != string(mustJSON(want)) {
			t.Errorf("%s: data %s, want %s", c.name, ev.Data, c.data)
		}
	}
	for _, bad := range []string{"", "not json", `{"id":"1-0","d":{}}`, `{"t":"acme","d":{}}`} {
		if ev, err := decodeEnvelope(bad); err == nil {
			t.Errorf("%q decoded as %+v", bad, ev)
		}
	}
}

func mustJSON(v any) []byte {
	b, _ := json.Marshal(v)
	return b
}
