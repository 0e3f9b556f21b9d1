// Package redistest runs real Redis servers for tests: a redis-server
// process per [Start] on a free 127.0.0.1 port, without persistence, its
// data directory and log in t.TempDir(), stopped automatically when the test
// ends. It also starts replicas ([WithReplicaOf]), Sentinel deployments
// ([StartSentinel]) and three-node clusters ([StartCluster]), and generates
// throw-away TLS certificates ([NewTLSFiles]). Servers can be stopped,
// killed and restarted on the same port to test fault handling. The
// standard Redis port 6379 is never used.
//
// When redis-server is not on PATH, [Start] falls back to an embedded
// miniredis and everything needing a real server is skipped ([RequireReal]).
// Setting REDIFX_REQUIRE_REDIS=1 (e.g. in CI) turns a missing binary into a
// test failure instead.
//
// All functions are safe to call from parallel tests.
//
// Example:
//
//	func TestCache(t *testing.T) {
//		srv := redistest.Start(t, redistest.WithPassword("secret"))
//		rdb := srv.Client(t)
//		if err := rdb.Set(t.Context(), "k", "v", 0).Err(); err != nil {
//			t.Fatal(err)
//		}
//
//		srv.Kill()    // Redis dies mid-run ...
//		srv.Restart() // ... and comes back, empty, on the same address.
//	}
package redistest
