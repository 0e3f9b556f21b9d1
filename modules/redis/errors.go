package redis

import (
	"context"
	"errors"
	"io"
	"net"
	"strings"
	"syscall"

	goredis "github.com/redis/go-redis/v9"
)

// Conditions: why Redis cannot serve a command right now. Each is a state of
// the server or of the connection to it, so the same command can succeed
// later: callers answer 503 with Retry-After and name the condition.
const (
	CondUnreachable = "unreachable" // no connection: refused, reset, timed out, pool exhausted, client closed
	CondOOM         = "OOM"         // maxmemory reached with a noeviction policy: writes are refused
	CondReadOnly    = "READONLY"    // the server is a replica (a failover is under way)
	CondLoading     = "LOADING"     // the server is loading its dataset after a restart
	CondBusy        = "BUSY"        // a script or function is running too long
	CondMasterDown  = "MASTERDOWN"  // a replica lost its master and serves no stale data
	CondClusterDown = "CLUSTERDOWN" // the cluster cannot serve the hash slot
	CondTryAgain    = "TRYAGAIN"    // the cluster is moving the keys' slot
	CondMaxClients  = "MAXCLIENTS"  // the server has reached maxclients
	CondNoReplicas  = "NOREPLICAS"  // not enough replicas acknowledged a write
	CondMisconf     = "MISCONF"     // the server cannot persist (a failed snapshot with stop-writes-on-bgsave-error)
)

// serverConditions maps the prefix of a Redis error reply to its condition.
var serverConditions = []struct{ prefix, cond string }{
	{"OOM", CondOOM},
	{"READONLY", CondReadOnly},
	{"LOADING", CondLoading},
	{"BUSY", CondBusy},
	{"MASTERDOWN", CondMasterDown},
	{"CLUSTERDOWN", CondClusterDown},
	{"TRYAGAIN", CondTryAgain},
	{"NOREPLICAS", CondNoReplicas},
	{"MISCONF", CondMisconf},
	// A command refused for the connection's credentials or the ACL user's
	// permissions (a password rotated while running, a user disabled): the
	// deployment's settings, never the caller's fault, and never a bug.
	{"NOAUTH", CondRefused},
	{"WRONGPASS", CondRefused},
	{"NOPERM", CondRefused},
	{"ERR max number of clients", CondMaxClients},
	{"max number of clients", CondMaxClients},
}

// UnavailableError reports that Redis could not serve a command because of a
// condition that is expected to pass. It wraps ErrUnavailable and the cause.
type UnavailableError struct {
	Condition string // one of the Cond… constants
	Err       error  // the cause
}

// Error implements error.
func (e *UnavailableError) Error() string {
	return ErrUnavailable.Error() + " (" + e.Condition + "): " + e.Err.Error()
}

// Unwrap lets errors.Is find ErrUnavailable and the cause.
func (e *UnavailableError) Unwrap() []error { return []error{ErrUnavailable, e.Err} }

// Condition returns the condition err reports and true when err means that
// Redis cannot serve commands right now (a server condition such as OOM or
// LOADING, or no usable connection), and "", false otherwise: nil, a cancelled
// context, and errors a command or script caused itself (WRONGTYPE, an overflow,
// a bad argument, NOSCRIPT), which retrying would not fix.
func Condition(err error) (string, bool) {
	if err == nil || errors.Is(err, context.Canceled) {
		return "", false
	}
	var ue *UnavailableError
	if errors.As(err, &ue) {
		return ue.Condition, true
	}
	if errors.Is(err, ErrUnavailable) {
		return CondUnreachable, true
	}
	// A reply from the server: a condition, or the command's own error. A
	// script's error keeps the prefix of the command that failed inside it
	// ("OOM command not allowed … script: …") or carries it after "ERR ".
	var re goredis.Error
	if errors.As(err, &re) {
		msg := strings.TrimPrefix(re.Error(), "ERR ")
		for _, c := range serverConditions {
			if strings.HasPrefix(msg, c.prefix) {
				return c.cond, true
			}
		}
		// Redis 7 reports an error of a command inside a script as
		// "ERR Error running script …: <reply>" on some versions.
		if i := strings.Index(msg, ": -"); i >= 0 {
			inner := msg[i+3:]
			for _, c := range serverConditions {
				if strings.HasPrefix(inner, c.prefix) {
					return c.cond, true
				}
			}
		}
		return "", false
	}
	// Everything else is about the connection.
	var ne net.Error
	switch {
	case errors.Is(err, context.DeadlineExceeded),
		errors.Is(err, goredis.ErrClosed),
		errors.Is(err, goredis.ErrPoolTimeout),
		errors.Is(err, goredis.ErrPoolExhausted),
		errors.Is(err, io.EOF),
		errors.Is(err, io.ErrUnexpectedEOF),
		errors.Is(err, syscall.ECONNREFUSED),
		errors.Is(err, syscall.ECONNRESET),
		errors.Is(err, syscall.EPIPE),
		errors.As(err, &ne):
		return CondUnreachable, true
	}
	var oe *net.OpError
	if errors.As(err, &oe) {
		return CondUnreachable, true
	}
	return "", false
}

// Classify returns err wrapped in an *UnavailableError when it reports a
// condition (see Condition), so that errors.Is(err, ErrUnavailable) holds, and
// err unchanged otherwise.
func Classify(err error) error {
	cond, ok := Condition(err)
	if !ok {
		return err
	}
	var ue *UnavailableError
	if errors.As(err, &ue) {
		return err
	}
	return &UnavailableError{Condition: cond, Err: err}
}

// Describe returns a short human sentence naming the condition behind an
// unavailable error, for the message of a 503: it never says "down" when Redis
// answered. It returns "Redis is unavailable" for errors without a condition.
func Describe(err error) string {
	cond, _ := Condition(err)
	switch cond {
	case CondUnreachable:
		var ne net.Error
		if errors.Is(err, context.DeadlineExceeded) || errors.As(err, &ne) && ne.Timeout() {
			// Connected or not, nothing came back in time: say so rather
			// than claim that Redis cannot be reached.
			return "Redis did not answer in time (too slow or unreachable)"
		}
		return "Redis is unreachable"
	case CondOOM:
		return "Redis is out of memory (OOM): writes are refused until memory is freed"
	case CondReadOnly:
		return "Redis is read-only (READONLY): a failover is under way"
	case CondLoading:
		return "Redis is loading its data (LOADING)"
	case CondBusy:
		return "Redis is busy running a script (BUSY)"
	case CondMasterDown:
		return "the Redis replica lost its master (MASTERDOWN)"
	case CondClusterDown:
		return "the Redis cluster cannot serve the data (CLUSTERDOWN)"
	case CondTryAgain:
		return "the Redis cluster is moving the data (TRYAGAIN)"
	case CondMaxClients:
		return "Redis has too many clients (max number of clients reached)"
	case CondNoReplicas:
		return "not enough Redis replicas acknowledged the write (NOREPLICAS)"
	case CondMisconf:
		return "Redis cannot save its data to disk and refuses writes (MISCONF)"
	case CondRefused:
		return "Redis refuses this service's credentials or settings (see /health/redis)"
	}
	return "Redis is unavailable"
}
