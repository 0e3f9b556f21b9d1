package redistest

import (
	"errors"
	"os"
	"os/exec"
	"testing"
)

// requireEnv is the environment variable that, when set to "1", turns a
// missing redis-server binary into a test failure instead of a skip or an
// embedded fallback. Set it in CI where Redis must be installed.
const requireEnv = "REDIFX_REQUIRE_REDIS"

var errNoBinary = errors.New("redis-server not found on PATH")

// Available reports whether a redis-server binary is on PATH.
func Available() bool {
	_, err := exec.LookPath("redis-server")
	return err == nil
}

// RequireReal skips the test when redis-server is not installed, or fails
// it when REDIFX_REQUIRE_REDIS=1.
func RequireReal(t testing.TB) {
	t.Helper()
	requireReal(t, t.Name())
}

func requireReal(t testing.TB, what string) {
	t.Helper()
	if Available() {
		return
	}
	if requireEnvSet() {
		t.Fatalf("redis-server not installed (%s=1): %s", requireEnv, what)
	}
	t.Skipf("redis-server not installed: skipping %s", what)
}

func requireEnvSet() bool { return os.Getenv(requireEnv) == "1" }
