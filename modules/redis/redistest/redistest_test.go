package redistest_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"go.uber.org/goleak"

	"github.com/redifx/redifx/modules/redis/redistest"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// ctx returns a context bounded by a few seconds, so a broken server fails
// the test instead of hanging it.
func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	t.Cleanup(cancel)
	return c
}

func setGet(t *testing.T, rdb redis.Cmdable, key, val string) {
	t.Helper()
	if err := rdb.Set(ctx(t), key, val, 0).Err(); err != nil {
		t.Fatalf("SET %s: %v", key, err)
	}
	got, err := rdb.Get(ctx(t), key).Result()
	if err != nil || got != val {
		t.Fatalf("GET %s = %q, %v; want %q", key, got, err, val)
	}
}

// noRetryClient fails fast while a server is down.
func noRetryClient(t *testing.T, s *redistest.Server) *redis.Client {
	t.Helper()
	c := redis.NewClient(&redis.Options{Addr: s.Addr(), MaxRetries: -1, DialTimeout: time.Second})
	t.Cleanup(func() { _ = c.Close() })
	return c
}

func TestStartSetGet(t *testing.T) {
	t.Parallel()
	s := redistest.Start(t)
	if s.Embedded() {
		t.Fatal("Start returned an embedded server although redis-server is installed")
	}
	if s.Host() != "127.0.0.1" || s.Port() == 6379 || s.Addr() != fmt.Sprintf("127.0.0.1:%d", s.Port()) {
		t.Fatalf("unexpected address %s (host %s, port %d)", s.Addr(), s.Host(), s.Port())
	}
	if want := "redis://" + s.Addr(); s.URL() != want {
		t.Fatalf("URL = %q, want %q", s.URL(), want)
	}
	rdb := s.Client(t)
	setGet(t, rdb, "k", "v")

	// Make sure it is a real redis-server with persistence disabled.
	save, err := rdb.ConfigGet(ctx(t), "save").Result()
	if err != nil || save["save"] != "" {
		t.Fatalf("CONFIG GET save = %v, %v; want empty", save, err)
	}

	s.Flush(t)
	if n, err := rdb.DBSize(ctx(t)).Result(); err != nil || n != 0 {
		t.Fatalf("DBSIZE after Flush = %d, %v", n, err)
	}
}

func TestStopRestart(t *testing.T) {
	t.Parallel()
	s := redistest.Start(t)
	addr := s.Addr()
	rdb := s.Client(t)
	setGet(t, rdb, "k", "v")

	s.Stop()
	s.Stop() // idempotent
	if err := noRetryClient(t, s).Ping(ctx(t)).Err(); err == nil {
		t.Fatal("PING succeeded on a stopped server")
	}

	s.Restart()
	if s.Addr() != addr {
		t.Fatalf("Addr after Restart = %s, want %s", s.Addr(), addr)
	}
	if err := rdb.Ping(ctx(t)).Err(); err != nil {
		t.Fatalf("PING after Restart: %v", err)
	}
	if err := rdb.Get(ctx(t), "k").Err(); !errors.Is(err, redis.Nil) {
		t.Fatalf("GET after Restart = %v, want redis.Nil (no persistence)", err)
	}
	setGet(t, rdb, "k", "v2")
}

func TestKill(t *testing.T) {
	t.Parallel()
	s := redistest.Start(t)
	rdb := s.Client(t)
	setGet(t, rdb, "k", "v")

	s.Kill()
	s.Kill() // idempotent
	if err := noRetryClient(t, s).Ping(ctx(t)).Err(); err == nil {
		t.Fatal("PING succeeded on a killed server")
	}
	s.Restart()
	setGet(t, rdb, "k", "v")
	s.Restart() // restarting a running server stops it first
	setGet(t, rdb, "k", "v")
}

func TestRestartWhilePortBusy(t *testing.T) {
	t.Parallel()
	s := redistest.Start(t)
	s.Kill()
	// Someone else holds the port briefly; Restart waits for it.
	l, err := net.Listen("tcp", s.Addr())
	if err != nil {
		t.Fatalf("listen on %s: %v", s.Addr(), err)
	}
	timer := time.AfterFunc(300*time.Millisecond, func() { _ = l.Close() })
	defer func() {
		timer.Stop()
		_ = l.Close()
	}()
	s.Restart()
	setGet(t, s.Client(t), "k", "v")
}

func TestPassword(t *testing.T) {
	t.Parallel()
	s := redistest.Start(t, redistest.WithPassword("p@ss word"))
	if err := noRetryClient(t, s).Ping(ctx(t)).Err(); err == nil || !strings.Contains(err.Error(), "NOAUTH") {
		t.Fatalf("PING without password = %v, want NOAUTH", err)
	}
	setGet(t, s.Client(t), "k", "v")

	opt, err := redis.ParseURL(s.URL())
	if err != nil {
		t.Fatalf("ParseURL(%q): %v", s.URL(), err)
	}
	if opt.Password != "p@ss word" || opt.Addr != s.Addr() {
		t.Fatalf("URL %q parsed to addr %q password %q", s.URL(), opt.Addr, opt.Password)
	}
	byURL := redis.NewClient(opt)
	defer byURL.Close()
	if err := byURL.Ping(ctx(t)).Err(); err != nil {
		t.Fatalf("PING via URL: %v", err)
	}

	s.Kill()
	s.Restart() // password survives a restart
	setGet(t, s.Client(t), "k", "v")
	s.Flush(t)
}

func TestACLUser(t *testing.T) {
	t.Parallel()
	s := redistest.Start(t, redistest.WithACLUser("app", "app-secret"))
	c := redis.NewClient(&redis.Options{Addr: s.Addr(), Username: "app", Password: "app-secret"})
	defer c.Close()
	setGet(t, c, "k", "v")
	if who, err := c.Do(ctx(t), "ACL", "WHOAMI").Text(); err != nil || who != "app" {
		t.Fatalf("ACL WHOAMI = %q, %v", who, err)
	}

	bad := redis.NewClient(&redis.Options{Addr: s.Addr(), Username: "app", Password: "wrong", MaxRetries: -1})
	defer bad.Close()
	if err := bad.Ping(ctx(t)).Err(); err == nil {
		t.Fatal("PING with a wrong ACL password succeeded")
	}
}

func TestTLS(t *testing.T) {
	t.Parallel()
	redistest.RequireReal(t)
	if !redistest.TLSSupported() {
		t.Skip("installed redis-server was built without TLS support")
	}
	files := redistest.NewTLSFiles(t)
	files.RequireClientCert = true
	s := redistest.Start(t, redistest.WithTLS(files), redistest.WithPassword("pw"))
	if !strings.HasPrefix(s.URL(), "rediss://") {
		t.Fatalf("URL = %q, want rediss://", s.URL())
	}
	setGet(t, s.Client(t), "k", "v")

	// Plain text is refused.
	if err := noRetryClient(t, s).Ping(ctx(t)).Err(); err == nil {
		t.Fatal("plain-text PING to a TLS server succeeded")
	}
	// A client without certificate is refused when RequireClientCert.
	cfg := files.ClientConfig(t)
	cfg.Certificates = nil
	noCert := redis.NewClient(&redis.Options{Addr: s.Addr(), Password: "pw", TLSConfig: cfg, MaxRetries: -1})
	defer noCert.Close()
	if err := noCert.Ping(ctx(t)).Err(); err == nil {
		t.Fatal("PING without client certificate succeeded")
	}

	// A TLS replica replicates from the TLS master.
	r := redistest.Start(t, redistest.WithTLS(files), redistest.WithReplicaOf(s))
	waitValue(t, r.Client(t), "k", "v")
}

func waitValue(t *testing.T, rdb *redis.Client, key, want string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		got, err := rdb.Get(ctx(t), key).Result()
		if err == nil && got == want {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("GET %s = %q, %v; want %q", key, got, err, want)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestReplica(t *testing.T) {
	t.Parallel()
	m := redistest.Start(t, redistest.WithPassword("pw"))
	r := redistest.Start(t, redistest.WithPassword("pw"), redistest.WithReplicaOf(m))
	if err := m.Client(t).Set(ctx(t), "k", "replicated", 0).Err(); err != nil {
		t.Fatal(err)
	}
	rc := r.Client(t)
	waitValue(t, rc, "k", "replicated")
	if role, err := rc.Do(ctx(t), "ROLE").Slice(); err != nil || role[0] != "slave" {
		t.Fatalf("ROLE = %v, %v", role, err)
	}
}

func TestArgs(t *testing.T) {
	t.Parallel()
	s := redistest.Start(t, redistest.WithArgs("--maxmemory", "10mb"))
	v, err := s.Client(t).ConfigGet(ctx(t), "maxmemory").Result()
	if err != nil || v["maxmemory"] != "10485760" {
		t.Fatalf("CONFIG GET maxmemory = %v, %v", v, err)
	}
}

func TestSentinel(t *testing.T) {
	t.Parallel()
	sn := redistest.StartSentinel(t, "mymaster", redistest.WithPassword("pw"))
	if len(sn.Addrs()) != 1 || sn.MasterName != "mymaster" {
		t.Fatalf("Addrs = %v, MasterName = %q", sn.Addrs(), sn.MasterName)
	}

	sc := redis.NewSentinelClient(&redis.Options{Addr: sn.Addrs()[0]})
	defer sc.Close()
	addr, err := sc.GetMasterAddrByName(ctx(t), "mymaster").Result()
	if err != nil || len(addr) != 2 || addr[0]+":"+addr[1] != sn.Master.Addr() {
		t.Fatalf("get-master-addr-by-name = %v, %v; want %s", addr, err, sn.Master.Addr())
	}

	fc := redis.NewFailoverClient(&redis.FailoverOptions{
		MasterName:    "mymaster",
		SentinelAddrs: sn.Addrs(),
		Password:      "pw",
	})
	defer fc.Close()
	setGet(t, fc, "k", "v")
	waitValue(t, sn.Replica.Client(t), "k", "v")

	// Redis killed mid-run: the sentinel promotes the replica and the
	// failover client follows.
	sn.Master.Kill()
	deadline := time.Now().Add(15 * time.Second)
	for {
		got, err := sc.GetMasterAddrByName(ctx(t), "mymaster").Result()
		if err == nil && got[0]+":"+got[1] == sn.Replica.Addr() {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no failover to %s: master = %v, %v", sn.Replica.Addr(), got, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	deadline = time.Now().Add(10 * time.Second)
	for fc.Set(ctx(t), "after", "failover", 0).Err() != nil {
		if time.Now().After(deadline) {
			t.Fatal("failover client does not reach the new master")
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func TestSentinelMany(t *testing.T) {
	t.Parallel()
	sn := redistest.StartSentinel(t, "three", redistest.WithSentinels(3))
	if len(sn.Addrs()) != 3 {
		t.Fatalf("Addrs = %v", sn.Addrs())
	}
	for _, s := range sn.Sentinels {
		n, err := s.Client(t).Do(ctx(t), "SENTINEL", "sentinels", "three").Slice()
		if err != nil || len(n) != 2 {
			t.Fatalf("sentinel %s knows %d other sentinels (%v), want 2", s.Addr(), len(n), err)
		}
	}
}

func TestCluster(t *testing.T) {
	t.Parallel()
	c := redistest.StartCluster(t)
	if len(c.Addrs()) != 3 {
		t.Fatalf("Addrs = %v", c.Addrs())
	}
	for _, n := range c.Nodes {
		info, err := n.Client(t).ClusterInfo(ctx(t)).Result()
		if err != nil || !strings.Contains(info, "cluster_state:ok") {
			t.Fatalf("CLUSTER INFO on %s = %q, %v", n.Addr(), info, err)
		}
	}
	cc := redis.NewClusterClient(&redis.ClusterOptions{Addrs: c.Addrs()})
	defer cc.Close()
	for i := range 200 {
		setGet(t, cc, fmt.Sprintf("key-%d", i), fmt.Sprint(i))
	}
	// Keys really are spread over all masters.
	var mu sync.Mutex
	sizes := map[string]int64{}
	err := cc.ForEachMaster(ctx(t), func(ctx context.Context, m *redis.Client) error {
		n, err := m.DBSize(ctx).Result()
		mu.Lock()
		sizes[m.Options().Addr] = n
		mu.Unlock()
		return err
	})
	if err != nil || len(sizes) != 3 {
		t.Fatalf("DBSIZE per master = %v, %v", sizes, err)
	}
	for addr, n := range sizes {
		if n == 0 {
			t.Fatalf("master %s holds no keys: %v", addr, sizes)
		}
	}
}

func TestClusterPasswordRestart(t *testing.T) {
	t.Parallel()
	c := redistest.StartCluster(t, redistest.WithPassword("pw"))
	cc := redis.NewClusterClient(&redis.ClusterOptions{Addrs: c.Addrs(), Password: "pw"})
	defer cc.Close()
	setGet(t, cc, "a", "1")

	// A killed node rejoins with its nodes.conf, ports and slots.
	n := c.Nodes[1]
	n.Kill()
	n.Restart()
	deadline := time.Now().Add(10 * time.Second)
	for {
		info, err := n.Client(t).ClusterInfo(ctx(t)).Result()
		if err == nil && strings.Contains(info, "cluster_state:ok") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("node %s after restart: %q, %v", n.Addr(), info, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	for i := range 50 {
		key := fmt.Sprintf("after-%d", i)
		deadline := time.Now().Add(10 * time.Second)
		for cc.Set(ctx(t), key, "x", 0).Err() != nil {
			if time.Now().After(deadline) {
				t.Fatalf("SET %s after node restart keeps failing", key)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
}

func TestEmbedded(t *testing.T) {
	t.Parallel()
	s := redistest.StartEmbedded(t, redistest.WithPassword("pw"))
	if !s.Embedded() {
		t.Fatal("StartEmbedded returned a real server")
	}
	rdb := s.Client(t)
	setGet(t, rdb, "k", "v")
	if err := noRetryClient(t, s).Ping(ctx(t)).Err(); err == nil {
		t.Fatal("PING without password succeeded")
	}

	addr := s.Addr()
	s.Stop()
	s.Stop()
	if err := noRetryClient(t, s).Ping(ctx(t)).Err(); err == nil {
		t.Fatal("PING succeeded on a stopped embedded server")
	}
	s.Restart()
	if s.Addr() != addr {
		t.Fatalf("Addr after Restart = %s, want %s", s.Addr(), addr)
	}
	if got, err := rdb.Get(ctx(t), "k").Result(); err != nil || got != "v" {
		t.Fatalf("GET after embedded restart = %q, %v (miniredis keeps data)", got, err)
	}
	s.Kill()
	s.Restart()
	s.Flush(t)
	if n, err := rdb.DBSize(ctx(t)).Result(); err != nil || n != 0 {
		t.Fatalf("DBSIZE after Flush = %d, %v", n, err)
	}
}

// fakeTB records Fatal/Skip instead of ending the real test.
type fakeTB struct {
	testing.TB
	mu      sync.Mutex
	fatal   string
	skipped string
	logs    []string
}

func (f *fakeTB) Helper() {}
func (f *fakeTB) Fatalf(format string, args ...any) {
	f.mu.Lock()
	f.fatal = fmt.Sprintf(format, args...)
	f.mu.Unlock()
	runtime.Goexit()
}
func (f *fakeTB) Fatal(args ...any) { f.Fatalf("%s", fmt.Sprint(args...)) }
func (f *fakeTB) Skipf(format string, args ...any) {
	f.mu.Lock()
	f.skipped = fmt.Sprintf(format, args...)
	f.mu.Unlock()
	runtime.Goexit()
}
func (f *fakeTB) Skip(args ...any) { f.Skipf("%s", fmt.Sprint(args...)) }
func (f *fakeTB) Log(args ...any) {
	f.mu.Lock()
	f.logs = append(f.logs, fmt.Sprint(args...))
	f.mu.Unlock()
}

// run calls fn with f on its own goroutine, so Goexit only ends fn.
func (f *fakeTB) run(fn func(testing.TB)) {
	done := make(chan struct{})
	go func() {
		defer close(done)
		fn(f)
	}()
	<-done
}

// TestMissingBinary covers the behaviour without redis-server by hiding it
// from PATH. It must not run in parallel (it changes the environment).
func TestMissingBinary(t *testing.T) {
	t.Setenv("PATH", t.TempDir())
	t.Setenv("REDIFX_REQUIRE_REDIS", "")
	if redistest.Available() {
		t.Fatal("Available with an empty PATH")
	}

	t.Run("fallback", func(t *testing.T) {
		f := &fakeTB{TB: t}
		var s *redistest.Server
		f.run(func(tb testing.TB) { s = redistest.Start(tb) })
		if f.fatal != "" || f.skipped != "" || s == nil || !s.Embedded() {
			t.Fatalf("Start without binary: server %v, fatal %q, skip %q", s, f.fatal, f.skipped)
		}
		if len(f.logs) == 0 || !strings.Contains(f.logs[0], "miniredis") {
			t.Fatalf("fallback not logged: %q", f.logs)
		}
		setGet(t, s.Client(t), "k", "v")
	})
	t.Run("skip", func(t *testing.T) {
		for name, start := range map[string]func(testing.TB){
			"RequireReal":   func(tb testing.TB) { redistest.RequireReal(tb) },
			"ACL":           func(tb testing.TB) { redistest.Start(tb, redistest.WithACLUser("u", "p")) },
			"StartSentinel": func(tb testing.TB) { redistest.StartSentinel(tb, "m") },
			"StartCluster":  func(tb testing.TB) { redistest.StartCluster(tb) },
		} {
			f := &fakeTB{TB: t}
			f.run(start)
			if f.fatal != "" || !strings.HasPrefix(f.skipped, "redis-server not installed") {
				t.Errorf("%s without binary: fatal %q, skip %q; want skip", name, f.fatal, f.skipped)
			}
		}
	})
	t.Run("required", func(t *testing.T) {
		t.Setenv("REDIFX_REQUIRE_REDIS", "1")
		for name, start := range map[string]func(testing.TB){
			"RequireReal": func(tb testing.TB) { redistest.RequireReal(tb) },
			"Start":       func(tb testing.TB) { redistest.Start(tb) },
			"Cluster":     func(tb testing.TB) { redistest.StartCluster(tb) },
		} {
			f := &fakeTB{TB: t}
			f.run(start)
			if f.skipped != "" || !strings.Contains(f.fatal, "REDIFX_REQUIRE_REDIS") {
				t.Errorf("%s with REDIFX_REQUIRE_REDIS=1: fatal %q, skip %q; want fatal", name, f.fatal, f.skipped)
			}
		}
	})
}

func TestSnapshotAndChanged(t *testing.T) {
	srv := redistest.Start(t)
	rdb := srv.Client(t)
	ctx := context.Background()
	rdb.Set(ctx, "a", "1", 0)
	rdb.HSet(ctx, "h", "f", "v")
	before := redistest.Snapshot(t, rdb)
	if got := redistest.Changed(before, redistest.Snapshot(t, rdb)); len(got) != 0 {
		t.Fatalf("nothing written, changed %v", got)
	}
	rdb.Set(ctx, "a", "2", 0)
	rdb.Del(ctx, "h")
	rdb.Set(ctx, "n", "x", time.Minute)
	got := redistest.Changed(before, redistest.Snapshot(t, rdb))
	if want := []string{"a", "h (gone)", "n (new)"}; !slices.Equal(got, want) {
		t.Errorf("changed %v, want %v", got, want)
	}
}
