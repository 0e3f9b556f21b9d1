package httpserver

import (
	"bufio"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"runtime/debug"
	"strings"
	"sync/atomic"
	"time"

	"github.com/gin-gonic/gin"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
)

// Middleware is a handler run before every route, at its Order: lower runs
// first (outermost). Fx's value groups have no order, hence the explicit one.
type Middleware struct {
	Name    string
	Order   int
	Handler gin.HandlerFunc
}

// Orders of the built-in middleware; place your own between them.
const (
	OrderRequestID = 100
	OrderAccessLog = 200
	OrderRecovery  = 300
	OrderBodyLimit = 400
)

// RequestIDHeader carries the request ID in and out.
const RequestIDHeader = "X-Request-ID"

const requestIDKey = "redifx.request_id"

// RequestID returns the request's ID.
func RequestID(c *gin.Context) string { return c.GetString(requestIDKey) }

// requestID accepts a sane incoming X-Request-ID or generates one, stores it and
// echoes it.
func requestID() gin.HandlerFunc {
	return func(c *gin.Context) {
		id := c.GetHeader(RequestIDHeader)
		if !validRequestID(id) {
			var b [16]byte
			_, _ = rand.Read(b[:])
			id = hex.EncodeToString(b[:])
		}
		c.Set(requestIDKey, id)
		c.Header(RequestIDHeader, id)
		c.Next()
	}
}

func validRequestID(id string) bool {
	if id == "" || len(id) > 128 {
		return false
	}
	for _, r := range id {
		if r <= ' ' || r > '~' {
			return false
		}
	}
	return true
}

// redactedQueryParams never reach the access log.
var redactedQueryParams = []string{"access_token", "token", "password"}

// RedactQuery returns path?query with sensitive parameters replaced by "***".
func RedactQuery(u *url.URL) string {
	if u.RawQuery == "" {
		return u.Path
	}
	q := u.Query()
	changed := false
	for _, p := range redactedQueryParams {
		if _, ok := q[p]; ok {
			q.Set(p, "***")
			changed = true
		}
	}
	raw := u.RawQuery
	if changed {
		raw = strings.ReplaceAll(q.Encode(), "%2A%2A%2A", "***")
	}
	return u.Path + "?" + raw
}

// accessLog logs each request once it has finished; health probes at debug.
func accessLog(log *zap.Logger) gin.HandlerFunc {
	return func(c *gin.Context) {
		start := time.Now()
		c.Next()
		level := zapcore.InfoLevel
		if strings.HasPrefix(c.Request.URL.Path, "/health") {
			level = zapcore.DebugLevel
		}
		if c.Writer.Status() >= 500 {
			level = zapcore.WarnLevel
		}
		if ce := log.Check(level, "http.request"); ce != nil {
			ce.Write(
				zap.String("request_id", RequestID(c)),
				zap.String("method", c.Request.Method),
				zap.String("path", RedactQuery(c.Request.URL)),
				zap.String("route", c.FullPath()),
				zap.Int("status", c.Writer.Status()),
				zap.Int("bytes", c.Writer.Size()),
				zap.Duration("duration", time.Since(start)),
				zap.String("client_ip", c.ClientIP()),
			)
		}
	}
}

// recovery turns a panic into a 500 JSON answer, logged with the request ID and
// counted; the process lives on.
func recovery(log *zap.Logger, panics *atomic.Uint64) gin.HandlerFunc {
	return func(c *gin.Context) {
		defer func() {
			p := recover()
			if p == nil {
				return
			}
			if p == http.ErrAbortHandler { //nolint:errorlint // sentinel compared as net/http does
				panic(p)
			}
			panics.Add(1)
			log.Error("http.panic",
				zap.String("request_id", RequestID(c)),
				zap.String("method", c.Request.Method),
				zap.String("route", c.FullPath()),
				zap.String("panic", fmt.Sprint(p)),
				zap.ByteString("stack", debug.Stack()))
			if c.Writer.Written() {
				c.Abort()
				return
			}
			Error(c, http.StatusInternalServerError, "internal_error",
				"internal server error (request ID "+RequestID(c)+")")
		}()
		c.Next()
	}
}

// bodyLimit answers 413 at once for a declared length over max, caps every
// body so that reading past max fails (see BindJSON), and gives a body
// readTimeout to arrive (0: no limit).
//
// The deadline is set only on a request that has a body: one without (an event
// stream's GET among them) is not limited, and net/http clears the deadline
// itself once the body has been read to its end, so a handler may run for as
// long as it needs afterwards. A connection taken over (Hijack) with its body
// unread has the deadline cleared too.
func bodyLimit(maxBytes int64, readTimeout time.Duration) gin.HandlerFunc {
	return func(c *gin.Context) {
		r := c.Request
		if r.Body == nil || r.Body == http.NoBody {
			c.Next()
			return
		}
		// First, so that whatever reads the body (a handler, or net/http
		// discarding what a handler left) waits for it no longer.
		if readTimeout > 0 && r.ContentLength != 0 {
			rc := http.NewResponseController(c.Writer)
			if rc.SetReadDeadline(time.Now().Add(readTimeout)) == nil {
				c.Writer = &deadlineWriter{ResponseWriter: c.Writer}
			}
		}
		if r.ContentLength > maxBytes {
			c.Header("Connection", "close") // the body is not read
			Error(c, http.StatusRequestEntityTooLarge, "body_too_large",
				fmt.Sprintf("request body is larger than %d bytes", maxBytes))
			return
		}
		r.Body = http.MaxBytesReader(c.Writer, r.Body, maxBytes)
		c.Next()
	}
}

// deadlineWriter clears the body's read deadline on a connection that a
// handler takes over, so that a long-lived response outlives it.
type deadlineWriter struct{ gin.ResponseWriter }

// Hijack takes the connection over without the read deadline.
func (w *deadlineWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	conn, rw, err := w.ResponseWriter.Hijack()
	if err == nil {
		_ = conn.SetReadDeadline(time.Time{})
	}
	return conn, rw, err
}

// Unwrap lets http.ResponseController reach the server's writer.
func (w *deadlineWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }
