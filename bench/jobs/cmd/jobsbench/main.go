// Command jobsbench compares redifx's job queue (modules/jobs) with asynq
// (github.com/hibiken/asynq) on one Redis server, in one run, interleaved:
//
//   - throughput: N no-op jobs enqueued by C goroutines, then processed by a
//     worker running C at once (jobs/s of each phase); redifx alone, redifx
//     with its events published to a realtime.Hub, and asynq;
//   - idle pickup: one job at a time into an idle queue, enqueue return to
//     handler start;
//   - crash recovery: a worker process is SIGKILLed while it runs a job; the
//     time until another worker process starts the same job, and whether a
//     retry was spent (needs the redifxworker and asynqworker binaries).
//
// Redis is flushed before every measurement. bench/jobs/run.sh starts the
// Redis server, builds the binaries and runs this; see bench/jobs/README.md.
package main

import (
	"bufio"
	"context"
	"flag"
	"fmt"
	"io"
	"math"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/hibiken/asynq"
	"github.com/redifx/redifx/modules/jobs"
	"github.com/redifx/redifx/modules/realtime"
	"github.com/redifx/redifx/modules/redis"
	goredis "github.com/redis/go-redis/v9"
	"go.uber.org/zap"
)

// Names of the systems measured.
const (
	sysRedifx    = "redifx"
	sysRedifxHub = "redifx+hub"
	sysAsynq     = "asynq"
)

type options struct {
	addr            string
	n               int
	concurrency     int
	rounds          int
	phaseTimeout    time.Duration
	samples         int
	asynqSamples    int
	gap             time.Duration
	sampleTimeout   time.Duration
	crashRounds     int
	asynqCrashRound int
	crashCap        time.Duration
	leases          []time.Duration
	sleep           time.Duration
	redifxWorker    string
	asynqWorker     string
	workDir         string
	parts           map[string]bool
	systems         map[string]bool
}

func main() {
	var o options
	var leases, only string
	flag.StringVar(&o.addr, "redis", "", "Redis host:port (required; it is flushed before every measurement)")
	flag.IntVar(&o.n, "n", 100000, "throughput: jobs per run")
	flag.IntVar(&o.concurrency, "concurrency", 10, "enqueuing goroutines and worker concurrency")
	flag.IntVar(&o.rounds, "rounds", 3, "interleaved rounds of the throughput and pickup measurements")
	flag.DurationVar(&o.phaseTimeout, "phase-timeout", 5*time.Minute, "bound of one enqueue or processing phase")
	flag.IntVar(&o.samples, "samples", 200, "pickup: redifx samples per round")
	flag.IntVar(&o.asynqSamples, "asynq-samples", 40, "pickup: asynq samples per round (each takes about a second)")
	flag.DurationVar(&o.gap, "gap", 20*time.Millisecond, "pickup: pause after each sample's handler started")
	flag.DurationVar(&o.sampleTimeout, "sample-timeout", 5*time.Second, "pickup: bound of one sample")
	flag.IntVar(&o.crashRounds, "crash-rounds", 3, "crash: rounds per redifx lease")
	flag.IntVar(&o.asynqCrashRound, "asynq-crash-rounds", 3, "crash: asynq rounds")
	flag.DurationVar(&o.crashCap, "crash-cap", 120*time.Second, "crash: bound of the wait for the second worker")
	flag.StringVar(&leases, "leases", "30s,5s", "crash: redifx jobs leases to measure")
	flag.DurationVar(&o.sleep, "sleep", 2*time.Second, "crash: how long the handler sleeps")
	flag.StringVar(&o.redifxWorker, "redifx-worker", "", "crash: path of the redifxworker binary")
	flag.StringVar(&o.asynqWorker, "asynq-worker", "", "crash: path of the asynqworker binary")
	flag.StringVar(&o.workDir, "workdir", os.TempDir(), "crash: where the workers' logs go")
	flag.StringVar(&only, "only", "throughput,pickup,crash", "parts to run")
	systems := flag.String("systems", "redifx,redifx+hub,asynq", "throughput: systems to measure")
	cpuprofile := flag.String("cpuprofile", "", "write a CPU profile of the whole run to this file")
	flag.Parse()
	if o.addr == "" {
		fatalf("-redis is required")
	}
	for _, s := range strings.Split(leases, ",") {
		d, err := time.ParseDuration(strings.TrimSpace(s))
		if err != nil {
			fatalf("-leases: %v", err)
		}
		o.leases = append(o.leases, d)
	}
	o.parts = map[string]bool{}
	for _, p := range strings.Split(only, ",") {
		o.parts[strings.TrimSpace(p)] = true
	}
	o.systems = map[string]bool{}
	for _, p := range strings.Split(*systems, ",") {
		o.systems[strings.TrimSpace(p)] = true
	}
	if o.parts["crash"] && (o.redifxWorker == "" || o.asynqWorker == "") {
		fatalf("crash needs -redifx-worker and -asynq-worker")
	}
	if *cpuprofile != "" {
		f, err := os.Create(*cpuprofile)
		if err != nil {
			fatalf("%v", err)
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			fatalf("%v", err)
		}
		defer func() { pprof.StopCPUProfile(); _ = f.Close() }()
	}
	if err := run(o); err != nil {
		pprof.StopCPUProfile()
		fatalf("%v", err)
	}
}

func fatalf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "jobsbench: "+format+"\n", args...)
	os.Exit(1)
}

func progress(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "jobsbench: "+format+"\n", args...)
}

func run(o options) error {
	ctx := context.Background()
	rep := &report{}
	start := time.Now()
	if o.parts["throughput"] {
		if err := throughput(ctx, o, rep); err != nil {
			return err
		}
	}
	if o.parts["pickup"] {
		if err := pickup(ctx, o, rep); err != nil {
			return err
		}
	}
	if o.parts["crash"] {
		if err := crash(ctx, o, rep); err != nil {
			return err
		}
	}
	rep.print(os.Stdout, o, time.Since(start))
	return nil
}

// ---------------------------------------------------------------------------
// Redis helpers.

func flush(ctx context.Context, addr string) error {
	c := goredis.NewClient(&goredis.Options{Addr: addr})
	defer func() { _ = c.Close() }()
	return c.FlushAll(ctx).Err()
}

func newManager(ctx context.Context, addr string) (*redis.Manager, error) {
	host, portStr, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, err
	}
	port, err := strconv.Atoi(portStr)
	if err != nil {
		return nil, err
	}
	cfg := redis.DefaultConfig()
	cfg.Host, cfg.Port = host, port
	cfg.Required, cfg.EmbeddedFallback = true, false
	m, err := redis.NewManager(cfg, nil)
	if err != nil {
		return nil, err
	}
	if err := m.Start(ctx); err != nil {
		return nil, err
	}
	return m, nil
}

// redifxSystem is a queue over its own manager, with a realtime hub as its
// event publisher when asked.
type redifxSystem struct {
	mgr *redis.Manager
	hub *realtime.Hub
	q   *jobs.Queue
	cfg jobs.Config
}

func newRedifx(ctx context.Context, addr string, concurrency, maxPending int, withHub bool, types ...string) (*redifxSystem, error) {
	mgr, err := newManager(ctx, addr)
	if err != nil {
		return nil, err
	}
	s := &redifxSystem{mgr: mgr}
	var pub jobs.EventPublisher
	if withHub {
		s.hub = realtime.NewHub(realtime.DefaultConfig(), mgr, nil)
		if err := s.hub.Start(ctx); err != nil {
			_ = mgr.Stop(ctx)
			return nil, err
		}
		pub = s.hub
	}
	s.cfg = jobs.DefaultConfig()
	s.cfg.Concurrency = concurrency
	// The default bound (10,000 pending jobs per tenant) would refuse most of
	// a 100,000-job batch from one tenant.
	s.cfg.MaxPendingPerTenant = max(maxPending, s.cfg.MaxPendingPerTenant)
	s.q = jobs.NewQueue(s.cfg, mgr, func() []string { return types }, pub, zap.NewNop())
	return s, nil
}

func (s *redifxSystem) close(ctx context.Context) {
	if s.hub != nil {
		_ = s.hub.Stop(ctx)
	}
	_ = s.mgr.Stop(ctx)
}

// ---------------------------------------------------------------------------
// a. Throughput.

// rates are one throughput run's results; for redifx, also how long one
// List page and one Statistics call of the tenant took afterwards, with every
// job of the run still in the tenant's index.
type rates struct {
	enqueue, process          float64
	list, listFiltered, stats time.Duration
	// CPU time per job, in µs, of this process (the client and the
	// worker) and of redis-server, in each phase.
	enqCPU, enqRedisCPU, procCPU, procRedisCPU float64
}

// cpuSnapshot is the CPU time used so far by this process and by the Redis
// server.
type cpuSnapshot struct{ self, redis time.Duration }

func takeCPU(ctx context.Context, addr string) (cpuSnapshot, error) {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return cpuSnapshot{}, err
	}
	self := time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	c := goredis.NewClient(&goredis.Options{Addr: addr})
	defer func() { _ = c.Close() }()
	info, err := c.Info(ctx, "cpu").Result()
	if err != nil {
		return cpuSnapshot{}, err
	}
	var redisSecs float64
	for _, line := range strings.Split(info, "\n") {
		k, v, ok := strings.Cut(strings.TrimSpace(line), ":")
		if ok && (k == "used_cpu_sys" || k == "used_cpu_user") {
			f, err := strconv.ParseFloat(v, 64)
			if err != nil {
				return cpuSnapshot{}, fmt.Errorf("INFO cpu: %s: %w", line, err)
			}
			redisSecs += f
		}
	}
	return cpuSnapshot{self: self, redis: time.Duration(redisSecs * float64(time.Second))}, nil
}

// perJob returns the CPU time used between a and b per job, in µs, of this
// process and of Redis.
func perJob(a, b cpuSnapshot, n int) (self, redis float64) {
	us := func(d time.Duration) float64 { return float64(d) / float64(time.Microsecond) / float64(n) }
	return us(b.self - a.self), us(b.redis - a.redis)
}

// phaseCPU measures the CPU of the enqueue and processing phases.
type phaseCPU struct{ marks []cpuSnapshot }

func (p *phaseCPU) mark(ctx context.Context, addr string) error {
	s, err := takeCPU(ctx, addr)
	p.marks = append(p.marks, s)
	return err
}

// fill sets r's CPU figures from the marks: before enqueue, after enqueue,
// before processing, after processing.
func (p *phaseCPU) fill(r *rates, n int) {
	if len(p.marks) == 4 {
		r.enqCPU, r.enqRedisCPU = perJob(p.marks[0], p.marks[1], n)
		r.procCPU, r.procRedisCPU = perJob(p.marks[2], p.marks[3], n)
	}
}

func throughput(ctx context.Context, o options, rep *report) error {
	orders := [][]string{
		{sysRedifx, sysAsynq, sysRedifxHub},
		{sysAsynq, sysRedifxHub, sysRedifx},
		{sysRedifxHub, sysRedifx, sysAsynq},
	}
	rep.throughput = map[string][]rates{}
	for r := range o.rounds {
		for _, sys := range orders[r%len(orders)] {
			if !o.systems[sys] {
				continue
			}
			if err := flush(ctx, o.addr); err != nil {
				return err
			}
			runtime.GC()
			var res rates
			var err error
			if sys == sysAsynq {
				res, err = asynqThroughput(ctx, o)
			} else {
				res, err = redifxThroughput(ctx, o, sys == sysRedifxHub)
			}
			if err != nil {
				return fmt.Errorf("throughput %s round %d: %w", sys, r+1, err)
			}
			progress("throughput round %d/%d %-10s enqueue %8.0f jobs/s  process %8.0f jobs/s  (CPU us/job: enqueue %.1f + redis %.1f, process %.1f + redis %.1f)",
				r+1, o.rounds, sys, res.enqueue, res.process, res.enqCPU, res.enqRedisCPU, res.procCPU, res.procRedisCPU)
			if res.list > 0 {
				progress("  then, with %d jobs in the tenant's index: List page 1 (20 jobs) %s, with status=completed %s, Statistics %s", o.n,
					res.list.Round(time.Microsecond), res.listFiltered.Round(time.Microsecond), res.stats.Round(time.Microsecond))
			}
			rep.throughput[sys] = append(rep.throughput[sys], res)
		}
	}
	return nil
}

// enqueueAll runs enqueue n times from c goroutines and returns the elapsed
// time.
func enqueueAll(ctx context.Context, n, c int, timeout time.Duration, enqueue func(context.Context) error) (time.Duration, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var next atomic.Int64
	var wg sync.WaitGroup
	errs := make(chan error, c)
	start := time.Now()
	for range c {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for next.Add(1) <= int64(n) {
				if err := enqueue(ctx); err != nil {
					errs <- err
					cancel()
					return
				}
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	close(errs)
	return elapsed, <-errs
}

// waitFor polls done every interval until it is true or timeout passes.
func waitFor(timeout, interval time.Duration, done func() bool) bool {
	deadline := time.Now().Add(timeout)
	for !done() {
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(interval)
	}
	return true
}

func redifxThroughput(ctx context.Context, o options, withHub bool) (rates, error) {
	s, err := newRedifx(ctx, o.addr, o.concurrency, o.n+1000, withHub, "noop")
	if err != nil {
		return rates{}, err
	}
	defer s.close(ctx)

	var cpu phaseCPU
	if err := cpu.mark(ctx, o.addr); err != nil {
		return rates{}, err
	}
	req := jobs.CreateRequest{JobType: "noop", Title: "noop"}
	enq, err := enqueueAll(ctx, o.n, o.concurrency, o.phaseTimeout, func(ctx context.Context) error {
		_, _, err := s.q.Enqueue(ctx, "bench", "bench", req, "")
		return err
	})
	if err != nil {
		return rates{}, fmt.Errorf("enqueue: %w", err)
	}
	if err := cpu.mark(ctx, o.addr); err != nil {
		return rates{}, err
	}

	var handled atomic.Int64
	w := jobs.NewWorker(s.q, []jobs.Registration{{Type: "noop", Handler: func(ctx context.Context, j *jobs.Job, p jobs.Progress) (any, error) {
		handled.Add(1)
		return jobs.NoopHandler(ctx, j, p)
	}}})
	if err := cpu.mark(ctx, o.addr); err != nil {
		return rates{}, err
	}
	start := time.Now()
	if err := w.Start(ctx); err != nil {
		return rates{}, err
	}
	// Completed counts jobs whose completion is stored in Redis.
	ok := waitFor(o.phaseTimeout, 2*time.Millisecond, func() bool { return w.Stats().Completed.Load() >= uint64(o.n) })
	proc := time.Since(start)
	if err := cpu.mark(ctx, o.addr); err != nil {
		return rates{}, err
	}
	stopCtx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	_ = w.Stop(stopCtx)
	st := w.Stats()
	if !ok {
		return rates{}, fmt.Errorf("processing: %d of %d completed after %s (handled %d, failed %d, retried %d)",
			st.Completed.Load(), o.n, o.phaseTimeout, handled.Load(), st.Failed.Load(), st.Retried.Load())
	}
	if h := handled.Load(); h != int64(o.n) || st.Failed.Load() != 0 || st.Retried.Load() != 0 {
		return rates{}, fmt.Errorf("processing: handled %d of %d, failed %d, retried %d", h, o.n, st.Failed.Load(), st.Retried.Load())
	}
	res := rates{enqueue: float64(o.n) / enq.Seconds(), process: float64(o.n) / proc.Seconds()}
	cpu.fill(&res, o.n)
	if !withHub {
		t := time.Now()
		page, total, err := s.q.List(ctx, "bench", jobs.Filter{}, 1, 20)
		res.list = time.Since(t)
		if err != nil || len(page) != 20 || total != o.n {
			return rates{}, fmt.Errorf("list: %d jobs of %d, %v", len(page), total, err)
		}
		t = time.Now()
		if _, err := s.q.Statistics(ctx, "bench"); err != nil {
			return rates{}, fmt.Errorf("statistics: %w", err)
		}
		res.stats = time.Since(t)
		t = time.Now()
		page, total, err = s.q.List(ctx, "bench", jobs.Filter{Status: jobs.StatusCompleted}, 1, 20)
		res.listFiltered = time.Since(t)
		if err != nil || len(page) != 20 || total != o.n {
			return rates{}, fmt.Errorf("list status=completed: %d jobs of %d, %v", len(page), total, err)
		}
	}
	if withHub {
		// created + started + completed for every job.
		if got := s.hub.Stats().Published.Load(); got != uint64(3*o.n) {
			progress("warning: the hub published %d events for %d jobs (want %d)", got, o.n, 3*o.n)
		}
	}
	return res, nil
}

func asynqThroughput(ctx context.Context, o options) (rates, error) {
	opt := asynq.RedisClientOpt{Addr: o.addr}
	client := asynq.NewClient(opt)
	defer func() { _ = client.Close() }()

	var cpu phaseCPU
	if err := cpu.mark(ctx, o.addr); err != nil {
		return rates{}, err
	}
	enq, err := enqueueAll(ctx, o.n, o.concurrency, o.phaseTimeout, func(ctx context.Context) error {
		_, err := client.EnqueueContext(ctx, asynq.NewTask("noop", nil))
		return err
	})
	if err != nil {
		return rates{}, fmt.Errorf("enqueue: %w", err)
	}
	if err := cpu.mark(ctx, o.addr); err != nil {
		return rates{}, err
	}

	// Processing is over when every handler has run and asynq has
	// acknowledged every task (nothing pending or active); the lists are
	// read only once the handlers are done.
	probe := goredis.NewClient(&goredis.Options{Addr: o.addr})
	defer func() { _ = probe.Close() }()
	var handled atomic.Int64
	srv := asynq.NewServer(opt, asynq.Config{Concurrency: o.concurrency, LogLevel: asynq.WarnLevel})
	mux := asynq.NewServeMux()
	mux.HandleFunc("noop", func(context.Context, *asynq.Task) error {
		handled.Add(1)
		return nil
	})
	if err := cpu.mark(ctx, o.addr); err != nil {
		return rates{}, err
	}
	start := time.Now()
	if err := srv.Start(mux); err != nil {
		return rates{}, err
	}
	defer srv.Shutdown()
	ok := waitFor(o.phaseTimeout, 2*time.Millisecond, func() bool {
		if handled.Load() < int64(o.n) {
			return false
		}
		p, _ := probe.LLen(ctx, "asynq:{default}:pending").Result()
		a, err := probe.LLen(ctx, "asynq:{default}:active").Result()
		return err == nil && p == 0 && a == 0
	})
	proc := time.Since(start)
	if err := cpu.mark(ctx, o.addr); err != nil {
		return rates{}, err
	}
	if !ok {
		return rates{}, fmt.Errorf("processing: %d of %d handled after %s", handled.Load(), o.n, o.phaseTimeout)
	}
	if h := handled.Load(); h != int64(o.n) {
		return rates{}, fmt.Errorf("processing: handled %d of %d", h, o.n)
	}
	res := rates{enqueue: float64(o.n) / enq.Seconds(), process: float64(o.n) / proc.Seconds()}
	cpu.fill(&res, o.n)
	return res, nil
}

// ---------------------------------------------------------------------------
// b. Idle pickup latency.

type started struct {
	id string
	at time.Time
}

// pickupSamples are one round's latencies, from the return of the enqueue call
// and from its start, to the handler's start.
type pickupSamples struct {
	fromReturn, fromCall []time.Duration
	timeouts             int
}

func pickup(ctx context.Context, o options, rep *report) error {
	rep.pickup = map[string][]pickupSamples{}
	for r := range o.rounds {
		order := []string{sysRedifx, sysAsynq}
		if r%2 == 1 {
			slices.Reverse(order)
		}
		for _, sys := range order {
			if err := flush(ctx, o.addr); err != nil {
				return err
			}
			runtime.GC()
			var res pickupSamples
			var err error
			if sys == sysAsynq {
				res, err = asynqPickup(ctx, o)
			} else {
				res, err = redifxPickup(ctx, o)
			}
			if err != nil {
				return fmt.Errorf("pickup %s round %d: %w", sys, r+1, err)
			}
			progress("pickup round %d/%d %-7s n=%d p50 %v p99 %v (timeouts %d)", r+1, o.rounds, sys,
				len(res.fromReturn), pct(res.fromReturn, 50), pct(res.fromReturn, 99), res.timeouts)
			rep.pickup[sys] = append(rep.pickup[sys], res)
		}
	}
	return nil
}

// samplePickups enqueues n jobs one at a time, each after the previous one's
// handler started and gap passed.
func samplePickups(o options, n int, starts <-chan started, enqueue func() (string, error)) (pickupSamples, error) {
	var res pickupSamples
	for range n {
		t0 := time.Now()
		id, err := enqueue()
		t1 := time.Now()
		if err != nil {
			return res, err
		}
		timeout := time.After(o.sampleTimeout)
	wait:
		for {
			select {
			case s := <-starts:
				if s.id != id {
					continue // a late start of an earlier, timed-out sample
				}
				res.fromReturn = append(res.fromReturn, s.at.Sub(t1))
				res.fromCall = append(res.fromCall, s.at.Sub(t0))
				break wait
			case <-timeout:
				res.timeouts++
				break wait
			}
		}
		time.Sleep(o.gap)
	}
	return res, nil
}

// idleSettle lets workers reach their idle wait before the first sample.
const idleSettle = 2 * time.Second

func redifxPickup(ctx context.Context, o options) (pickupSamples, error) {
	s, err := newRedifx(ctx, o.addr, o.concurrency, 0, false, "noop")
	if err != nil {
		return pickupSamples{}, err
	}
	defer s.close(ctx)
	starts := make(chan started, 16)
	w := jobs.NewWorker(s.q, []jobs.Registration{{Type: "noop", Handler: func(ctx context.Context, j *jobs.Job, p jobs.Progress) (any, error) {
		starts <- started{j.ID, time.Now()}
		return jobs.NoopHandler(ctx, j, p)
	}}})
	if err := w.Start(ctx); err != nil {
		return pickupSamples{}, err
	}
	defer func() {
		stopCtx, cancel := context.WithTimeout(ctx, 30*time.Second)
		defer cancel()
		_ = w.Stop(stopCtx)
	}()
	time.Sleep(idleSettle)
	req := jobs.CreateRequest{JobType: "noop", Title: "noop"}
	return samplePickups(o, o.samples, starts, func() (string, error) {
		j, _, err := s.q.Enqueue(ctx, "bench", "bench", req, "")
		if err != nil {
			return "", err
		}
		return j.ID, nil
	})
}

func asynqPickup(ctx context.Context, o options) (pickupSamples, error) {
	opt := asynq.RedisClientOpt{Addr: o.addr}
	client := asynq.NewClient(opt)
	defer func() { _ = client.Close() }()
	starts := make(chan started, 16)
	srv := asynq.NewServer(opt, asynq.Config{Concurrency: o.concurrency, LogLevel: asynq.WarnLevel})
	mux := asynq.NewServeMux()
	mux.HandleFunc("noop", func(ctx context.Context, _ *asynq.Task) error {
		id, _ := asynq.GetTaskID(ctx)
		starts <- started{id, time.Now()}
		return nil
	})
	if err := srv.Start(mux); err != nil {
		return pickupSamples{}, err
	}
	defer srv.Shutdown()
	time.Sleep(idleSettle)
	return samplePickups(o, o.asynqSamples, starts, func() (string, error) {
		info, err := client.EnqueueContext(ctx, asynq.NewTask("noop", nil))
		if err != nil {
			return "", err
		}
		return info.ID, nil
	})
}

// ---------------------------------------------------------------------------
// c. Crash recovery.

type crashResult struct {
	recovery time.Duration // kill to the second worker's start; 0 when capped
	capped   bool
	detail   string // what the second worker (and Redis) said about retries
	retried  bool   // a retry was spent
}

func crash(ctx context.Context, o options, rep *report) error {
	rep.crash = map[string][]crashResult{}
	var systems []string
	for _, l := range o.leases {
		systems = append(systems, crashKey(l))
	}
	systems = append(systems, sysAsynq)
	maxRounds := max(o.crashRounds, o.asynqCrashRound)
	for r := range maxRounds {
		order := slices.Clone(systems)
		if r%2 == 1 {
			slices.Reverse(order)
		}
		for _, sys := range order {
			rounds := o.crashRounds
			if sys == sysAsynq {
				rounds = o.asynqCrashRound
			}
			if r >= rounds {
				continue
			}
			if err := flush(ctx, o.addr); err != nil {
				return err
			}
			var res crashResult
			var err error
			if sys == sysAsynq {
				res, err = asynqCrash(ctx, o, r)
			} else {
				res, err = redifxCrash(ctx, o, r, leaseOf(o, sys))
			}
			if err != nil {
				return fmt.Errorf("crash %s round %d: %w", sys, r+1, err)
			}
			rec := res.recovery.Round(time.Millisecond).String()
			if res.capped {
				rec = "> " + o.crashCap.String()
			}
			progress("crash round %d/%d %-20s kill -> restart %s; %s", r+1, rounds, sys, rec, res.detail)
			rep.crash[sys] = append(rep.crash[sys], res)
		}
	}
	return nil
}

func crashKey(lease time.Duration) string { return "redifx lease " + lease.String() }

func leaseOf(o options, key string) time.Duration {
	for _, l := range o.leases {
		if crashKey(l) == key {
			return l
		}
	}
	return 0
}

// event is one line of a worker's output.
type event struct {
	kind string // ready, start, done
	id   string
	at   time.Time
	kv   map[string]string
}

// workerProc is a running worker binary and its parsed events.
type workerProc struct {
	name   string
	cmd    *exec.Cmd
	events chan event
	exited chan struct{}
}

func startWorker(o options, name, bin string, args ...string) (*workerProc, error) {
	cmd := exec.Command(bin, args...)
	logf, err := os.Create(filepath.Join(o.workDir, name+".log"))
	if err != nil {
		return nil, err
	}
	cmd.Stderr = logf
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		_ = logf.Close()
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		_ = logf.Close()
		return nil, err
	}
	p := &workerProc{name: name, cmd: cmd, events: make(chan event, 64), exited: make(chan struct{})}
	go func() {
		defer close(p.exited)
		defer func() { _ = logf.Close() }()
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if ev, ok := parseEvent(sc.Text()); ok {
				p.events <- ev
			}
			fmt.Fprintln(logf, "stdout:", sc.Text())
		}
		_, _ = io.Copy(io.Discard, stdout)
		_ = cmd.Wait()
	}()
	return p, nil
}

func parseEvent(line string) (event, bool) {
	f := strings.Fields(line)
	if len(f) == 0 {
		return event{}, false
	}
	ev := event{kind: f[0], kv: map[string]string{}}
	var ts string
	switch {
	case f[0] == "ready" && len(f) >= 2:
		ts = f[1]
	case (f[0] == "start" || f[0] == "done") && len(f) >= 3:
		ev.id, ts = f[1], f[2]
		for _, kv := range f[3:] {
			if k, v, ok := strings.Cut(kv, "="); ok {
				ev.kv[k] = v
			}
		}
	default:
		return event{}, false
	}
	ns, err := strconv.ParseInt(ts, 10, 64)
	if err != nil {
		return event{}, false
	}
	ev.at = time.Unix(0, ns)
	return ev, true
}

// await returns the worker's next event of kind (and id, when set) within
// timeout.
func (p *workerProc) await(kind, id string, timeout time.Duration) (event, error) {
	deadline := time.After(timeout)
	for {
		select {
		case ev := <-p.events:
			if ev.kind == kind && (id == "" || ev.id == id) {
				return ev, nil
			}
		case <-p.exited:
			return event{}, fmt.Errorf("%s exited before %q (see %s.log)", p.name, kind, p.name)
		case <-deadline:
			return event{}, fmt.Errorf("%s: no %q within %s", p.name, kind, timeout)
		}
	}
}

// stop ends the worker: SIGTERM, then SIGKILL after grace.
func (p *workerProc) stop(grace time.Duration) {
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.exited:
	case <-time.After(grace):
		_ = p.cmd.Process.Kill()
		<-p.exited
	}
}

// kill sends SIGKILL and waits for the process to be gone.
func (p *workerProc) kill() time.Time {
	at := time.Now()
	_ = p.cmd.Process.Kill()
	<-p.exited
	return at
}

const (
	readyTimeout = 20 * time.Second
	startTimeout = 10 * time.Second
)

// crashTrial runs the common choreography: start A, enqueue, wait for A to
// start the job, start B, SIGKILL A, wait (up to the cap) for B to start the
// same job, then for B to finish it.
func crashTrial(o options, name, bin string, args []string, enqueue func() (string, error)) (start event, killAt time.Time, capped bool, err error) {
	a, err := startWorker(o, name+"-A", bin, args...)
	if err != nil {
		return event{}, time.Time{}, false, err
	}
	defer a.stop(5 * time.Second)
	if _, err := a.await("ready", "", readyTimeout); err != nil {
		return event{}, time.Time{}, false, err
	}
	id, err := enqueue()
	if err != nil {
		return event{}, time.Time{}, false, err
	}
	aStart, err := a.await("start", id, startTimeout)
	if err != nil {
		return event{}, time.Time{}, false, err
	}
	b, err := startWorker(o, name+"-B", bin, args...)
	if err != nil {
		return event{}, time.Time{}, false, err
	}
	defer b.stop(20 * time.Second)
	if _, err := b.await("ready", "", readyTimeout); err != nil {
		return event{}, time.Time{}, false, err
	}
	killAt = a.kill()
	if killAt.Sub(aStart.at) >= o.sleep {
		return event{}, time.Time{}, false, fmt.Errorf("worker A was killed %s after it started the job, too late for a %s handler; use a longer -sleep",
			killAt.Sub(aStart.at).Round(time.Millisecond), o.sleep)
	}
	bStart, err := b.await("start", id, o.crashCap)
	if err != nil {
		if strings.Contains(err.Error(), "no \"start\" within") {
			return event{}, killAt, true, nil
		}
		return event{}, time.Time{}, false, err
	}
	if _, err := b.await("done", id, o.sleep+10*time.Second); err != nil {
		return event{}, time.Time{}, false, err
	}
	return bStart, killAt, false, nil
}

func redifxCrash(ctx context.Context, o options, round int, lease time.Duration) (crashResult, error) {
	s, err := newRedifx(ctx, o.addr, 1, 0, false, "sleep")
	if err != nil {
		return crashResult{}, err
	}
	defer s.close(ctx)
	args := []string{"-redis", o.addr, "-lease", lease.String(), "-sleep", o.sleep.String(), "-concurrency", strconv.Itoa(o.concurrency)}
	var id string
	bStart, killAt, capped, err := crashTrial(o, fmt.Sprintf("redifx-lease%s-r%d", lease, round+1), o.redifxWorker, args, func() (string, error) {
		j, _, err := s.q.Enqueue(ctx, "bench", "bench", jobs.CreateRequest{JobType: "sleep", Title: "sleep"}, "")
		if err != nil {
			return "", err
		}
		id = j.ID
		return j.ID, nil
	})
	if err != nil {
		return crashResult{}, err
	}
	j, err := s.q.Get(ctx, "bench", id)
	if err != nil {
		return crashResult{}, err
	}
	res := crashResult{capped: capped}
	if !capped {
		res.recovery = bStart.at.Sub(killAt)
	}
	res.detail = fmt.Sprintf("at B's start attempts=%s recoveries=%s; final status=%s attempts=%d recoveries=%d",
		bStart.kv["attempts"], bStart.kv["recoveries"], j.Status, j.Attempts, j.Recoveries)
	res.retried = j.Attempts > 0
	return res, nil
}

func asynqCrash(ctx context.Context, o options, round int) (crashResult, error) {
	client := asynq.NewClient(asynq.RedisClientOpt{Addr: o.addr})
	defer func() { _ = client.Close() }()
	args := []string{"-redis", o.addr, "-sleep", o.sleep.String(), "-concurrency", strconv.Itoa(o.concurrency)}
	bStart, killAt, capped, err := crashTrial(o, fmt.Sprintf("asynq-r%d", round+1), o.asynqWorker, args, func() (string, error) {
		info, err := client.EnqueueContext(ctx, asynq.NewTask("sleep", nil))
		if err != nil {
			return "", err
		}
		return info.ID, nil
	})
	if err != nil {
		return crashResult{}, err
	}
	res := crashResult{capped: capped}
	if capped {
		res.detail = "not restarted within the cap"
		return res, nil
	}
	res.recovery = bStart.at.Sub(killAt)
	res.detail = "at B's start retried=" + bStart.kv["retried"]
	res.retried = bStart.kv["retried"] != "0"
	return res, nil
}

// ---------------------------------------------------------------------------
// Report.

type report struct {
	throughput map[string][]rates
	pickup     map[string][]pickupSamples
	crash      map[string][]crashResult
}

func median(v []float64) float64 {
	if len(v) == 0 {
		return math.NaN()
	}
	s := slices.Clone(v)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// pct is the p-th percentile (nearest rank).
func pct(v []time.Duration, p float64) time.Duration {
	if len(v) == 0 {
		return 0
	}
	s := slices.Clone(v)
	slices.Sort(s)
	i := int(math.Ceil(p/100*float64(len(s)))) - 1
	return s[min(max(i, 0), len(s)-1)]
}

func ms(d time.Duration) string { return fmt.Sprintf("%.2f ms", float64(d)/float64(time.Millisecond)) }

func ratio(a, b float64) string {
	if b == 0 || math.IsNaN(a) || math.IsNaN(b) {
		return "n/a"
	}
	return fmt.Sprintf("%.2f", a/b)
}

func ratio4(a, b float64) string {
	if b == 0 || math.IsNaN(a) || math.IsNaN(b) {
		return "n/a"
	}
	return fmt.Sprintf("%.4f", a/b)
}

func (rep *report) print(w io.Writer, o options, took time.Duration) {
	fmt.Fprintf(w, "redifx jobs vs asynq v0.26.0 — one redis-server, concurrency %d, GOMAXPROCS %d (took %s)\n",
		o.concurrency, runtime.GOMAXPROCS(0), took.Round(time.Second))
	if rep.throughput != nil {
		fmt.Fprintf(w, "\n== a. throughput: %d no-op jobs enqueued (%d goroutines), then processed (worker concurrency %d); medians of %d interleaved rounds ==\n",
			o.n, o.concurrency, o.concurrency, o.rounds)
		fmt.Fprintf(w, "%-12s %14s %14s   %s\n", "system", "enqueue/s", "process/s", "rounds (enqueue/process)")
		med := map[string]rates{}
		for _, sys := range []string{sysRedifx, sysRedifxHub, sysAsynq} {
			if len(rep.throughput[sys]) == 0 {
				continue
			}
			var e, p []float64
			var rounds []string
			for _, r := range rep.throughput[sys] {
				e = append(e, r.enqueue)
				p = append(p, r.process)
				rounds = append(rounds, fmt.Sprintf("%.0f/%.0f", r.enqueue, r.process))
			}
			med[sys] = rates{enqueue: median(e), process: median(p)}
			fmt.Fprintf(w, "%-12s %14.0f %14.0f   %s\n", sys, med[sys].enqueue, med[sys].process, strings.Join(rounds, " "))
		}
		for _, sys := range []string{sysRedifx, sysRedifxHub} {
			fmt.Fprintf(w, "ratio %s/asynq: enqueue %s, process %s\n", sys,
				ratio(med[sys].enqueue, med[sysAsynq].enqueue), ratio(med[sys].process, med[sysAsynq].process))
		}
		fmt.Fprintf(w, "CPU time per job, µs (medians; \"self\" is this process: the enqueuing client or the worker):\n")
		fmt.Fprintf(w, "%-12s %12s %12s %12s %12s\n", "system", "enq self", "enq redis", "proc self", "proc redis")
		for _, sys := range []string{sysRedifx, sysRedifxHub, sysAsynq} {
			rs := rep.throughput[sys]
			if len(rs) == 0 {
				continue
			}
			col := func(f func(rates) float64) float64 {
				var v []float64
				for _, r := range rs {
					v = append(v, f(r))
				}
				return median(v)
			}
			fmt.Fprintf(w, "%-12s %12.1f %12.1f %12.1f %12.1f\n", sys,
				col(func(r rates) float64 { return r.enqCPU }), col(func(r rates) float64 { return r.enqRedisCPU }),
				col(func(r rates) float64 { return r.procCPU }), col(func(r rates) float64 { return r.procRedisCPU }))
		}
		var lists, filtered, stats []float64
		for _, r := range rep.throughput[sysRedifx] {
			lists = append(lists, r.list.Seconds())
			filtered = append(filtered, r.listFiltered.Seconds())
			stats = append(stats, r.stats.Seconds())
		}
		if len(lists) > 0 {
			fmt.Fprintf(w, "redifx afterwards, %d finished jobs in the tenant's index: Queue.List page 1 of 20 took %.2f ms (with status=completed %.0f ms), Queue.Statistics %.2f ms (medians)\n",
				o.n, median(lists)*1000, median(filtered)*1000, median(stats)*1000)
		}
	}
	if rep.pickup != nil {
		fmt.Fprintf(w, "\n== b. idle pickup latency: one job at a time into an idle queue, %s after each handler start; %d rounds ==\n", o.gap, o.rounds)
		fmt.Fprintf(w, "%-8s %6s %10s %10s %10s %10s %10s   %s\n", "system", "n", "p50", "p99", "max", "p50(call)", "median-p50", "per-round p50/p99")
		p50 := map[string]time.Duration{}
		p99 := map[string]time.Duration{}
		for _, sys := range []string{sysRedifx, sysAsynq} {
			var all, allCall []time.Duration
			var perRound []string
			var roundP50 []float64
			timeouts := 0
			for _, s := range rep.pickup[sys] {
				all = append(all, s.fromReturn...)
				allCall = append(allCall, s.fromCall...)
				timeouts += s.timeouts
				perRound = append(perRound, ms(pct(s.fromReturn, 50))+"/"+ms(pct(s.fromReturn, 99)))
				roundP50 = append(roundP50, float64(pct(s.fromReturn, 50)))
			}
			p50[sys], p99[sys] = pct(all, 50), pct(all, 99)
			fmt.Fprintf(w, "%-8s %6d %10s %10s %10s %10s %10s   %s\n", sys, len(all), ms(p50[sys]), ms(p99[sys]), ms(pct(all, 100)),
				ms(pct(allCall, 50)), ms(time.Duration(median(roundP50))), strings.Join(perRound, "  "))
			if timeouts > 0 {
				fmt.Fprintf(w, "         %d samples not picked up within %s (left out)\n", timeouts, o.sampleTimeout)
			}
		}
		fmt.Fprintf(w, "(p50/p99/max over every round's samples, from the enqueue call's return to the handler's start;\n")
		fmt.Fprintf(w, " p50(call) from the call's start; median-p50 is the median of the rounds' p50)\n")
		fmt.Fprintf(w, "ratio redifx/asynq p50: %s, p99: %s (asynq/redifx: %s, %s)   goal redifx p50 <= 5 ms: %v\n",
			ratio4(float64(p50[sysRedifx]), float64(p50[sysAsynq])), ratio4(float64(p99[sysRedifx]), float64(p99[sysAsynq])),
			ratio(float64(p50[sysAsynq]), float64(p50[sysRedifx]))+"x", ratio(float64(p99[sysAsynq]), float64(p99[sysRedifx]))+"x",
			p50[sysRedifx] <= 5*time.Millisecond)
	}
	if rep.crash != nil {
		fmt.Fprintf(w, "\n== c. crash recovery: worker A SIGKILLed while running a %s job; time until worker B (already running) starts it ==\n", o.sleep)
		fmt.Fprintf(w, "%-20s %12s   %-8s %s\n", "system", "median", "retry?", "rounds")
		keys := []string{}
		for _, l := range o.leases {
			keys = append(keys, crashKey(l))
		}
		keys = append(keys, sysAsynq)
		for _, sys := range keys {
			rs := rep.crash[sys]
			if len(rs) == 0 {
				continue
			}
			var vals []float64
			var rounds []string
			retried := 0
			for _, r := range rs {
				if r.capped {
					vals = append(vals, math.Inf(1))
					rounds = append(rounds, "> "+o.crashCap.String())
				} else {
					vals = append(vals, r.recovery.Seconds())
					rounds = append(rounds, fmt.Sprintf("%.2fs", r.recovery.Seconds()))
				}
				if r.retried {
					retried++
				}
			}
			m := median(vals)
			medStr := fmt.Sprintf("%.2f s", m)
			if math.IsInf(m, 1) {
				medStr = "> " + o.crashCap.String()
			}
			fmt.Fprintf(w, "%-20s %12s   %-8s %s\n", sys, medStr, fmt.Sprintf("%d/%d", retried, len(rs)), strings.Join(rounds, " "))
			fmt.Fprintf(w, "%-20s %12s   %-8s last: %s\n", "", "", "", rs[len(rs)-1].detail)
		}
		fmt.Fprintf(w, "(retry? = rounds in which re-running the job spent one of its retries: redifx attempts > 0, asynq retried > 0)\n")
	}
}
