package redis_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"

	"github.com/redifx/redifx/modules/redis"
)

// A manager used without Fx: connect, use the default client, stop. Here
// Redis is unreachable and not required, so the manager starts degraded and
// callers get ErrUnavailable until it reconnects by itself.
func ExampleManager() {
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	port := ln.Addr().(*net.TCPAddr).Port
	_ = ln.Close() // nothing listens there now

	cfg := redis.DefaultConfig()
	cfg.Host, cfg.Port = "127.0.0.1", port
	cfg.StartupWait = 0
	m, err := redis.NewManager(cfg, nil)
	if err != nil {
		panic(err)
	}
	ctx := context.Background()
	if err := m.Start(ctx); err != nil {
		panic(err) // only when cfg.Required
	}
	defer func() { _ = m.Stop(ctx) }()

	fmt.Println(m.State(), errors.Is(m.Err(), redis.ErrUnavailable))
	fmt.Println(m.Prefix(redis.ClientCache) + "user:" + strconv.Itoa(42))
	// Output:
	// degraded true
	// redifx:cache:user:42
}
