// Package bench measures what the managed Redis client costs against a bare
// go-redis client with identical options, and what it saves against the
// pattern it replaces: a new connection for every request.
//
// The benchmarks need -bench and a redis-server on PATH; run them through
// bench/run.sh, which interleaves the variants and compares them with
// benchstat. Without -bench only the fast unit tests run and no Redis is
// started.
package bench

import (
	"context"
	"fmt"
	"os"
	"reflect"
	"runtime"
	"sync"
	"testing"

	goredis "github.com/redis/go-redis/v9"
	"go.uber.org/goleak"

	"github.com/redifx/redifx/modules/redis"
	"github.com/redifx/redifx/modules/redis/redistest"
)

// concurrency is the number of goroutines issuing commands at once: the
// default pool size (redis.DefaultConfig().MaxConnections) and the -c 50 of
// the redis-benchmark reference run.
const concurrency = 50

const (
	benchKey = "redifx:bench:key"
	// benchValue is 3 bytes, redis-benchmark's default payload (-d 3).
	benchValue = "xxx"
)

func TestMain(m *testing.M) {
	// The Redis server is started lazily by the first benchmark that needs it
	// and stopped here, after every test and benchmark, before goleak looks
	// for leftover goroutines.
	goleak.VerifyTestMain(stopServerAfter{m})
}

// stopServerAfter runs the tests, then stops the shared server.
type stopServerAfter struct{ m *testing.M }

func (r stopServerAfter) Run() int {
	code := r.m.Run()
	stopServer()
	return code
}

// ---------------------------------------------------------------------------
// One redis-server per benchmark process.

var (
	serverMu sync.Mutex
	server   *redistest.Server
	serverTB *processTB
)

// redisServer returns the process-wide redis-server, starting it on first use.
// A *testing.B cannot own it: a benchmark's cleanups run after every b.N
// round, which would stop the server between rounds. It is owned by a
// processTB instead and stopped by TestMain.
func redisServer(b *testing.B) *redistest.Server {
	b.Helper()
	serverMu.Lock()
	defer serverMu.Unlock()
	if server != nil {
		return server
	}
	if !redistest.Available() {
		// redistest would fall back to an embedded miniredis: not worth
		// measuring.
		if os.Getenv("REDIFX_REQUIRE_REDIS") == "1" {
			b.Fatal("redis-server not on PATH (REDIFX_REQUIRE_REDIS=1)")
		}
		b.Skip("redis-server not on PATH: skipping the Redis benchmarks")
	}
	tb := &processTB{}
	srv, err := tb.startRedis()
	for _, line := range tb.logs {
		b.Log(line)
	}
	if err != nil {
		tb.close()
		b.Fatalf("starting redis-server: %v", err)
	}
	server, serverTB = srv, tb
	return server
}

func stopServer() {
	serverMu.Lock()
	defer serverMu.Unlock()
	if serverTB != nil {
		serverTB.close()
	}
	server, serverTB = nil, nil
}

// processTB is the minimal testing.TB that redistest.Start needs, living for
// the whole process. Methods it does not implement are promoted from the nil
// embedded TB and panic; startRedis turns any panic into an error.
type processTB struct {
	testing.TB

	mu       sync.Mutex
	cleanups []func()
	dirs     []string
	logs     []string
}

// fatal is the panic value of Fatal*, Error* and Skip*, recovered by startRedis.
type fatal string

func (p *processTB) startRedis() (srv *redistest.Server, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("%v", r)
		}
	}()
	return redistest.Start(p), nil
}

func (p *processTB) Helper()       {}
func (p *processTB) Name() string  { return "bench" }
func (p *processTB) Failed() bool  { return false }
func (p *processTB) Skipped() bool { return false }

func (p *processTB) Log(args ...any) { p.Logf("%s", fmt.Sprint(args...)) }
func (p *processTB) Logf(format string, args ...any) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.logs = append(p.logs, fmt.Sprintf(format, args...))
}

func (p *processTB) Error(args ...any)                 { panic(fatal(fmt.Sprint(args...))) }
func (p *processTB) Errorf(format string, args ...any) { panic(fatal(fmt.Sprintf(format, args...))) }
func (p *processTB) Fatal(args ...any)                 { panic(fatal(fmt.Sprint(args...))) }
func (p *processTB) Fatalf(format string, args ...any) { panic(fatal(fmt.Sprintf(format, args...))) }
func (p *processTB) Skip(args ...any)                  { panic(fatal(fmt.Sprint(args...))) }
func (p *processTB) Skipf(format string, args ...any)  { panic(fatal(fmt.Sprintf(format, args...))) }

func (p *processTB) Cleanup(f func()) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.cleanups = append(p.cleanups, f)
}

func (p *processTB) TempDir() string {
	dir, err := os.MkdirTemp("", "redifx-bench-")
	if err != nil {
		panic(fatal("TempDir: " + err.Error()))
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.dirs = append(p.dirs, dir)
	return dir
}

// close runs the cleanups, last registered first, and removes the temporary
// directories.
func (p *processTB) close() {
	p.mu.Lock()
	cleanups, dirs := p.cleanups, p.dirs
	p.cleanups, p.dirs = nil, nil
	p.mu.Unlock()
	for i := len(cleanups) - 1; i >= 0; i-- {
		cleanups[i]()
	}
	for _, dir := range dirs {
		_ = os.RemoveAll(dir)
	}
}

// ---------------------------------------------------------------------------
// Clients.

// managerConfig is the default configuration pointed at addr, with Redis
// required and no embedded fallback, so that every command reaches addr.
func managerConfig(host string, port int) redis.Config {
	cfg := redis.DefaultConfig()
	cfg.Host = host
	cfg.Port = port
	cfg.EmbeddedFallback = false
	cfg.Required = true
	return cfg
}

// bareOptions returns the options of the manager's default client, copied
// field by field, minus what NewClient fills in per client: the Dialer (the
// manager's redirects to the embedded fallback; go-redis's default replaces
// it) and the push-notification processor. Everything else — Addr, DB,
// ClientName, PoolSize, MinIdleConns, DialTimeout, ReadTimeout, WriteTimeout,
// PoolTimeout, retries … — is identical by construction.
func bareOptions(m *redis.Manager) (*goredis.Options, error) {
	c, ok := m.Client().(*goredis.Client)
	if !ok {
		return nil, fmt.Errorf("managed client is a %T, want *goredis.Client (standalone mode)", m.Client())
	}
	o := *c.Options()
	o.Dialer = nil
	o.PushNotificationProcessor = nil
	if o.MaintNotificationsConfig != nil {
		mc := *o.MaintNotificationsConfig
		o.MaintNotificationsConfig = &mc
	}
	return &o, nil
}

// newManager builds a manager for srv; Stop runs at the end of the b.N round.
func newManager(b *testing.B, srv *redistest.Server) *redis.Manager {
	b.Helper()
	m, err := redis.NewManager(managerConfig(srv.Host(), srv.Port()), nil)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		if err := m.Stop(context.Background()); err != nil {
			b.Error(err)
		}
	})
	return m
}

// ---------------------------------------------------------------------------
// Benchmarks.

type command func(ctx context.Context, c goredis.Cmdable) error

func get(ctx context.Context, c goredis.Cmdable) error { return c.Get(ctx, benchKey).Err() }
func set(ctx context.Context, c goredis.Cmdable) error {
	return c.Set(ctx, benchKey, benchValue, 0).Err()
}

// BenchmarkGET reads one existing 3-byte value.
func BenchmarkGET(b *testing.B) { benchClients(b, get) }

// BenchmarkSET writes one 3-byte value.
func BenchmarkSET(b *testing.B) { benchClients(b, set) }

func benchClients(b *testing.B, cmd command) {
	srv := redisServer(b)

	// The managed client: Manager started as the application starts it, so
	// its health probe runs in the background as in production.
	b.Run("client=managed", func(b *testing.B) {
		m := newManager(b, srv)
		if err := m.Start(b.Context()); err != nil {
			b.Fatal(err)
		}
		c := m.Client()
		prepare(b, c)
		do := func(ctx context.Context) error { return cmd(ctx, c) }
		warmUp(b, do)
		runParallel(b, do)
	})

	// A bare go-redis client with the managed client's options.
	b.Run("client=bare", func(b *testing.B) {
		opts, err := bareOptions(newManager(b, srv))
		if err != nil {
			b.Fatal(err)
		}
		c := goredis.NewClient(opts)
		b.Cleanup(func() { _ = c.Close() })
		prepare(b, c)
		do := func(ctx context.Context) error { return cmd(ctx, c) }
		warmUp(b, do)
		runParallel(b, do)
	})

	// What ad-hoc code did: a new client (one new connection, with its
	// handshake) for every command, closed afterwards.
	b.Run("client=conn-per-request", func(b *testing.B) {
		opts, err := bareOptions(newManager(b, srv))
		if err != nil {
			b.Fatal(err)
		}
		c := goredis.NewClient(opts)
		prepare(b, c)
		_ = c.Close()
		runParallel(b, func(ctx context.Context) error {
			c := goredis.NewClient(opts)
			err := cmd(ctx, c)
			if cerr := c.Close(); err == nil {
				err = cerr
			}
			return err
		})
	})
}

// prepare stores the key that GET reads.
func prepare(b *testing.B, c goredis.Cmdable) {
	b.Helper()
	if err := c.Set(b.Context(), benchKey, benchValue, 0).Err(); err != nil {
		b.Fatal(err)
	}
}

// warmUp runs the workload briefly, untimed, so that a pooled client has
// opened its connections before the measurement: each b.N round starts with a
// new client, and dialling 50 connections must not count against short rounds.
func warmUp(b *testing.B, do func(ctx context.Context) error) {
	b.Helper()
	const opsPerWorker = 20
	ctx := context.Background()
	errs := make(chan error, concurrency)
	var wg sync.WaitGroup
	for range concurrency {
		wg.Go(func() {
			for range opsPerWorker {
				if err := do(ctx); err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	if err := <-errs; err != nil {
		b.Fatalf("warm-up: %v", err)
	}
}

// runParallel runs do from concurrency goroutines and reports ops/s.
func runParallel(b *testing.B, do func(ctx context.Context) error) {
	b.Helper()
	procs := runtime.GOMAXPROCS(0)
	b.SetParallelism((concurrency + procs - 1) / procs)
	b.ReportAllocs()
	ctx := context.Background()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if err := do(ctx); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.StopTimer()
	if s := b.Elapsed().Seconds(); s > 0 {
		b.ReportMetric(float64(b.N)/s, "ops/s")
	}
}

// ---------------------------------------------------------------------------
// Tests (run by go test ./bench/, no Redis needed).

// TestBareOptionsMatchManaged checks that the bare client is configured exactly
// like the managed one, so the benchmarks compare like with like.
func TestBareOptionsMatchManaged(t *testing.T) {
	m, err := redis.NewManager(managerConfig("127.0.0.1", 1), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = m.Stop(context.Background()) }()
	opts, err := bareOptions(m)
	if err != nil {
		t.Fatal(err)
	}
	bare := goredis.NewClient(opts)
	defer func() { _ = bare.Close() }()

	want := reflect.ValueOf(*m.Client().(*goredis.Client).Options())
	got := reflect.ValueOf(*bare.Options())
	compared := 0
	for i := range want.NumField() {
		f := want.Type().Field(i)
		switch f.Type.Kind() {
		case reflect.Bool, reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
			reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.String:
		default:
			continue // funcs, interfaces, pointers: per-client objects
		}
		if !f.IsExported() {
			continue
		}
		compared++
		if w, g := want.Field(i), got.Field(i); !w.Equal(g) {
			t.Errorf("Options.%s: bare %v, managed %v", f.Name, g, w)
		}
	}
	if compared < 10 {
		t.Fatalf("compared only %d fields", compared)
	}

	cfg := redis.DefaultConfig()
	o := bare.Options()
	if o.Addr != "127.0.0.1:1" || o.PoolSize != cfg.MaxConnections || o.MinIdleConns != cfg.MinIdleConnections ||
		o.DialTimeout != cfg.SocketConnectTimeout || o.ReadTimeout != cfg.SocketTimeout ||
		o.WriteTimeout != cfg.SocketTimeout || o.DB != cfg.DB {
		t.Errorf("bare options do not follow the config: %+v", o)
	}
	if (o.TLSConfig == nil) != (m.Client().(*goredis.Client).Options().TLSConfig == nil) {
		t.Error("TLS differs")
	}
}
