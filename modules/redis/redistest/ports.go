package redistest

import (
	"fmt"
	"net"
	"sync"
)

// reserved holds the ports handed out by this process that are still owned
// by a live Server, so parallel tests in one binary never get the same port
// twice (the kernel may return a just-closed port again).
var (
	reservedMu sync.Mutex
	reserved   = map[int]bool{}
)

// defaultRedisPort is the port of a possibly running system Redis; it (and
// its cluster bus port) is never handed out.
const defaultRedisPort = 6379

// reservePort returns a currently free loopback TCP port and marks it as
// reserved for this process until releasePort is called.
func reservePort() (int, error) {
	for range 50 {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return 0, fmt.Errorf("redistest: find free port: %w", err)
		}
		port := l.Addr().(*net.TCPAddr).Port
		_ = l.Close()
		if port == defaultRedisPort || port == defaultRedisPort+10000 || port > 65535 {
			continue
		}
		reservedMu.Lock()
		taken := reserved[port]
		if !taken {
			reserved[port] = true
		}
		reservedMu.Unlock()
		if !taken {
			return port, nil
		}
	}
	return 0, fmt.Errorf("redistest: no free port found")
}

// releasePort makes port available to reservePort again.
func releasePort(ports ...int) {
	reservedMu.Lock()
	defer reservedMu.Unlock()
	for _, p := range ports {
		delete(reserved, p)
	}
}
