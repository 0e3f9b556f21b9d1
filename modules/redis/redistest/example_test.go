package redistest_test

import (
	"testing"

	"github.com/redifx/redifx/modules/redis/redistest"
)

// A test starts its own Redis, talks to it with go-redis and simulates an
// outage. Everything is cleaned up when the test ends.
func Example() {
	// Normally this is a top-level func TestCache(t *testing.T).
	testCache := func(t *testing.T) {
		srv := redistest.Start(t, redistest.WithPassword("s3cret"))
		rdb := srv.Client(t) // password (and TLS, if configured) applied

		if err := rdb.Set(t.Context(), "greeting", "hello", 0).Err(); err != nil {
			t.Fatal(err)
		}

		srv.Kill() // Redis dies mid-run: commands now fail ...
		if rdb.Ping(t.Context()).Err() == nil {
			t.Fatal("expected an error while Redis is down")
		}
		srv.Restart() // ... and it is back, empty, on the same address.
		if err := rdb.Ping(t.Context()).Err(); err != nil {
			t.Fatal(err)
		}
	}
	_ = testCache
}
