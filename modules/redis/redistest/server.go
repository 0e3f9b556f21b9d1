package redistest

import (
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"
)

const (
	// startTimeout bounds how long a server may take to answer PING.
	startTimeout = 10 * time.Second
	// stopTimeout bounds a graceful stop before the process is killed.
	stopTimeout = 10 * time.Second
	// pollInterval is the pause between readiness probes.
	pollInterval = 20 * time.Millisecond
	// portAttempts is how often a fresh start retries with new ports when
	// another process grabbed a port between picking and binding it.
	portAttempts = 6
)

var errAddrInUse = errors.New("address already in use")

type mode int

const (
	modeData mode = iota
	modeCluster
	modeSentinel
)

func (m mode) String() string {
	switch m {
	case modeCluster:
		return "redis-server (cluster node)"
	case modeSentinel:
		return "redis-server (sentinel)"
	}
	return "redis-server"
}

// Server is a Redis server started for a test: a real redis-server process
// or, when [Start] falls back or [StartEmbedded] is used, an embedded
// miniredis. All methods are safe for concurrent use; failures are reported
// through the testing.TB passed when the server was started.
type Server struct {
	t        testing.TB // nil for internal probes
	o        *options
	mode     mode
	dir      string
	confPath string
	logPath  string
	host     string
	port     int
	busPort  int             // cluster bus port (cluster nodes only)
	sentinel *sentinelConfig // sentinel nodes only
	tlsCfg   *tls.Config     // client config for probes, nil without TLS

	mu     sync.Mutex
	proc   *proc
	mini   *miniredis.Miniredis
	closed bool
}

// proc is one run of a redis-server process.
type proc struct {
	cmd  *exec.Cmd
	done chan struct{} // closed once Wait returned
	err  error         // Wait result, valid after done is closed
}

// Start starts a redis-server on 127.0.0.1 and a free port (no persistence,
// data directory in t.TempDir()) and waits until it answers PING. With
// [WithReplicaOf] it also waits until the replication link is up. The
// server is stopped when the test ends.
//
// If redis-server is not installed, Start logs that and returns an embedded
// miniredis instead; with REDIFX_REQUIRE_REDIS=1 it fails the test. Options
// only a real server supports (TLS, ACL user, replication, extra args) make
// it skip the test as [RequireReal] does.
func Start(t testing.TB, opts ...Option) *Server {
	t.Helper()
	o := buildOptions(opts)
	if !Available() {
		if requireEnvSet() {
			t.Fatalf("redis-server not installed (%s=1): %s", requireEnv, t.Name())
		}
		if why := o.realOnly(); why != "" {
			requireReal(t, t.Name()+" (needs "+why+")")
		}
		t.Log("redistest: redis-server not installed; using embedded miniredis")
		return startEmbedded(t, o)
	}
	if o.tls != nil && !TLSSupported() {
		t.Fatalf("redistest: WithTLS: the installed redis-server has no TLS support (check TLSSupported first)")
	}
	s := startServer(t, o, modeData, nil)
	if o.replicaOf != nil {
		err := s.waitFor(startTimeout, func() error {
			info, err := s.info("replication")
			if err != nil {
				return err
			}
			if st := infoField(info, "master_link_status"); st != "up" {
				return fmt.Errorf("master_link_status:%s", st)
			}
			return nil
		})
		if err != nil {
			t.Fatalf("redistest: replica %s of %s: link not up: %v\n%s", s.Addr(), o.replicaOf.Addr(), err, s.logTail(0))
		}
	}
	return s
}

// StartEmbedded starts an embedded miniredis on 127.0.0.1 and a free port,
// whether or not redis-server is installed. Only [WithPassword] is
// supported. Unlike a real server, data survives Stop/Kill and Restart.
func StartEmbedded(t testing.TB, opts ...Option) *Server {
	t.Helper()
	o := buildOptions(opts)
	if why := o.realOnly(); why != "" {
		t.Fatalf("redistest: the embedded server does not support %s", why)
	}
	return startEmbedded(t, o)
}

func startEmbedded(t testing.TB, o *options) *Server {
	t.Helper()
	m := miniredis.NewMiniRedis()
	if o.password != "" {
		m.RequireAuth(o.password)
	}
	if err := m.Start(); err != nil {
		t.Fatalf("redistest: start miniredis: %v", err)
	}
	port, _ := strconv.Atoi(m.Port())
	reservedMu.Lock()
	reserved[port] = true
	reservedMu.Unlock()
	s := &Server{t: t, o: o, host: "127.0.0.1", port: port, mini: m}
	t.Cleanup(s.shutdown)
	return s
}

// startServer starts a real server process for t and registers its cleanup.
func startServer(t testing.TB, o *options, m mode, sc *sentinelConfig) *Server {
	t.Helper()
	s, err := newServer(o, m, t.TempDir())
	if err != nil {
		t.Fatalf("redistest: %v", err)
	}
	s.t = t
	s.sentinel = sc
	t.Cleanup(s.shutdown)
	if err := s.startFresh(startTimeout); err != nil {
		t.Fatalf("redistest: start %s: %v", m, err)
	}
	t.Logf("redistest: %s listening on %s (dir %s)", m, s.Addr(), s.dir)
	return s
}

// startReal starts a server without a testing.TB; the caller must call
// shutdown.
func startReal(o *options, m mode, dir string, timeout time.Duration) (*Server, error) {
	s, err := newServer(o, m, dir)
	if err != nil {
		return nil, err
	}
	if err := s.startFresh(timeout); err != nil {
		return nil, err
	}
	return s, nil
}

func newServer(o *options, m mode, dir string) (*Server, error) {
	s := &Server{
		o:       o,
		mode:    m,
		dir:     dir,
		host:    "127.0.0.1",
		logPath: filepath.Join(dir, "redis.log"),
	}
	s.confPath = filepath.Join(dir, "redis.conf")
	if m == modeSentinel {
		s.confPath = filepath.Join(dir, "sentinel.conf")
	}
	if o.tls != nil {
		cfg, err := o.tls.clientConfig()
		if err != nil {
			return nil, fmt.Errorf("TLS client config: %w", err)
		}
		s.tlsCfg = cfg
	}
	return s, nil
}

// startFresh picks free ports, writes the config file and launches the
// process, retrying with new ports when one was taken in the meantime.
func (s *Server) startFresh(timeout time.Duration) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	var err error
	for range portAttempts {
		if s.port, err = reservePort(); err != nil {
			return err
		}
		if s.mode == modeCluster {
			if s.busPort, err = reservePort(); err != nil {
				releasePort(s.port)
				return err
			}
		}
		if err = os.WriteFile(s.confPath, []byte(s.config()), 0o600); err != nil {
			return err
		}
		if err = s.launch(timeout); err == nil {
			return nil
		}
		releasePort(s.port, s.busPort)
		s.port, s.busPort = 0, 0
		if !errors.Is(err, errAddrInUse) {
			return err
		}
	}
	return err
}

// config renders the redis.conf / sentinel.conf for the current ports.
func (s *Server) config() string {
	var b strings.Builder
	line := func(args ...string) {
		b.WriteString(strings.Join(args, " "))
		b.WriteByte('\n')
	}
	o := s.o
	line("bind", "127.0.0.1")
	if o.tls != nil {
		line("port", "0")
		line("tls-port", strconv.Itoa(s.port))
		line("tls-cert-file", confQuote(o.tls.CertFile))
		line("tls-key-file", confQuote(o.tls.KeyFile))
		line("tls-ca-cert-file", confQuote(o.tls.CAFile))
		if o.tls.RequireClientCert {
			line("tls-auth-clients", "yes")
		} else {
			line("tls-auth-clients", "optional")
		}
		line("tls-replication", "yes")
		if s.mode == modeCluster {
			line("tls-cluster", "yes")
		}
	} else {
		line("port", strconv.Itoa(s.port))
	}
	line("dir", confQuote(s.dir))
	line("daemonize", "no")
	line("logfile", `""`)

	if s.mode == modeSentinel {
		sc := s.sentinel
		line("sentinel", "monitor", confQuote(sc.name), sc.master.host, strconv.Itoa(sc.master.port), strconv.Itoa(sc.quorum))
		line("sentinel", "down-after-milliseconds", confQuote(sc.name), "1000")
		line("sentinel", "failover-timeout", confQuote(sc.name), "2000")
		line("sentinel", "parallel-syncs", confQuote(sc.name), "1")
		if sc.authPass != "" {
			line("sentinel", "auth-pass", confQuote(sc.name), confQuote(sc.authPass))
		}
		return b.String()
	}

	line("save", `""`)
	line("appendonly", "no")
	line("shutdown-timeout", "0")
	line("repl-diskless-sync-delay", "0")
	if o.password != "" {
		line("requirepass", confQuote(o.password))
	}
	if o.aclUser != "" {
		line("user", confQuote(o.aclUser), "on", confQuote(">"+o.aclPass), "~*", "&*", "+@all")
	}
	masterAuth := o.password
	if m := o.replicaOf; m != nil {
		line("replicaof", m.host, strconv.Itoa(m.port))
		masterAuth = m.o.password
		if mt := m.o.tls; mt != nil && o.tls == nil {
			// Replicate over TLS, presenting the master's certificate.
			line("tls-replication", "yes")
			line("tls-cert-file", confQuote(mt.CertFile))
			line("tls-key-file", confQuote(mt.KeyFile))
			line("tls-ca-cert-file", confQuote(mt.CAFile))
		}
	}
	if masterAuth != "" {
		line("masterauth", confQuote(masterAuth))
	}
	if s.mode == modeCluster {
		line("cluster-enabled", "yes")
		line("cluster-config-file", confQuote(filepath.Join(s.dir, "nodes.conf")))
		line("cluster-port", strconv.Itoa(s.busPort))
		line("cluster-node-timeout", "2000")
	}
	return b.String()
}

// confQuote quotes v for a redis config file.
func confQuote(v string) string {
	var b strings.Builder
	b.WriteByte('"')
	for i := 0; i < len(v); i++ {
		c := v[i]
		switch {
		case c == '"' || c == '\\':
			b.WriteByte('\\')
			b.WriteByte(c)
		case c < 0x20 || c >= 0x7f:
			fmt.Fprintf(&b, "\\x%02x", c)
		default:
			b.WriteByte(c)
		}
	}
	b.WriteByte('"')
	return b.String()
}

// launch starts the process with the existing config file and waits until
// it answers. Must be called with s.mu held.
func (s *Server) launch(timeout time.Duration) error {
	logf, err := os.OpenFile(s.logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return err
	}
	var logOffset int64
	if fi, err := logf.Stat(); err == nil {
		logOffset = fi.Size()
	}
	args := []string{s.confPath}
	if s.mode == modeSentinel {
		args = append(args, "--sentinel")
	} else {
		args = append(args, s.o.args...)
	}
	cmd := exec.Command("redis-server", args...)
	cmd.Dir = s.dir
	cmd.Stdout = logf
	cmd.Stderr = logf
	setProcAttr(cmd)
	err = cmd.Start()
	_ = logf.Close() // the child has its own copy
	if err != nil {
		return err
	}
	p := &proc{cmd: cmd, done: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		close(p.done)
	}()

	pid := strconv.Itoa(cmd.Process.Pid)
	deadline := time.Now().Add(timeout)
	var probeErr error
	for {
		select {
		case <-p.done:
			tail := s.logTail(logOffset)
			if strings.Contains(tail, "Address already in use") {
				return fmt.Errorf("%w (port %d): %v\n%s", errAddrInUse, s.port, p.err, tail)
			}
			return fmt.Errorf("%s exited during startup: %v\n--- log tail ---\n%s", s.mode, p.err, tail)
		default:
		}
		// Compare process_id so a foreign server that happens to own the
		// port is never mistaken for ours.
		info, err := s.info("server")
		if err == nil && infoField(info, "process_id") != pid {
			err = fmt.Errorf("port %d is served by another process (pid %s)", s.port, infoField(info, "process_id"))
		}
		if err == nil {
			s.proc = p
			return nil
		}
		probeErr = err
		if time.Now().After(deadline) {
			stopProc(p, false)
			return fmt.Errorf("%s on %s not ready after %v: %v\n--- log tail ---\n%s", s.mode, s.Addr(), timeout, probeErr, s.logTail(logOffset))
		}
		time.Sleep(pollInterval)
	}
}

// logTail returns the last lines the process logged after offset.
func (s *Server) logTail(offset int64) string {
	f, err := os.Open(s.logPath)
	if err != nil {
		return "(no log: " + err.Error() + ")"
	}
	defer f.Close()
	const maxTail = 4096
	if fi, err := f.Stat(); err == nil && fi.Size()-offset > maxTail {
		offset = fi.Size() - maxTail
	}
	if _, err := f.Seek(offset, io.SeekStart); err != nil {
		return "(log: " + err.Error() + ")"
	}
	b, _ := io.ReadAll(f)
	return strings.TrimSpace(string(b))
}

// stopProc ends p (SIGTERM, or SIGKILL when graceful is false or the
// process does not exit in time) and waits for it.
func stopProc(p *proc, graceful bool) {
	if graceful {
		if err := p.cmd.Process.Signal(syscall.SIGTERM); err == nil {
			select {
			case <-p.done:
				return
			case <-time.After(stopTimeout):
			}
		}
	}
	_ = p.cmd.Process.Kill()
	<-p.done
}

// dial opens an authenticated probe connection.
func (s *Server) dial(timeout time.Duration) (*respConn, error) {
	c, err := dialRESP(s.Addr(), s.tlsCfg, timeout)
	if err != nil {
		return nil, err
	}
	if s.mode != modeSentinel && s.o.password != "" {
		if _, err := c.do("AUTH", s.o.password); err != nil {
			_ = c.Close()
			return nil, err
		}
	}
	return c, nil
}

// command runs one command on a fresh probe connection.
func (s *Server) command(args ...string) (any, error) {
	c, err := s.dial(2 * time.Second)
	if err != nil {
		return nil, err
	}
	defer c.Close()
	return c.do(args...)
}

func (s *Server) info(section string) (string, error) {
	v, err := s.command("INFO", section)
	if err != nil {
		return "", err
	}
	str, ok := v.(string)
	if !ok {
		return "", fmt.Errorf("unexpected INFO reply %T", v)
	}
	return str, nil
}

// waitFor polls cond until it returns nil or timeout passes.
func (s *Server) waitFor(timeout time.Duration, cond func() error) error {
	deadline := time.Now().Add(timeout)
	for {
		err := cond()
		if err == nil {
			return nil
		}
		if time.Now().After(deadline) {
			return err
		}
		time.Sleep(pollInterval)
	}
}

// Addr returns the "127.0.0.1:port" address clients connect to (the TLS
// port when TLS is enabled).
func (s *Server) Addr() string { return net.JoinHostPort(s.host, strconv.Itoa(s.port)) }

// Host returns the listening host, always "127.0.0.1".
func (s *Server) Host() string { return s.host }

// Port returns the listening port; it stays the same across Restart.
func (s *Server) Port() int { return s.port }

// Embedded reports whether the server is an embedded miniredis rather than
// a redis-server process.
func (s *Server) Embedded() bool { return s.mini != nil }

// URL returns a redis:// (or, with TLS, rediss://) URL for the server,
// including the password if one is set. A rediss:// URL alone does not
// trust the test CA; use [TLSFiles.ClientConfig] for that.
func (s *Server) URL() string {
	u := url.URL{Scheme: "redis", Host: s.Addr()}
	if s.o.tls != nil {
		u.Scheme = "rediss"
	}
	if s.o.password != "" && s.mode != modeSentinel {
		u.User = url.UserPassword("", s.o.password)
	}
	return u.String()
}

// Client returns a go-redis client for the server, using its password and
// TLS configuration. The client is closed when the test ends.
func (s *Server) Client(t testing.TB) *redis.Client {
	t.Helper()
	opt := &redis.Options{Addr: s.Addr()}
	if s.mode != modeSentinel {
		opt.Password = s.o.password
	}
	if s.o.tls != nil {
		opt.TLSConfig = s.o.tls.ClientConfig(t)
	}
	c := redis.NewClient(opt)
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// Flush deletes all keys (FLUSHALL).
func (s *Server) Flush(t testing.TB) {
	t.Helper()
	if _, err := s.command("FLUSHALL"); err != nil {
		t.Fatalf("redistest: FLUSHALL on %s: %v", s.Addr(), err)
	}
}

// Stop shuts the server down gracefully (SIGTERM without saving) and waits
// for the process to exit. The port stays reserved for Restart. Stopping a
// stopped server does nothing.
func (s *Server) Stop() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.stopLocked(true)
}

// Kill stops the server abruptly (SIGKILL) and waits for the process to
// exit. Killing a stopped server does nothing.
func (s *Server) Kill() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.stopLocked(false)
}

func (s *Server) stopLocked(graceful bool) {
	if s.mini != nil {
		s.mini.Close()
		return
	}
	if s.proc != nil {
		stopProc(s.proc, graceful)
		s.proc = nil
	}
}

// Restart starts a stopped or killed server again on the same port with the
// same options (stopping it first if it is running), retrying while the
// port is briefly busy, and waits until it answers PING. A real server
// comes back empty (no persistence); an embedded one keeps its data.
func (s *Server) Restart() {
	if s.t != nil {
		s.t.Helper()
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		s.fatalf("redistest: Restart of %s after the test ended", s.Addr())
		return
	}
	s.stopLocked(true)
	deadline := time.Now().Add(startTimeout)
	for {
		var err error
		if s.mini != nil {
			err = s.mini.Restart()
		} else {
			err = s.launch(time.Until(deadline))
		}
		if err == nil {
			return
		}
		busy := errors.Is(err, errAddrInUse) || (s.mini != nil && errors.Is(err, syscall.EADDRINUSE))
		if !busy || time.Now().After(deadline) {
			s.fatalf("redistest: restart %s on %s: %v", s.mode, s.Addr(), err)
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func (s *Server) fatalf(format string, args ...any) {
	if s.t == nil {
		panic(fmt.Sprintf(format, args...))
	}
	s.t.Helper()
	s.t.Fatalf(format, args...)
}

// shutdown stops the server for good and releases its ports.
func (s *Server) shutdown() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return
	}
	s.closed = true
	s.stopLocked(true)
	releasePort(s.port, s.busPort)
}
