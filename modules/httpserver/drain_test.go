package httpserver_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/redifx/redifx/modules/httpserver"
)

// A request that a proxy writes into a kept-alive connection right after the
// drain begins gets a real answer (with Connection: close), not a closed
// connection: nginx does not retry a POST that failed that way.
func TestDrainAnswersARequestOnAnIdleKeptAliveConnection(t *testing.T) {
	cfg := testConfig()
	cfg.DrainDelay = 3 * time.Second
	f := start(t, cfg, echoRoutes())
	c := keptAlive(t, f)
	// The connection is idle and kept alive; now the drain begins.
	f.srv.BeginDrain()
	c.write(post("/echo", `{"k":"v"}`, 9))
	resp, body, err := c.response(5 * time.Second)
	if err != nil {
		t.Fatalf("POST on the kept-alive connection after the drain began: %v", err)
	}
	if resp.StatusCode != 200 || !strings.Contains(body, `"k":"v"`) {
		t.Errorf("%d %s", resp.StatusCode, body)
	}
	if !resp.Close {
		t.Error("the answer during the drain does not say Connection: close")
	}
	if !c.closed(5 * time.Second) {
		t.Error("the connection stayed open after its Connection: close answer")
	}

	// New connections are still served until the listener closes.
	c2 := dial(t, f.base)
	c2.write("GET /health/ready HTTP/1.1\r\nHost: x\r\n\r\n")
	if resp, _, err := c2.response(5 * time.Second); err != nil || resp.StatusCode != 503 || !resp.Close {
		t.Errorf("readiness on a new connection during the drain: %v %v", resp, err)
	}
}

// During the drain a connection left idle is closed once it has been idle for
// DrainIdleClose, well before Shutdown; Stop still waits for drain_delay.
func TestDrainClosesConnectionsIdleForAWhile(t *testing.T) {
	cfg := testConfig()
	cfg.DrainDelay = 4 * time.Second
	f := start(t, cfg, echoRoutes())
	c := keptAlive(t, f)
	stopped := make(chan error, 1)
	begin := time.Now()
	go func() { stopped <- f.srv.Stop(context.Background()) }()
	if !c.closed(cfg.DrainDelay - 500*time.Millisecond) {
		t.Fatal("the idle connection was not closed during the drain")
	}
	if took := time.Since(begin); took < httpserver.DrainIdleClose-100*time.Millisecond {
		t.Errorf("closed after %s, before it had been idle for %s", took, httpserver.DrainIdleClose)
	}
	select {
	case err := <-stopped:
		t.Fatalf("Stop returned before drain_delay: %v", err)
	default:
	}
	if err := <-stopped; err != nil {
		t.Fatal(err)
	}
	if took := time.Since(begin); took < cfg.DrainDelay {
		t.Errorf("Stop took %s, less than drain_delay", took)
	}
}

// keptAlive opens a connection, has one request answered on it and leaves it
// idle and kept alive.
func keptAlive(t *testing.T, f *fixture) *rawConn {
	t.Helper()
	c := dial(t, f.base)
	c.write("GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
	if resp, _, err := c.response(5 * time.Second); err != nil || resp.StatusCode != 200 || resp.Close {
		t.Fatalf("before the drain: %v %v", resp, err)
	}
	return c
}
