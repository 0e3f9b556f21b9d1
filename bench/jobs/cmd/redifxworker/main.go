// Command redifxworker runs one redifx jobs worker (modules/jobs) against a
// Redis server, for the crash-recovery benchmark in bench/jobs.
//
// It registers job type "sleep", whose handler sleeps for -sleep and then
// completes, and writes one line per event to standard output:
//
//	ready <unix-nanos>
//	start <job-id> <unix-nanos> attempts=<n> recoveries=<n>
//	done <job-id> <unix-nanos>
//
// SIGTERM or SIGINT stops the worker gracefully (running jobs are put back
// after the shutdown grace); SIGKILL is what the benchmark sends to simulate a
// crash.
package main

import (
	"context"
	"flag"
	"fmt"
	"net"
	"os"
	"os/signal"
	"strconv"
	"sync"
	"syscall"
	"time"

	"github.com/redifx/redifx/modules/jobs"
	"github.com/redifx/redifx/modules/redis"
	"go.uber.org/zap"
)

func main() {
	addr := flag.String("redis", "127.0.0.1:6379", "Redis host:port")
	lease := flag.Duration("lease", jobs.DefaultConfig().Lease, "jobs lease")
	sleep := flag.Duration("sleep", 2*time.Second, "how long each job's handler sleeps")
	concurrency := flag.Int("concurrency", 10, "jobs run at once")
	flag.Parse()
	if err := run(*addr, *lease, *sleep, *concurrency); err != nil {
		fmt.Fprintln(os.Stderr, "redifxworker:", err)
		os.Exit(1)
	}
}

// out serialises the event lines.
var out sync.Mutex

func emit(format string, args ...any) {
	out.Lock()
	defer out.Unlock()
	fmt.Fprintf(os.Stdout, format+"\n", args...)
}

func run(addr string, lease, sleep time.Duration, concurrency int) error {
	log, err := zap.NewProduction()
	if err != nil {
		return err
	}
	defer func() { _ = log.Sync() }()

	host, portStr, err := net.SplitHostPort(addr)
	if err != nil {
		return err
	}
	port, err := strconv.Atoi(portStr)
	if err != nil {
		return err
	}
	rcfg := redis.DefaultConfig()
	rcfg.Host, rcfg.Port = host, port
	rcfg.Required, rcfg.EmbeddedFallback = true, false
	mgr, err := redis.NewManager(rcfg, log)
	if err != nil {
		return err
	}
	ctx := context.Background()
	if err := mgr.Start(ctx); err != nil {
		return err
	}
	defer func() { _ = mgr.Stop(context.Background()) }()

	cfg := jobs.DefaultConfig()
	cfg.Lease = lease
	cfg.Concurrency = concurrency
	q := jobs.NewQueue(cfg, mgr, func() []string { return []string{"sleep"} }, nil, log)
	w := jobs.NewWorker(q, []jobs.Registration{{Type: "sleep", Handler: func(ctx context.Context, job *jobs.Job, _ jobs.Progress) (any, error) {
		emit("start %s %d attempts=%d recoveries=%d", job.ID, time.Now().UnixNano(), job.Attempts, job.Recoveries)
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(sleep):
		}
		emit("done %s %d", job.ID, time.Now().UnixNano())
		return map[string]any{"slept": sleep.String()}, nil
	}}})
	if err := w.Start(ctx); err != nil {
		return err
	}
	emit("ready %d", time.Now().UnixNano())

	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGTERM, syscall.SIGINT)
	<-sig
	stopCtx, cancel := context.WithTimeout(context.Background(), cfg.StopBudget()+5*time.Second)
	defer cancel()
	return w.Stop(stopCtx)
}
