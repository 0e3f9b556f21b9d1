package main

import (
	"encoding/base64"
	"encoding/json"
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

	"github.com/redifx/redifx/internal/app"
	"github.com/redifx/redifx/internal/testutil"
	"github.com/redifx/redifx/modules/auth"
	"github.com/redifx/redifx/modules/redis/redistest"
)

// bin is the redifx binary the tests run as a real process.
var bin string

func TestMain(m *testing.M) { os.Exit(testutil.RunWithBinary(m, &bin)) }

// redifx runs the binary with only PATH and env in its environment.
func redifx(t *testing.T, env []string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	return testutil.Run(t, bin, env, args...)
}

func TestHelpPrintsTheUsageAndExitsZero(t *testing.T) {
	for _, args := range [][]string{
		{"--help"}, {"-h"}, {"help"},
		{"token", "--help"}, {"token", "-h"},
		{"serve", "--help"}, {"config", "--help"}, {"healthcheck", "--help"},
	} {
		code, out, errOut := redifx(t, nil, args...)
		if code != 0 || !strings.Contains(out, "usage:") || !strings.Contains(out, "redifx token --sub") {
			t.Errorf("%v: exit %d\nstdout %s\nstderr %s", args, code, out, errOut)
		}
		if args[0] == "token" && (!strings.Contains(out, "-perm") || !strings.Contains(out, auth.PermRealtimePublish)) {
			t.Errorf("%v: the token flags and permissions are missing:\n%s", args, out)
		}
	}
	// A bad flag is still a usage error.
	if code, _, errOut := redifx(t, nil, "token", "--bogus"); code != 2 || !strings.Contains(errOut, "bogus") {
		t.Errorf("bad flag: exit %d %s", code, errOut)
	}
}

func TestTokenRefusesUnknownPermissionsAndRoles(t *testing.T) {
	code, out, errOut := redifx(t, nil, "token", "--sub", "alice", "--tenant", "acme", "--perm", "jobs.read,jobs.reed")
	if code == 0 || out != "" || !strings.Contains(errOut, `"jobs.reed"`) {
		t.Errorf("unknown permission: exit %d stdout %q stderr %q", code, out, errOut)
	}
	for _, p := range knownPermissions {
		if !strings.Contains(errOut, p) {
			t.Errorf("the refusal does not list %s: %s", p, errOut)
		}
	}
	code, out, errOut = redifx(t, nil, "token", "--sub", "alice", "--tenant", "acme", "--role", "root")
	if code == 0 || out != "" || !strings.Contains(errOut, `"root"`) || !strings.Contains(errOut, auth.RoleAdmin) {
		t.Errorf("unknown role: exit %d stdout %q stderr %q", code, out, errOut)
	}
	code, out, _ = redifx(t, nil, "token", "--sub", "alice", "--tenant", "acme", "--perm", strings.Join(knownPermissions, ","), "--role", "admin")
	if code != 0 || strings.Count(strings.TrimSpace(out), ".") != 2 {
		t.Errorf("every known permission: exit %d %q", code, out)
	}
}

// A tenant id that keys cannot carry is refused when minting, naming it, so a
// developer never holds a token the service would refuse.
func TestTokenRefusesTenantsKeysCannotCarry(t *testing.T) {
	for _, tenant := range []string{"a:b", "x{y}", "two words", strings.Repeat("t", 129)} {
		code, out, errOut := redifx(t, nil, "token", "--sub", "alice", "--tenant", tenant, "--perm", "jobs.read")
		if code == 0 || out != "" || !strings.Contains(errOut, "tenant") {
			t.Errorf("tenant %q: exit %d stdout %q stderr %q", tenant, code, out, errOut)
		}
	}
}

// In production the answer is auth.ErrMintRefused's, whatever else is wrong
// with the configuration.
func TestTokenInProductionRefusesBeforeOtherConfigurationErrors(t *testing.T) {
	dir := t.TempDir()
	prodFile := filepath.Join(dir, "prod.yaml")
	if err := os.WriteFile(prodFile, []byte("environment: production\nnot_a_key: 1\nredis:\n  port: many\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		env  []string
		args []string
	}{
		{"environment only", []string{"ENVIRONMENT=production"}, nil},
		{"with invalid settings", []string{"ENVIRONMENT=production", "REDIS__PORT=0", "LOG__LEVEL=chatty"}, nil},
		{"from the file", nil, []string{"--config", prodFile}},
		{"with an unreadable file", []string{"ENVIRONMENT=production"}, []string{"--config", filepath.Join(dir, "missing.yaml")}},
		{"with an unknown permission", []string{"ENVIRONMENT=production"}, []string{"--perm", "jobs.everything"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, out, errOut := redifx(t, tc.env, append([]string{"token", "--sub", "x", "--tenant", "t"}, tc.args...)...)
			if code != 1 || out != "" || strings.TrimSpace(errOut) != "redifx token: "+auth.ErrMintRefused.Error() {
				t.Errorf("exit %d stdout %q stderr %q", code, out, errOut)
			}
		})
	}
}

// serveUntilReady runs "redifx serve" with env until /health/ready answers
// 200 on port, then stops it with SIGTERM and returns its whole output.
func serveUntilReady(t *testing.T, port int, env ...string) string {
	t.Helper()
	cmd := exec.Command(bin, "serve")
	cmd.Env = append([]string{"PATH=" + os.Getenv("PATH")}, env...)
	out := &testutil.Buffer{}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	defer func() { _ = cmd.Process.Kill(); <-done }()
	client := &http.Client{Timeout: time.Second}
	deadline := time.Now().Add(20 * time.Second)
	for {
		resp, err := client.Get("http://127.0.0.1:" + strconv.Itoa(port) + "/health/ready")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				break
			}
		}
		select {
		case <-done:
			t.Fatalf("exited early:\n%s", out)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("not ready within 20s:\n%s", out)
		}
		time.Sleep(50 * time.Millisecond)
	}
	_ = cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-done:
	case <-time.After(15 * time.Second):
		t.Errorf("still running 15s after SIGTERM")
	}
	return out.String()
}

// make run (serve with the development defaults) prints no gin route table
// unless log.level is debug; an address reachable from other machines while
// the development secret is in use starts with a WARN, loopback does not.
func TestServeOutputAtDevelopmentDefaults(t *testing.T) {
	srv := redistest.Start(t)
	port := testutil.FreePort(t)
	out := serveUntilReady(t, port, "REDIS__URL="+srv.URL(), "HTTP__ADDR=:"+strconv.Itoa(port))
	if strings.Contains(out, "[GIN-debug]") || strings.Contains(out, "/health/ready") && strings.Contains(out, "-->") {
		t.Errorf("gin's debug output at log level info:\n%s", out)
	}
	if !strings.Contains(out, "reachable from other machines while tokens are checked against the public development secret") {
		t.Errorf("no WARN for an exposed development secret:\n%s", out)
	}

	port = testutil.FreePort(t)
	out = serveUntilReady(t, port, "REDIS__URL="+srv.URL(), "HTTP__ADDR=127.0.0.1:"+strconv.Itoa(port), "LOG__LEVEL=debug")
	if !strings.Contains(out, "[GIN-debug]") {
		t.Errorf("no gin debug output at log level debug:\n%s", out)
	}
	if strings.Contains(out, "reachable from other machines") {
		t.Errorf("WARN for a loopback address:\n%s", out)
	}
}

func TestConfigShowsTheLoopbackDefaultWithTheDevelopmentSecret(t *testing.T) {
	if code, out, errOut := redifx(t, nil, "config"); code != 0 || !strings.Contains(out, "addr: "+app.LoopbackAddr) {
		t.Errorf("exit %d\n%s%s", code, out, errOut)
	}
	if code, out, errOut := redifx(t, []string{"AUTH__JWT_SECRET=" + strings.Repeat("k", 32)}, "config"); code != 0 || !strings.Contains(out, `addr: :8080`) {
		t.Errorf("with a secret: exit %d\n%s%s", code, out, errOut)
	}
}

// redifx token's lifetime: at least a second and at most a year, as a Go
// duration or a number of seconds like the configuration's durations; a
// refusal says the flag and the bounds and prints no token.
func TestTokenTTLIsBounded(t *testing.T) {
	for _, ttl := range []string{"0", "-1h", "1ns", "999ms", "8761h", "1000000h", "2562047h", "1e400", "NaN", "Inf", "99999999999999999999", "1h1000000000h", "soon", ""} {
		code, out, errOut := redifx(t, nil, "token", "--sub", "alice", "--tenant", "acme", "--ttl", ttl)
		if code != 2 || out != "" || !strings.Contains(errOut, "ttl") {
			t.Errorf("--ttl %q: exit %d stdout %q stderr %q", ttl, code, out, errOut)
		}
	}
	for _, ttl := range []string{"1s", "90", "1.5", "10m", "8760h"} {
		code, out, errOut := redifx(t, nil, "token", "--sub", "alice", "--tenant", "acme", "--ttl", ttl)
		if code != 0 || strings.Count(strings.TrimSpace(out), ".") != 2 {
			t.Errorf("--ttl %q: exit %d stdout %q stderr %q", ttl, code, out, errOut)
		}
	}
}

// --perm and --role may be repeated (every item counts, none is dropped) and
// hold lists with spaces and empty items; a blank subject is refused.
func TestTokenListFlagsAccumulate(t *testing.T) {
	code, out, errOut := redifx(t, nil, "token", "--sub", "alice", "--tenant", "acme",
		"--perm", "jobs.read", "--perm", " jobs.write , ,realtime.read,", "--role", "admin", "--role", "")
	if code != 0 {
		t.Fatalf("exit %d %s", code, errOut)
	}
	parts := strings.Split(strings.TrimSpace(out), ".")
	payload, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	var claims struct {
		Permissions []string `json:"permissions"`
		Roles       []string `json:"roles"`
	}
	if err := json.Unmarshal(payload, &claims); err != nil {
		t.Fatal(err)
	}
	if strings.Join(claims.Permissions, ",") != "jobs.read,jobs.write,realtime.read" || strings.Join(claims.Roles, ",") != "admin" {
		t.Errorf("claims %+v", claims)
	}
	if code, _, errOut := redifx(t, nil, "token", "--sub", "alice", "--perm", "jobs.read", "--perm", "jobs.nope"); code != 2 || !strings.Contains(errOut, `"jobs.nope"`) {
		t.Errorf("a repeated unknown permission: exit %d %s", code, errOut)
	}
	for _, sub := range []string{" ", "a\tb", "a\nb"} {
		if code, out, errOut := redifx(t, nil, "token", "--sub", sub, "--tenant", "acme"); code == 0 || out != "" || !strings.Contains(errOut, "--sub") {
			t.Errorf("--sub %q: exit %d stdout %q stderr %q", sub, code, out, errOut)
		}
	}
}

// redifx healthcheck without --url probes where http.addr listens: loopback
// for every interface, else the address it names (it used to probe
// 127.0.0.1 always, failing a server bound to [::1] or to one interface).
func TestHealthcheckProbesTheListenAddress(t *testing.T) {
	for addr, want := range map[string]string{
		":8080": "127.0.0.1:8080", "0.0.0.0:8080": "127.0.0.1:8080", "[::]:8080": "127.0.0.1:8080",
		"127.0.0.1:8080": "127.0.0.1:8080", "[::1]:8080": "[::1]:8080", "10.1.2.3:8080": "10.1.2.3:8080",
		"localhost:8080": "localhost:8080",
	} {
		if got := probeAddr(addr); got != want {
			t.Errorf("%s: %s, want %s", addr, got, want)
		}
	}
	ln, err := net.Listen("tcp", "[::1]:0")
	if err != nil {
		t.Skip("no IPv6 loopback:", err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	_ = ln.Close()
	addr := "[::1]:" + strconv.Itoa(port)
	cmd := exec.Command(bin, "serve")
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HTTP__ADDR=" + addr, "REDIS__HOST=127.0.0.1", "REDIS__PORT=1", "REDIS__EMBEDDED_FALLBACK=false", "REDIS__STARTUP_WAIT=0"}
	out := &testutil.Buffer{}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	defer func() { _ = cmd.Process.Kill(); <-done }()
	deadline := time.Now().Add(20 * time.Second)
	for {
		code, stdout, stderr := redifx(t, []string{"HTTP__ADDR=" + addr}, "healthcheck")
		if code == 0 && strings.HasPrefix(stdout, "200 ") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("healthcheck: exit %d %s %s\nserver:\n%s", code, stdout, stderr, out)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
