package httpserver

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
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

// bodyLimit answers 413 at once for a declared length over max, and caps
// every body so that reading past max fails (see BindJSON).
func bodyLimit(maxBytes int64) gin.HandlerFunc {
	return func(c *gin.Context) {
		if c.Request.ContentLength > maxBytes {
			Error(c, http.StatusRequestEntityTooLarge, "body_too_large",
				fmt.Sprintf("request body is larger than %d bytes", maxBytes))
			return
		}
		if c.Request.Body != nil {
			c.Request.Body = http.MaxBytesReader(c.Writer, c.Request.Body, maxBytes)
		}
		c.Next()
	}
}
