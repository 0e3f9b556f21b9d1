package realtime

import (
	"errors"
	"math/rand/v2"
	"strconv"
	"strings"
	"testing"
	"time"
)

// idAlphabet is every byte keyspace.ValidateID admits, with the bytes that
// matter most for collisions (separators of other schemes) repeated.
const idAlphabet = "ab0.._--@@++==xyZ9"

func randomID(r *rand.Rand) string {
	n := 1 + r.IntN(6)
	b := make([]byte, n)
	for i := range b {
		b[i] = idAlphabet[r.IntN(len(idAlphabet))]
	}
	return string(b)
}

// randomPart is a free-form idempotency key: anything, separators included.
func randomPart(r *rand.Rand) string {
	const any = "a:{}0-1 \x00é"
	n := r.IntN(6)
	b := make([]byte, 0, n)
	for range n {
		b = append(b, any[r.IntN(len(any))])
	}
	return string(b)
}

// Property: two different (tenant, id) pairs never map to one key, over every
// key family of the package (and never to the pub/sub channel).
func TestKeysAreInjective(t *testing.T) {
	k := newKeys("redifx:")
	minute := time.Unix(1_700_000_000, 0)
	type owner struct{ family, tenant, part string }
	seen := map[string]owner{k.pubsub(): {family: "pubsub"}}
	add := func(key string, o owner) {
		t.Helper()
		if prev, ok := seen[key]; ok && prev != o {
			t.Fatalf("%q is the key of %+v and of %+v", key, prev, o)
		}
		seen[key] = o
	}
	r := rand.New(rand.NewPCG(1, 2))
	for range 20000 {
		tenant := randomID(r)
		if err := checkTenant(tenant); err != nil {
			t.Fatalf("generator made an invalid tenant %q: %v", tenant, err)
		}
		part := randomPart(r)
		add(k.stream(tenant), owner{"stream", tenant, ""})
		add(k.streamBytes(tenant), owner{"stream_bytes", tenant, ""})
		add(k.onus(tenant), owner{"onus", tenant, ""})
		add(k.onusSeen(tenant), owner{"onus_seen", tenant, ""})
		add(k.clients(tenant), owner{"clients", tenant, ""})
		m := r.IntN(3)
		add(k.counts(tenant, minute.Add(time.Duration(m)*time.Minute)), owner{"counts", tenant, strconv.Itoa(m)})
		add(k.idem(tenant, part), owner{"idem", tenant, part})
		call := newCallID()
		add(k.call(tenant, call), owner{"call", tenant, call})
	}
}

// The hash tag of every key of a tenant is the tenant, so that one script
// may touch them all on Cluster.
func TestKeysShareTheTenantsHashTag(t *testing.T) {
	k := newKeys("redifx:")
	for _, key := range []string{k.stream("t1"), k.streamBytes("t1"), k.onus("t1"), k.onusSeen("t1"), k.clients("t1"), k.counts("t1", time.Now()), k.idem("t1", "a{b}c"), k.call("t1", newCallID())} {
		i := strings.IndexByte(key, '{')
		j := strings.IndexByte(key[i:], '}')
		if i < 0 || j < 0 || key[i+1:i+j] != "t1" {
			t.Errorf("%q: hash tag is not the tenant", key)
		}
	}
}

func TestCheckTenantNamesTheField(t *testing.T) {
	for _, bad := range []string{"", "a:b", "a{b}", "a b", strings.Repeat("x", 129), "tab\t", "é"} {
		var ve *ValidationError
		if err := checkTenant(bad); !errors.As(err, &ve) || ve.Field != "tenant_id" {
			t.Errorf("%q: %v", bad, err)
		}
	}
}

// Where a resume starts, at and around the history's bounds.
func TestResumePoint(t *testing.T) {
	const first, last = "100-5", "200-3"
	cases := []struct {
		lastID, cause, cursor string
	}{
		{"100-5", "", "100-5"},          // exactly the oldest: resume after it
		{"200-3", "", "200-3"},          // exactly the newest: nothing to replay
		{"150-0", "", "150-0"},          // inside
		{"100-4", resetBehind, "100-4"}, // just older than the history
		{"0-0", resetBehind, "0-0"},
		{"200-4", resetAhead, last}, // just ahead: continue after the newest stored
		{"201-0", resetAhead, last},
		{"18446744073709551615-18446744073709551615", resetAhead, last},
	}
	for _, tc := range cases {
		reset, cursor := resumePoint(tc.lastID, first, last)
		cause := ""
		if reset != nil {
			cause = reset.cause
		}
		if cause != tc.cause || cursor != tc.cursor {
			t.Errorf("%s: reset %q cursor %s, want %q %s", tc.lastID, cause, cursor, tc.cause, tc.cursor)
		}
	}
	if reset, cursor := resumePoint("5-0", "", ""); reset == nil || reset.cause != resetEmpty || cursor != "0-0" {
		t.Errorf("empty history: %+v %s", reset, cursor)
	}
	if reset, _ := resumePoint("201-0", first, last); !strings.Contains(reset.reason, "ahead of the history") {
		t.Errorf("reason %q does not say the id is ahead", reset.reason)
	}
}
