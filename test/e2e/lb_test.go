package e2e

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/redifx/redifx/internal/testutil"
	"github.com/redifx/redifx/modules/redis/redistest"
)

// fleet is several replicas of the binary behind a load balancer.
type fleet struct {
	t        *testing.T
	env      []string
	ports    []int
	replicas []*proc
	lb       string // base URL of the load balancer
}

// productionEnv runs replicas as in production, with short drain timings.
func productionEnv(redisEnv ...string) []string {
	return append([]string{
		"ENVIRONMENT=production", "LOG__LEVEL=warn",
		"HTTP__DRAIN_DELAY=1s", "HTTP__SHUTDOWN_TIMEOUT=5s", "JOBS__SHUTDOWN_GRACE=1s",
		"JOBS__LEASE=2s", "JOBS__SWEEP_INTERVAL=200ms", "JOBS__SCHEDULER_INTERVAL=100ms",
		"REALTIME__HEARTBEAT_INTERVAL=2s", "REDIS__HEALTH_INTERVAL=200ms", "REDIS__RECONNECT_INTERVAL=200ms",
	}, redisEnv...)
}

func startFleet(t *testing.T, n int, env []string) *fleet {
	t.Helper()
	f := &fleet{t: t, env: env}
	for range n {
		port := freePort(t)
		f.ports = append(f.ports, port)
		f.replicas = append(f.replicas, startOn(t, port, nil, env...))
	}
	for _, r := range f.replicas {
		r.waitReady(t)
	}
	f.lb = startBalancer(t, f.ports)
	return f
}

// restart stops replica i with SIGTERM (a clean drain) and starts it again on
// the same port.
func (f *fleet) restart(i int) {
	f.t.Helper()
	r := f.replicas[i]
	if err := r.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		f.t.Fatal(err)
	}
	if code := r.exitCode(f.t, 20*time.Second); code != 0 {
		f.t.Errorf("replica %d exited %d after SIGTERM", i, code)
	}
	f.replicas[i] = startOn(f.t, f.ports[i], nil, f.env...)
	f.replicas[i].waitReady(f.t)
}

// startBalancer runs nginx with deploy/nginx.conf when it is installed, else a
// Go reverse proxy with the same retry rules, and returns its base URL.
func startBalancer(t *testing.T, ports []int) string {
	t.Helper()
	lbPort := freePort(t)
	if path, err := exec.LookPath("nginx"); err == nil {
		return startNginx(t, path, lbPort, ports)
	}
	if os.Getenv("REDIFX_REQUIRE_NGINX") == "1" {
		t.Fatal("nginx is not installed (REDIFX_REQUIRE_NGINX=1)")
	}
	t.Log("nginx not installed: using a Go reverse proxy as the load balancer")
	return startGoProxy(t, lbPort, ports)
}

func startNginx(t *testing.T, nginx string, lbPort int, ports []int) string {
	t.Helper()
	var ups strings.Builder
	for _, p := range ports {
		fmt.Fprintf(&ups, "server 127.0.0.1:%d max_fails=1 fail_timeout=1s;\n", p)
	}
	return startNginxWith(t, nginx, lbPort, ups.String())
}

// startNginxWith runs nginx with deploy/nginx.conf and the given upstreams.conf.
func startNginxWith(t *testing.T, nginx string, lbPort int, upstreams string) string {
	t.Helper()
	dir := t.TempDir()
	conf, err := filepath.Abs("../../deploy/nginx.conf")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(conf, filepath.Join(dir, "nginx.conf")); err != nil {
		t.Fatal(err)
	}
	write := func(name, body string) {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("upstreams.conf", upstreams)
	write("listen.conf", fmt.Sprintf("listen 127.0.0.1:%d;\n", lbPort))
	cmd := exec.Command(nginx, "-p", dir+"/", "-c", filepath.Join(dir, "nginx.conf"), "-e", "stderr", "-g", "daemon off;")
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true} // its workers go with it
	out := &testutil.Buffer{}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	t.Cleanup(func() {
		// SIGTERM: fast shutdown (a graceful one would wait for open streams).
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGTERM)
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
			<-done
		}
		if t.Failed() {
			t.Logf("nginx output (access log):\n%s", tail(out.String(), 60))
		}
	})
	base := "http://127.0.0.1:" + strconv.Itoa(lbPort)
	deadline := time.Now().Add(10 * time.Second)
	for {
		if resp, err := http.Get(base + "/health/live"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return base
			}
		}
		select {
		case <-done:
			t.Fatalf("nginx exited:\n%s", out.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("nginx not answering:\n%s", out.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func tail(s string, lines int) string {
	parts := strings.Split(s, "\n")
	if len(parts) > lines {
		parts = parts[len(parts)-lines:]
	}
	return strings.Join(parts, "\n")
}

// startGoProxy round-robins over the replicas and moves a request to the next
// one on a connection error (and, for streams, on 503), like deploy/nginx.conf.
func startGoProxy(t *testing.T, lbPort int, ports []int) string {
	t.Helper()
	var next atomic.Uint64
	transport := &http.Transport{DisableKeepAlives: true}
	handler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := readAll(r)
		for try := range len(ports) {
			port := ports[(int(next.Add(1))+try)%len(ports)]
			target, _ := url.Parse("http://127.0.0.1:" + strconv.Itoa(port))
			req := r.Clone(r.Context())
			req.URL.Scheme, req.URL.Host, req.RequestURI = target.Scheme, target.Host, ""
			req.Body = readCloser(body)
			resp, err := transport.RoundTrip(req)
			if err != nil {
				continue
			}
			if resp.StatusCode == 503 && strings.HasPrefix(r.URL.Path, "/api/v1/realtime/") && try < len(ports)-1 {
				resp.Body.Close()
				continue
			}
			for k, v := range resp.Header {
				w.Header()[k] = v
			}
			w.WriteHeader(resp.StatusCode)
			rc := http.NewResponseController(w)
			buf := make([]byte, 32<<10)
			for {
				n, err := resp.Body.Read(buf)
				if n > 0 {
					_, _ = w.Write(buf[:n])
					_ = rc.Flush()
				}
				if err != nil {
					break
				}
			}
			resp.Body.Close()
			return
		}
		w.WriteHeader(http.StatusBadGateway)
	})
	ln, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(lbPort))
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: handler, ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
		_ = srv.Close()
		transport.CloseIdleConnections()
	})
	return "http://127.0.0.1:" + strconv.Itoa(lbPort)
}

func readAll(r *http.Request) ([]byte, error) {
	if r.Body == nil {
		return nil, nil
	}
	defer r.Body.Close()
	var b strings.Builder
	buf := make([]byte, 4096)
	for {
		n, err := r.Body.Read(buf)
		b.Write(buf[:n])
		if err != nil {
			break
		}
	}
	return []byte(b.String()), nil
}

type bodyReader struct{ *strings.Reader }

func (bodyReader) Close() error { return nil }

func readCloser(b []byte) bodyReader { return bodyReader{strings.NewReader(string(b))} }

// mint returns a token for tenant with perms.
func mint(t *testing.T, tenant, perms string) string {
	t.Helper()
	code, out, errOut := runCmd(t, []string{"ENVIRONMENT=test", "AUTH__JWT_SECRET=" + testSecret}, "token", "--sub", "e2e", "--tenant", tenant, "--perm", perms, "--ttl", "1h")
	if code != 0 {
		t.Fatal(errOut)
	}
	return strings.TrimSpace(out)
}

// sseFollower keeps one stream open through the load balancer, reconnecting
// with Last-Event-ID whenever it ends, and records every event id it gets.
type sseFollower struct {
	mu          sync.Mutex
	ids         map[string]int
	reconnects  int
	resets      int
	connectErrs int
}

func (s *sseFollower) run(ctx context.Context, url, tok string) {
	last := ""
	client := &http.Client{}
	for ctx.Err() == nil {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		req.Header.Set("Authorization", "Bearer "+tok)
		if last != "" {
			req.Header.Set("Last-Event-ID", last)
		}
		resp, err := client.Do(req)
		if err != nil || resp.StatusCode != 200 {
			if resp != nil {
				resp.Body.Close()
			}
			s.mu.Lock()
			s.connectErrs++
			s.mu.Unlock()
			select {
			case <-ctx.Done():
			case <-time.After(200 * time.Millisecond):
			}
			continue
		}
		sc := bufio.NewScanner(resp.Body)
		id, event := "", ""
		for sc.Scan() {
			line := sc.Text()
			switch {
			case strings.HasPrefix(line, "id: "):
				id = line[4:]
			case strings.HasPrefix(line, "event: "):
				event = line[7:]
			case line == "":
				s.mu.Lock()
				if event == "reset" {
					s.resets++
				}
				if id != "" && event == "alert.raised" {
					s.ids[id]++
					last = id
				}
				s.mu.Unlock()
				id, event = "", ""
			}
		}
		resp.Body.Close()
		s.mu.Lock()
		s.reconnects++
		s.mu.Unlock()
	}
}

func TestRollingRestartBehindTheLoadBalancer(t *testing.T) {
	srv := redistest.Start(t)
	f := startFleet(t, 3, productionEnv("REDIS__URL="+srv.URL()))
	tok := mint(t, "acme", "jobs.read,jobs.write,realtime.read,realtime.publish")
	client := &http.Client{Timeout: 10 * time.Second}

	// A job to read back all the time.
	code, first := apiCall(t, "POST", f.lb+"/api/v1/jobs", tok, `{"job_type":"noop","title":"seed"}`)
	if code != 201 {
		t.Fatalf("seed job: %d %v", code, first)
	}
	seed := first["id"].(string)

	ctx, stop := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	followers := []*sseFollower{{ids: map[string]int{}}, {ids: map[string]int{}}}
	for _, fl := range followers {
		wg.Go(func() { fl.run(ctx, f.lb+"/api/v1/realtime/alerts", tok) })
	}
	time.Sleep(300 * time.Millisecond)

	var reads, failedReads atomic.Int64
	var failures sync.Map
	var keysMu sync.Mutex
	keys := map[string]string{} // Idempotency-Key -> job id
	var published sync.Map      // acknowledged event ids
	var publishFailures atomic.Int64
	loopCtx, stopLoops := context.WithCancel(context.Background())
	defer stopLoops()
	var loops sync.WaitGroup
	loop := func(body func(i int)) {
		loops.Go(func() {
			for i := 0; loopCtx.Err() == nil && i < 5000; i++ {
				body(i)
				time.Sleep(10 * time.Millisecond)
			}
		})
	}
	loop(func(int) { // reads
		req, _ := http.NewRequest(http.MethodGet, f.lb+"/api/v1/jobs/"+seed, nil)
		req.Header.Set("Authorization", "Bearer "+tok)
		resp, err := client.Do(req)
		reads.Add(1)
		if err != nil || resp.StatusCode != 200 {
			failedReads.Add(1)
			if err != nil {
				failures.Store(err.Error(), true)
			} else {
				failures.Store(resp.Status, true)
			}
		}
		if resp != nil {
			resp.Body.Close()
		}
	})
	loop(func(i int) { // job creations with an idempotency key, retried on connection errors
		key := fmt.Sprintf("rolling-%d", i)
		body := fmt.Sprintf(`{"job_type":"noop","title":"job %d"}`, i)
		for attempt := 0; attempt < 20; attempt++ {
			req, _ := http.NewRequest(http.MethodPost, f.lb+"/api/v1/jobs", strings.NewReader(body))
			req.Header.Set("Authorization", "Bearer "+tok)
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("Idempotency-Key", key)
			resp, err := client.Do(req)
			if err != nil {
				time.Sleep(100 * time.Millisecond)
				continue
			}
			var out map[string]any
			_ = jsonDecode(resp, &out)
			if resp.StatusCode == 201 || resp.StatusCode == 200 {
				keysMu.Lock()
				if prev, ok := keys[key]; ok && prev != out["id"] {
					t.Errorf("key %s gave two jobs: %s and %v", key, prev, out["id"])
				}
				keys[key] = out["id"].(string)
				keysMu.Unlock()
				return
			}
			time.Sleep(100 * time.Millisecond)
		}
		t.Errorf("job %s never created", key)
	})
	loop(func(i int) { // events
		code, out := apiCall(t, "POST", f.lb+"/api/v1/realtime/alerts", tok,
			fmt.Sprintf(`{"event_type":"alert.raised","alert_id":"%d","severity":"info","message":"m"}`, i))
		if code == 202 {
			published.Store(out["id"].(string), true)
		} else {
			publishFailures.Add(1)
		}
	})

	for i := range f.replicas {
		time.Sleep(500 * time.Millisecond)
		f.restart(i)
	}
	time.Sleep(time.Second)
	stopLoops()
	loops.Wait()
	// Let the streams catch up with the last acknowledged event before they stop.
	deadline := time.Now().Add(10 * time.Second)
	for _, fl := range followers {
		for {
			fl.mu.Lock()
			n := len(fl.ids)
			fl.mu.Unlock()
			if n >= countMap(&published) || time.Now().After(deadline) {
				break
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	stop()
	wg.Wait()

	t.Logf("reads: %d, failed: %d; jobs created: %d; events acknowledged: %d (publish failures %d)",
		reads.Load(), failedReads.Load(), len(keys), countMap(&published), publishFailures.Load())
	if failedReads.Load() != 0 {
		var msgs []string
		failures.Range(func(k, _ any) bool { msgs = append(msgs, k.(string)); return true })
		t.Errorf("%d of %d reads failed: %v", failedReads.Load(), reads.Load(), msgs)
	}
	// Every job exactly once: the tenant holds one job per key (plus the seed).
	_, list := apiCall(t, "GET", f.lb+"/api/v1/jobs?page_size=1", tok, "")
	if int(list["total"].(float64)) != len(keys)+1 {
		t.Errorf("%v jobs stored for %d keys (+1 seed)", list["total"], len(keys))
	}
	// Every acknowledged event reached every stream exactly once.
	for n, fl := range followers {
		fl.mu.Lock()
		missing, dup := 0, 0
		published.Range(func(k, _ any) bool {
			switch fl.ids[k.(string)] {
			case 0:
				missing++
			case 1:
			default:
				dup++
			}
			return true
		})
		t.Logf("stream %d: %d events, %d reconnects, %d resets, %d refused connects", n, len(fl.ids), fl.reconnects, fl.resets, fl.connectErrs)
		if missing != 0 || dup != 0 {
			t.Errorf("stream %d: %d acknowledged events missing, %d duplicated", n, missing, dup)
		}
		fl.mu.Unlock()
	}
}

func countMap(m *sync.Map) int {
	n := 0
	m.Range(func(any, any) bool { n++; return true })
	return n
}

func jsonDecode(resp *http.Response, v any) error {
	defer resp.Body.Close()
	return decodeJSON(resp, v)
}
