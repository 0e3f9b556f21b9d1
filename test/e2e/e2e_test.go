// Package e2e builds the redifx binary and runs it as an operator would: real
// processes, real HTTP, real redis-server (via redistest), real signals.
package e2e

import (
	"encoding/json"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/redifx/redifx/internal/testutil"
	"github.com/redifx/redifx/modules/redis/redistest"
)

var bin string

// testSecret is the HS256 secret of every process started here (32+ bytes,
// so production accepts it too).
const testSecret = "e2e-test-secret-0123456789abcdef-0123"

func TestMain(m *testing.M) { os.Exit(testutil.RunWithBinary(m, &bin)) }

type proc struct {
	cmd            *exec.Cmd
	stdout, stderr *testutil.Buffer
	done           chan struct{}
	base           string
}

func freePort(t *testing.T) int { return testutil.FreePort(t) }

// start runs the binary with only PATH and env in its environment, on a free
// port.
func start(t *testing.T, args []string, env ...string) *proc {
	t.Helper()
	return startOn(t, freePort(t), args, env...)
}

// startOn is start on a given port (a replica restarted in place).
func startOn(t *testing.T, port int, args []string, env ...string) *proc {
	t.Helper()
	cmd := exec.Command(bin, args...)
	cmd.Env = append([]string{"PATH=" + os.Getenv("PATH"), "HTTP__ADDR=127.0.0.1:" + strconv.Itoa(port), "AUTH__JWT_SECRET=" + testSecret}, env...)
	p := &proc{cmd: cmd, stdout: &testutil.Buffer{}, stderr: &testutil.Buffer{}, done: make(chan struct{}), base: "http://127.0.0.1:" + strconv.Itoa(port)}
	cmd.Stdout, cmd.Stderr = p.stdout, p.stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { _ = cmd.Wait(); close(p.done) }()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-p.done
		if t.Failed() {
			t.Logf("stdout:\n%s\nstderr:\n%s", p.stdout, p.stderr)
		}
	})
	return p
}

func (p *proc) exitCode(t *testing.T, within time.Duration) int {
	t.Helper()
	select {
	case <-p.done:
		return p.cmd.ProcessState.ExitCode()
	case <-time.After(within):
		t.Fatalf("process still running after %s", within)
	}
	return -1
}

func (p *proc) get(path string) (int, map[string]any, error) {
	c := &http.Client{Timeout: 2 * time.Second}
	resp, err := c.Get(p.base + path)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	var body map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&body)
	return resp.StatusCode, body, nil
}

func (p *proc) waitReady(t *testing.T) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case <-p.done:
			t.Fatalf("process exited early with %d", p.cmd.ProcessState.ExitCode())
		default:
		}
		if code, _, err := p.get("/health/ready"); err == nil && code == 200 {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatal("not ready within 15s")
}

func TestSIGTERMDrainsAndExitsZero(t *testing.T) {
	srv := redistest.Start(t)
	p := start(t, nil, "ENVIRONMENT=test", "REDIS__URL="+srv.URL(), "HTTP__DRAIN_DELAY=1s", "LOG__FORMAT=json")
	p.waitReady(t)
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	// Readiness turns 503 at once while the listener stays open for the drain.
	time.Sleep(200 * time.Millisecond)
	code, body, err := p.get("/health/ready")
	if err != nil || code != 503 || body["status"] != "not ready" {
		t.Errorf("readiness during drain: %d %v %v", code, body, err)
	}
	if code := p.exitCode(t, 20*time.Second); code != 0 {
		t.Errorf("exit code %d after SIGTERM", code)
	}
	logs := p.stderr.String()
	for _, ev := range []string{"redis.initialized", "http.draining", "http.stopped", "redis.closed"} {
		if !strings.Contains(logs, ev) {
			t.Errorf("log lacks %s", ev)
		}
	}
	if strings.Index(logs, "http.stopped") > strings.Index(logs, "redis.closed") {
		t.Error("Redis closed before the HTTP server stopped")
	}
}

func TestProductionWithUnreachableRedisExitsNonZero(t *testing.T) {
	dead := freePort(t)
	p := start(t, nil, "ENVIRONMENT=production", "REDIS__URL=redis://svc:E2e-Prod-Secret@127.0.0.1:"+strconv.Itoa(dead)+"/0", "REDIS__STARTUP_WAIT=500ms")
	if code := p.exitCode(t, 20*time.Second); code == 0 {
		t.Fatal("exit code 0")
	}
	out := p.stdout.String() + p.stderr.String()
	if !strings.Contains(out, "127.0.0.1:"+strconv.Itoa(dead)) {
		t.Errorf("output does not name the address:\n%s", out)
	}
	if strings.Contains(out, "E2e-Prod-Secret") {
		t.Errorf("password leaked:\n%s", out)
	}
	if !strings.Contains(out, "redis.init.failed") {
		t.Error("no redis.init.failed event")
	}
}

func TestDevelopmentRunsOnTheEmbeddedFallback(t *testing.T) {
	dead := freePort(t)
	p := start(t, []string{"serve"}, "REDIS__PORT="+strconv.Itoa(dead), "REDIS__HOST=127.0.0.1")
	p.waitReady(t)
	code, body, err := p.get("/health/redis")
	if err != nil || code != 200 || body["embedded"] != true {
		t.Errorf("/health/redis: %d %v %v", code, body, err)
	}
	logs := p.stderr.String()
	if !strings.Contains(logs, "DEVELOPMENT DEFAULTS") || !strings.Contains(logs, "redis.embedded_fallback") {
		t.Errorf("missing development WARN or fallback WARN:\n%s", logs)
	}
	if err := p.cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	if code := p.exitCode(t, 10*time.Second); code != 0 {
		t.Errorf("exit %d", code)
	}
}

func TestHealthcheckCommand(t *testing.T) {
	srv := redistest.Start(t)
	p := start(t, nil, "ENVIRONMENT=test", "REDIS__URL="+srv.URL(), "REDIS__REQUIRED=true", "REDIS__HEALTH_INTERVAL=100ms")
	p.waitReady(t)
	run := func() int {
		hc := exec.Command(bin, "healthcheck", "--url", p.base+"/health/ready")
		hc.Env = []string{"PATH=" + os.Getenv("PATH")}
		_ = hc.Run()
		return hc.ProcessState.ExitCode()
	}
	if code := run(); code != 0 {
		t.Errorf("healthcheck while ready: %d", code)
	}
	srv.Kill()
	deadline := time.Now().Add(5 * time.Second)
	for run() != 1 {
		if time.Now().After(deadline) {
			t.Fatal("healthcheck still 0 with required Redis down")
		}
		time.Sleep(100 * time.Millisecond)
	}
	// The default URL comes from http.addr.
	hc := exec.Command(bin, "healthcheck")
	hc.Env = []string{"PATH=" + os.Getenv("PATH"), "HTTP__ADDR=127.0.0.1:" + strconv.Itoa(freePort(t))}
	if err := hc.Run(); err == nil {
		t.Error("healthcheck against a closed port succeeded")
	}
}

func runCmd(t *testing.T, env []string, args ...string) (int, string, string) {
	t.Helper()
	return testutil.Run(t, bin, env, args...)
}

func TestConfigCommand(t *testing.T) {
	code, out, _ := runCmd(t, []string{"REDIS__PASSWORD=Cfg-Secret", "REDIS__SENTINEL_PASSWORD=Sent-Secret", "REDIS__URL=redis://u:Url-Secret@h:1/0"}, "config")
	if code != 0 {
		t.Fatalf("exit %d", code)
	}
	for _, s := range []string{"Cfg-Secret", "Sent-Secret", "Url-Secret"} {
		if strings.Contains(out, s) {
			t.Errorf("%s in output", s)
		}
	}
	if !strings.Contains(out, "url: redis://u:***@h:1/0") || !strings.Contains(out, "password: '***'") {
		t.Errorf("output:\n%s", out)
	}

	dir := t.TempDir()
	file := filepath.Join(dir, "c.yaml")
	if err := os.WriteFile(file, []byte("redis:\n  prot: 1\n  port: x\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	code, _, errOut := runCmd(t, []string{"ENVIRONMENT=production", "CONFIG_FILE=" + file}, "config")
	if code != 2 || !strings.Contains(errOut, "redis.prot: unknown key") || !strings.Contains(errOut, "redis.port: expected an integer") {
		t.Errorf("exit %d\n%s", code, errOut)
	}
	code, _, errOut = runCmd(t, []string{"ENVIRONMENT=production"}, "config", "--config", "/nonexistent.yaml")
	if code != 2 || !strings.Contains(errOut, "/nonexistent.yaml") {
		t.Errorf("missing file: exit %d\n%s", code, errOut)
	}
	code, _, errOut = runCmd(t, []string{"ENVIRONMENT=production"}, "config")
	if code != 2 || !strings.Contains(errOut, "redis.host") {
		t.Errorf("production violations: exit %d\n%s", code, errOut)
	}
}

func TestVersionAndUnknownCommand(t *testing.T) {
	if code, out, _ := runCmd(t, nil, "version"); code != 0 || strings.TrimSpace(out) == "" {
		t.Errorf("version: %d %q", code, out)
	}
	if code, _, errOut := runCmd(t, nil, "frobnicate"); code != 2 || !strings.Contains(errOut, "unknown command") {
		t.Errorf("unknown: %d %q", code, errOut)
	}
}

func TestTakenPortFailsStart(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	srv := redistest.Start(t)
	cmd := exec.Command(bin)
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HTTP__ADDR=" + ln.Addr().String(), "REDIS__URL=" + srv.URL(), "ENVIRONMENT=test", "AUTH__JWT_SECRET=" + testSecret}
	out, _ := cmd.CombinedOutput()
	if cmd.ProcessState.ExitCode() == 0 || !strings.Contains(string(out), "cannot listen on "+ln.Addr().String()) {
		t.Errorf("exit %d\n%s", cmd.ProcessState.ExitCode(), out)
	}
}

func TestTokenCommandMintsATokenTheServiceAccepts(t *testing.T) {
	srv := redistest.Start(t)
	env := []string{"ENVIRONMENT=test", "AUTH__JWT_SECRET=" + testSecret, "AUTH__ISSUER=https://idp.test", "AUTH__AUDIENCE=redifx"}
	code, out, errOut := runCmd(t, env, "token", "--sub", "alice", "--tenant", "acme", "--perm", "jobs.read,jobs.write", "--role", "admin", "--ttl", "10m")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	tok := strings.TrimSpace(out)
	if strings.Count(tok, ".") != 2 || strings.Contains(tok, "\n") {
		t.Fatalf("stdout is not just a token: %q", out)
	}
	p := start(t, nil, append(env, "REDIS__URL="+srv.URL())...)
	p.waitReady(t)
	req, _ := http.NewRequest(http.MethodGet, p.base+"/api/v1/auth/whoami", nil)
	req.Header.Set("Authorization", "Bearer "+tok)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&body)
	if resp.StatusCode != 200 || body["sub"] != "alice" || body["tenant_id"] != "acme" {
		t.Errorf("whoami: %d %v", resp.StatusCode, body)
	}
	if code, _, _ := p.get("/api/v1/auth/whoami"); code != 401 {
		t.Errorf("whoami without token: %d", code)
	}

	code, out, errOut = runCmd(t, []string{"ENVIRONMENT=production", "REDIS__HOST=redis.prod", "AUTH__JWT_SECRET=" + testSecret}, "token", "--sub", "x")
	if code == 0 || out != "" || !strings.Contains(errOut, "production") {
		t.Errorf("production: exit %d, stdout %q, stderr %q", code, out, errOut)
	}
}

func TestRealtimeWithCurl(t *testing.T) {
	if _, err := exec.LookPath("curl"); err != nil {
		t.Skip("curl not installed")
	}
	srv := redistest.Start(t)
	env := []string{"ENVIRONMENT=test", "REDIS__URL=" + srv.URL(), "REALTIME__HEARTBEAT_INTERVAL=1s"}
	p := start(t, nil, env...)
	p.waitReady(t)
	mint := func(perm string) string {
		code, out, errOut := runCmd(t, []string{"ENVIRONMENT=test", "AUTH__JWT_SECRET=" + testSecret}, "token", "--sub", "ops", "--tenant", "acme", "--perm", perm)
		if code != 0 {
			t.Fatalf("token: %s", errOut)
		}
		return strings.TrimSpace(out)
	}
	curl := exec.Command("curl", "-N", "-s", "-H", "Authorization: Bearer "+mint("realtime.read"), p.base+"/api/v1/realtime/alerts")
	out := &testutil.Buffer{}
	curl.Stdout = out
	if err := curl.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = curl.Process.Kill(); _ = curl.Wait() }()
	waitFor := func(what string) {
		t.Helper()
		deadline := time.Now().Add(5 * time.Second)
		for !strings.Contains(out.String(), what) {
			if time.Now().After(deadline) {
				t.Fatalf("curl output lacks %q:\n%s", what, out.String())
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	waitFor("event: connected")
	req, _ := http.NewRequest(http.MethodPost, p.base+"/api/v1/realtime/alerts",
		strings.NewReader(`{"event_type":"alert.raised","alert_id":"A-1","severity":"critical","message":"fibre cut"}`))
	req.Header.Set("Authorization", "Bearer "+mint("realtime.publish"))
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var body map[string]string
	_ = json.NewDecoder(resp.Body).Decode(&body)
	resp.Body.Close()
	if resp.StatusCode != 202 {
		t.Fatalf("publish: %d", resp.StatusCode)
	}
	waitFor("id: " + body["id"] + "\nevent: alert.raised\ndata: {")
	waitFor("fibre cut")
	waitFor(": heartbeat")
}

func apiCall(t *testing.T, method, url, tok, body string) (int, map[string]any) {
	t.Helper()
	return testutil.Call(t, method, url, tok, body)
}

func TestKilledWorkersJobRunsElsewhereWithoutSpendingARetry(t *testing.T) {
	srv := redistest.Start(t)
	env := []string{"ENVIRONMENT=test", "REDIS__URL=" + srv.URL(), "JOBS__LEASE=2s", "JOBS__SWEEP_INTERVAL=200ms"}
	a := start(t, nil, env...)
	a.waitReady(t)
	code, out, errOut := runCmd(t, []string{"ENVIRONMENT=test", "AUTH__JWT_SECRET=" + testSecret}, "token", "--sub", "ops", "--tenant", "acme", "--perm", "jobs.read,jobs.write")
	if code != 0 {
		t.Fatal(errOut)
	}
	tok := strings.TrimSpace(out)
	code, job := apiCall(t, "POST", a.base+"/api/v1/jobs", tok, `{"job_type":"sleep","title":"long","max_retries":0,"parameters":{"duration":"3s","steps":3}}`)
	if code != 201 {
		t.Fatalf("create: %d %v", code, job)
	}
	id := job["id"].(string)
	waitJob := func(p *proc, cond func(map[string]any) bool, within time.Duration) map[string]any {
		t.Helper()
		deadline := time.Now().Add(within)
		for {
			_, j := apiCall(t, "GET", p.base+"/api/v1/jobs/"+id, tok, "")
			if cond(j) {
				return j
			}
			if time.Now().After(deadline) {
				t.Fatalf("job did not get there within %s: %v", within, j)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	waitJob(a, func(j map[string]any) bool { return j["status"] == "running" }, 5*time.Second)
	b := start(t, nil, env...)
	b.waitReady(t)
	if err := a.cmd.Process.Kill(); err != nil { // SIGKILL: no shutdown, no requeue
		t.Fatal(err)
	}
	killed := time.Now()
	waitJob(b, func(j map[string]any) bool { return j["recoveries"] == 1.0 }, 5*time.Second)
	if took := time.Since(killed); took > 5*time.Second {
		t.Errorf("re-run after %s", took)
	}
	j := waitJob(b, func(j map[string]any) bool { return j["status"] == "completed" }, 10*time.Second)
	if j["attempts"] != 0.0 || j["recoveries"] != 1.0 {
		t.Errorf("retry budget touched: %v", j)
	}
	// The worker that took the job back counts it, by type.
	resp, err := http.Get(b.base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	scraped, _ := io.ReadAll(resp.Body)
	if !strings.Contains(string(scraped), `redifx_jobs_recovered_total{job_type="sleep"} 1`+"\n") {
		t.Errorf("recovered series of the worker that took the job back:\n%s", grepLines(string(scraped), "redifx_jobs_recovered_total"))
	}
}

// grepLines returns the lines of s that contain sub.
func grepLines(s, sub string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, sub) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

func TestJobProgressReachesTheRealtimeStream(t *testing.T) {
	srv := redistest.Start(t)
	p := start(t, nil, "ENVIRONMENT=test", "REDIS__URL="+srv.URL(), "JOBS__PROGRESS_INTERVAL=10ms")
	p.waitReady(t)
	code, out, errOut := runCmd(t, []string{"ENVIRONMENT=test", "AUTH__JWT_SECRET=" + testSecret}, "token", "--sub", "ops", "--tenant", "acme", "--perm", "jobs.write,realtime.read")
	if code != 0 {
		t.Fatal(errOut)
	}
	tok := strings.TrimSpace(out)
	req, _ := http.NewRequest(http.MethodGet, p.base+"/api/v1/realtime/jobs", nil)
	req.Header.Set("Authorization", "Bearer "+tok)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	lines := make(chan string, 1024)
	go func() {
		defer close(lines)
		buf := make([]byte, 64<<10)
		var acc string
		for {
			n, err := resp.Body.Read(buf)
			acc += string(buf[:n])
			for {
				i := strings.Index(acc, "\n")
				if i < 0 {
					break
				}
				lines <- acc[:i]
				acc = acc[i+1:]
			}
			if err != nil {
				return
			}
		}
	}()
	code, job := apiCall(t, "POST", p.base+"/api/v1/jobs", tok, `{"job_type":"sleep","title":"nap","parameters":{"duration":"300ms","steps":3}}`)
	if code != 201 {
		t.Fatalf("create: %d %v", code, job)
	}
	// Events of one job come from the API (created) and the worker (the rest):
	// a worker may start the job before the API has published job.created, so
	// only the set is checked; each event carries the job's status.
	want := map[string]bool{"event: job.created": false, "event: job.started": false, "event: job.progress": false, "event: job.completed": false}
	deadline := time.After(10 * time.Second)
	for missing := len(want); missing > 0; {
		select {
		case l, ok := <-lines:
			if !ok {
				t.Fatalf("stream ended; saw %v", want)
			}
			if seen, tracked := want[l]; tracked && !seen {
				want[l] = true
				missing--
			}
		case <-deadline:
			t.Fatalf("saw only %v", want)
		}
	}
}

func decodeJSON(resp *http.Response, v any) error { return json.NewDecoder(resp.Body).Decode(v) }
