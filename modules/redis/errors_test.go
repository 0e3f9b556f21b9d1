package redis_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redifx/redifx/modules/redis"
	"github.com/redifx/redifx/modules/redis/redistest"
	goredis "github.com/redis/go-redis/v9"
)

// Errors from a real server are sorted into conditions (503, retry later) and
// the command's own errors (500): a full Redis, from a plain command and from
// inside a script, is OOM; a wrong type or an overflow is no condition.
func TestConditionFromRealServer(t *testing.T) {
	redistest.RequireReal(t)
	srv := redistest.Start(t)
	rdb := srv.Client(t)
	ctx := context.Background()

	if err := rdb.Set(ctx, "str", "x", 0).Err(); err != nil {
		t.Fatal(err)
	}
	wrongType := rdb.HIncrBy(ctx, "str", "f", 1).Err()
	if _, ok := redis.Condition(wrongType); ok || errors.Is(redis.Classify(wrongType), redis.ErrUnavailable) {
		t.Errorf("WRONGTYPE must not be a condition: %v", wrongType)
	}
	_ = rdb.HSet(ctx, "h", "n", "9223372036854775800").Err()
	overflow := goredis.NewScript(`return redis.call('HINCRBY', KEYS[1], 'n', 100)`).Run(ctx, rdb, []string{"h"}).Err()
	if overflow == nil {
		t.Fatal("expected an overflow")
	}
	if c, ok := redis.Condition(overflow); ok {
		t.Errorf("an overflow inside a script must not be a condition, got %q: %v", c, overflow)
	}

	// A full Redis with noeviction: OOM from a command and from a script.
	if err := rdb.ConfigSet(ctx, "maxmemory-policy", "noeviction").Err(); err != nil {
		t.Fatal(err)
	}
	if err := rdb.ConfigSet(ctx, "maxmemory", "1").Err(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = rdb.ConfigSet(context.Background(), "maxmemory", "0").Err() })
	for name, err := range map[string]error{
		"command": rdb.Set(ctx, "k", "v", 0).Err(),
		"script":  goredis.NewScript(`return redis.call('SET', KEYS[1], 'v')`).Run(ctx, rdb, []string{"k"}).Err(),
	} {
		c, ok := redis.Condition(err)
		if !ok || c != redis.CondOOM {
			t.Errorf("%s under maxmemory: condition %q %v, want OOM (%v)", name, c, ok, err)
		}
		ce := redis.Classify(err)
		if !errors.Is(ce, redis.ErrUnavailable) || !strings.Contains(redis.Describe(ce), "OOM") {
			t.Errorf("%s: classified %v, described %q", name, ce, redis.Describe(ce))
		}
	}
	// Reads still work while writes are refused.
	if err := rdb.Get(ctx, "str").Err(); err != nil {
		t.Errorf("a read under OOM: %v", err)
	}

	// No server at all: unreachable.
	srv.Stop()
	err := rdb.Ping(ctx).Err()
	if c, ok := redis.Condition(err); !ok || c != redis.CondUnreachable {
		t.Errorf("a stopped server: condition %q %v (%v)", c, ok, err)
	}
	if d := redis.Describe(err); d != "Redis is unreachable" {
		t.Errorf("Describe: %q", d)
	}
}

// Classify leaves nil, cancellation and already-classified errors alone.
func TestClassifyKeepsOthers(t *testing.T) {
	if redis.Classify(nil) != nil {
		t.Error("nil")
	}
	if err := redis.Classify(context.Canceled); !errors.Is(err, context.Canceled) || errors.Is(err, redis.ErrUnavailable) {
		t.Errorf("cancelled: %v", err)
	}
	ue := &redis.UnavailableError{Condition: redis.CondBusy, Err: errors.New("x")}
	if redis.Classify(ue) != ue {
		t.Error("an UnavailableError must come back unchanged")
	}
	if c, _ := redis.Condition(goredis.Nil); c != "" {
		t.Errorf("redis.Nil is no condition, got %q", c)
	}
}

// Every condition has a sentence of its own, naming it, in a 503's message.
func TestDescribeNamesEveryCondition(t *testing.T) {
	for _, c := range []string{redis.CondOOM, redis.CondReadOnly, redis.CondLoading, redis.CondBusy, redis.CondMasterDown,
		redis.CondClusterDown, redis.CondTryAgain, redis.CondNoReplicas, redis.CondMisconf} {
		d := redis.Describe(&redis.UnavailableError{Condition: c, Err: errors.New("x")})
		if !strings.Contains(d, c) {
			t.Errorf("%s: %q does not name it", c, d)
		}
	}
	for _, c := range []string{redis.CondUnreachable, redis.CondRefused, redis.CondMaxClients} {
		if d := redis.Describe(&redis.UnavailableError{Condition: c, Err: errors.New("x")}); d == "Redis is unavailable" {
			t.Errorf("%s has no sentence of its own", c)
		}
	}
}

// A Redis that accepts connections but answers nothing within the socket
// timeout is "unreachable" as a condition (503, Retry-After), and the message
// says that it did not answer in time rather than that it cannot be reached.
func TestSlowRedisIsDescribedAsNotAnsweringInTime(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	var conns []net.Conn
	var mu sync.Mutex
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			c, err := ln.Accept() // accept, read nothing, answer nothing
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
		}
	}()
	defer func() {
		_ = ln.Close()
		<-done
		mu.Lock()
		for _, c := range conns {
			_ = c.Close()
		}
		mu.Unlock()
	}()
	rdb := goredis.NewClient(&goredis.Options{Addr: ln.Addr().String(), ReadTimeout: 200 * time.Millisecond, MaxRetries: -1, Protocol: 2})
	defer rdb.Close()
	err = rdb.Get(context.Background(), "k").Err()
	if c, ok := redis.Condition(err); !ok || c != redis.CondUnreachable || !errors.Is(redis.Classify(err), redis.ErrUnavailable) {
		t.Fatalf("condition %q %v (%v)", c, ok, err)
	}
	if d := redis.Describe(redis.Classify(err)); !strings.Contains(d, "did not answer in time") {
		t.Errorf("Describe: %q (%v)", d, err)
	}
	if d := redis.Describe(context.DeadlineExceeded); !strings.Contains(d, "did not answer in time") {
		t.Errorf("Describe(deadline): %q", d)
	}
}

// replyError is an error reply as go-redis reports one (it has RedisError).
type replyError string

func (e replyError) Error() string { return string(e) }
func (replyError) RedisError()     {}

// Conditions a test server cannot be put in cheaply are recognised from their
// replies: a Redis that cannot persist (MISCONF) refuses writes until a save
// succeeds, which is a passing condition (503), never a configuration error.
func TestConditionFromReplies(t *testing.T) {
	for reply, want := range map[string]string{
		"MISCONF Redis is configured to save RDB snapshots, but it's currently unable to persist to disk.": redis.CondMisconf,
		"LOADING Redis is loading the dataset in memory":                                                   redis.CondLoading,
		"BUSY Redis is busy running a script. You can only call SCRIPT KILL or SHUTDOWN NOSCRIPT.":         redis.CondBusy,
		"MASTERDOWN Link with MASTER is down and replica-serve-stale-data is set to 'no'.":                 redis.CondMasterDown,
		"CLUSTERDOWN The cluster is down":                                                                  redis.CondClusterDown,
		"TRYAGAIN Multiple keys request during rehashing of slot":                                          redis.CondTryAgain,
		"READONLY You can't write against a read only replica.":                                            redis.CondReadOnly,
		"ERR max number of clients reached":                                                                redis.CondMaxClients,
	} {
		err := fmt.Errorf("wrapped: %w", replyError(reply))
		if c, ok := redis.Condition(err); !ok || c != want {
			t.Errorf("%q: %q %v, want %s", reply, c, ok, want)
		}
	}
	for _, reply := range []string{"WRONGTYPE Operation against a key holding the wrong kind of value", "ERR increment or decrement would overflow", "NOSCRIPT No matching script"} {
		if c, ok := redis.Condition(replyError(reply)); ok {
			t.Errorf("%q is the command's own error, got condition %s", reply, c)
		}
	}
}
