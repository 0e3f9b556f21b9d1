// Command asynqworker runs one asynq server (github.com/hibiken/asynq, default
// settings, Concurrency 10) against a Redis server, for the crash-recovery
// benchmark in bench/jobs.
//
// It handles task type "sleep" by sleeping for -sleep, and writes one line
// per event to standard output:
//
//	ready <unix-nanos>
//	start <task-id> <unix-nanos> retried=<n>
//	done <task-id> <unix-nanos>
//
// SIGTERM or SIGINT shuts the server down; SIGKILL is what the benchmark
// sends to simulate a crash.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"sync"
	"syscall"
	"time"

	"github.com/hibiken/asynq"
)

func main() {
	addr := flag.String("redis", "127.0.0.1:6379", "Redis host:port")
	sleep := flag.Duration("sleep", 2*time.Second, "how long each task's handler sleeps")
	concurrency := flag.Int("concurrency", 10, "tasks run at once")
	flag.Parse()
	if err := run(*addr, *sleep, *concurrency); err != nil {
		fmt.Fprintln(os.Stderr, "asynqworker:", err)
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

func run(addr string, sleep time.Duration, concurrency int) error {
	srv := asynq.NewServer(asynq.RedisClientOpt{Addr: addr}, asynq.Config{Concurrency: concurrency, LogLevel: asynq.WarnLevel})
	mux := asynq.NewServeMux()
	mux.HandleFunc("sleep", func(ctx context.Context, _ *asynq.Task) error {
		id, _ := asynq.GetTaskID(ctx)
		retried, _ := asynq.GetRetryCount(ctx)
		emit("start %s %d retried=%d", id, time.Now().UnixNano(), retried)
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(sleep):
		}
		emit("done %s %d", id, time.Now().UnixNano())
		return nil
	})
	if err := srv.Start(mux); err != nil {
		return err
	}
	emit("ready %d", time.Now().UnixNano())

	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGTERM, syscall.SIGINT)
	<-sig
	srv.Shutdown()
	return nil
}
