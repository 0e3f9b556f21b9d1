// Command dashboardserver runs the redifx application exactly as the binary
// composes it (internal/app), configured from the environment, plus one extra
// route for the dashboard benchmark (bench/dashboard/run.sh):
//
//	GET /bench/constant   behind the same global middleware and the same
//	                      authn.Require("metrics.read") as the dashboard, it
//	                      answers a constant JSON body: a snapshot of the
//	                      cached dashboard response, so the size is the same
//
// At start it mints a token (tenant "bench", metrics.read and the permissions
// needed to seed), seeds the tenant with a few realtime events and jobs, reads
// the dashboard twice (the first read computes and caches it, the second is a
// cache hit) and keeps the second answer as the constant body. It then writes
// KEY=value lines (BASE, TOKEN, DASHBOARD_BYTES, CONSTANT_BYTES) to -out and
// serves until SIGTERM or SIGINT. -cpuprofile profiles the serving part.
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/signal"
	"runtime/pprof"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/redifx/redifx/internal/app"
	"github.com/redifx/redifx/modules/auth"
	"github.com/redifx/redifx/modules/httpserver"
	"go.uber.org/fx"
)

// tenant is the tenant whose dashboard is measured.
const tenant = "bench"

func main() {
	out := flag.String("out", "", "file to write BASE, TOKEN and the body sizes to (default: standard output)")
	cpuprofile := flag.String("cpuprofile", "", "write a CPU profile, from ready to stop, to this file")
	flag.Parse()
	if err := run(*out, *cpuprofile); err != nil {
		fmt.Fprintln(os.Stderr, "dashboardserver:", err)
		os.Exit(1)
	}
}

func run(out, cpuprofile string) error {
	cfg, err := app.Load("", os.Environ())
	if err != nil {
		return err
	}
	var constant atomic.Pointer[[]byte]
	var srv *httpserver.Server
	a := fx.New(
		app.Options(&cfg, "bench"),
		fx.Provide(httpserver.AsRoute(func(authn *auth.Authenticator) httpserver.RouteFunc {
			return func(r gin.IRouter) {
				r.GET("/bench/constant", authn.Require(auth.PermMetricsRead), func(c *gin.Context) {
					c.Data(http.StatusOK, "application/json; charset=utf-8", *constant.Load())
				})
			}
		})),
		fx.Populate(&srv),
		fx.NopLogger,
	)
	startCtx, cancel := context.WithTimeout(context.Background(), cfg.StartTimeout())
	defer cancel()
	if err := a.Start(startCtx); err != nil {
		return err
	}
	defer func() {
		stopCtx, cancel := context.WithTimeout(context.Background(), cfg.StopTimeout())
		defer cancel()
		_ = a.Stop(stopCtx)
	}()

	base := "http://" + srv.Addr().String()
	token, err := auth.Mint(cfg.Auth, cfg.Environment, auth.TokenRequest{
		Subject: "bench", TenantID: tenant, TTL: 24 * time.Hour,
		Permissions: []string{auth.PermMetricsRead, "jobs.write", "jobs.read", "realtime.publish"},
	})
	if err != nil {
		return err
	}
	c := &client{base: base, token: token}
	if err := seed(c); err != nil {
		return fmt.Errorf("seeding: %w", err)
	}
	if _, err := c.do("GET", "/api/v1/metrics/dashboard", "", http.StatusOK); err != nil {
		return fmt.Errorf("computing the dashboard: %w", err)
	}
	body, err := c.do("GET", "/api/v1/metrics/dashboard", "", http.StatusOK)
	if err != nil {
		return fmt.Errorf("reading the cached dashboard: %w", err)
	}
	var d struct {
		Cache struct{ Hit bool } `json:"cache"`
	}
	if err := json.Unmarshal(body, &d); err != nil || !d.Cache.Hit {
		return fmt.Errorf("the second dashboard read was not a cache hit: %s", body)
	}
	constant.Store(&body)
	cbody, err := c.do("GET", "/bench/constant", "", http.StatusOK)
	if err != nil {
		return err
	}

	w := io.Writer(os.Stdout)
	if out != "" {
		f, err := os.Create(out)
		if err != nil {
			return err
		}
		defer func() { _ = f.Close() }()
		w = f
	}
	fmt.Fprintf(w, "BASE=%s\nTOKEN=%s\nDASHBOARD_BYTES=%d\nCONSTANT_BYTES=%d\n", base, token, len(body), len(cbody))
	if f, ok := w.(*os.File); ok && f != os.Stdout {
		if err := f.Sync(); err != nil {
			return err
		}
	}
	if cpuprofile != "" {
		f, err := os.Create(cpuprofile)
		if err != nil {
			return err
		}
		defer func() { _ = f.Close() }()
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}
	fmt.Fprintln(os.Stderr, "dashboardserver: ready on", base)

	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGTERM, syscall.SIGINT)
	<-sig
	return nil
}

// seed gives the tenant a few ONU events, an alert and completed jobs, so
// that the dashboard's figures are not all zero.
func seed(c *client) error {
	events := []struct{ channel, body string }{
		{"onu-status", `{"event_type":"onu.online","onu_serial":"A","status":"online","signal_dbm":-20}`},
		{"onu-status", `{"event_type":"onu.online","onu_serial":"B","status":"online","signal_dbm":-25}`},
		{"onu-status", `{"event_type":"onu.signal_degraded","onu_serial":"B","status":"degraded","signal_dbm":-29}`},
		{"onu-status", `{"event_type":"onu.offline","onu_serial":"C","status":"offline"}`},
		{"alerts", `{"event_type":"alert.raised","alert_id":"1","severity":"info","message":"m"}`},
	}
	for _, e := range events {
		if _, err := c.do("POST", "/api/v1/realtime/"+e.channel, e.body, http.StatusAccepted); err != nil {
			return err
		}
	}
	for _, title := range []string{"a", "b", "c"} {
		if _, err := c.do("POST", "/api/v1/jobs", `{"job_type":"noop","title":"`+title+`"}`, http.StatusCreated); err != nil {
			return err
		}
	}
	// Wait for the jobs to complete so that the figures are stable.
	deadline := time.Now().Add(10 * time.Second)
	for {
		body, err := c.do("GET", "/api/v1/jobs/statistics", "", http.StatusOK)
		if err != nil {
			return err
		}
		var s struct {
			ByStatus map[string]int `json:"by_status"`
		}
		if err := json.Unmarshal(body, &s); err != nil {
			return err
		}
		if s.ByStatus["completed"] == 3 {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("jobs not completed after 10s: %s", body)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

type client struct {
	base, token string
}

func (c *client) do(method, path, body string, want int) ([]byte, error) {
	req, err := http.NewRequest(method, c.base+path, bytes.NewReader([]byte(body)))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Authorization", "Bearer "+c.token)
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer func() { _ = resp.Body.Close() }()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != want {
		return nil, errors.New(method + " " + path + ": " + resp.Status + ": " + strings.TrimSpace(string(b)))
	}
	return b, nil
}
