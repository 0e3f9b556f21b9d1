package testutil

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"
)

// BuildRedifx builds the redifx binary (the module's main package) into a new
// temporary directory and returns its path and a function that removes the
// directory. For a TestMain, hence no testing.T.
func BuildRedifx() (bin string, cleanup func(), err error) {
	dir, err := os.MkdirTemp("", "redifx-bin")
	if err != nil {
		return "", nil, err
	}
	bin = filepath.Join(dir, "redifx")
	build := exec.Command("go", "build", "-o", bin, "github.com/redifx/redifx")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		_ = os.RemoveAll(dir)
		return "", nil, err
	}
	return bin, func() { _ = os.RemoveAll(dir) }, nil
}

// Buffer is a bytes.Buffer safe for concurrent use: a process's output while
// the test reads it.
type Buffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

// Write appends p.
func (s *Buffer) Write(p []byte) (int, error) { s.mu.Lock(); defer s.mu.Unlock(); return s.b.Write(p) }

// String returns what was written so far.
func (s *Buffer) String() string { s.mu.Lock(); defer s.mu.Unlock(); return s.b.String() }

// FreePort returns a loopback TCP port that was free a moment ago.
func FreePort(t testing.TB) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// Run runs bin with args and only PATH and env in its environment, for at
// most 20 s, and returns its exit code and output.
func Run(t testing.TB, bin string, env []string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Env = append([]string{"PATH=" + os.Getenv("PATH")}, env...)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	_ = cmd.Run()
	return cmd.ProcessState.ExitCode(), out.String(), errOut.String()
}

// RunWithBinary is a TestMain for tests of the binary: it builds redifx into
// *bin, runs the tests, checks for leaked goroutines when they pass, removes
// the binary and returns the exit code for os.Exit.
func RunWithBinary(m *testing.M, bin *string) int {
	b, cleanup, err := BuildRedifx()
	if err != nil {
		fmt.Fprintln(os.Stderr, "building redifx:", err)
		return 1
	}
	defer cleanup()
	*bin = b
	code := m.Run()
	if code == 0 {
		if err := goleak.Find(); err != nil {
			fmt.Fprintln(os.Stderr, "goleak:", err)
			code = 1
		}
	}
	return code
}
