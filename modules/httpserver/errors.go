package httpserver

import (
	"net/http"
	"strconv"
	"time"

	"github.com/gin-gonic/gin"
	"go.uber.org/zap"
)

// ErrorBody is the JSON shape of every error response.
type ErrorBody struct {
	Error   string `json:"error"`
	Message string `json:"message"`
	// Field names the request field at fault, when there is one.
	Field string `json:"field,omitempty"`
}

// Error aborts the request with status and {"error": code, "message": message}.
func Error(c *gin.Context, status int, code, message string) {
	c.AbortWithStatusJSON(status, ErrorBody{Error: code, Message: message})
}

// FieldError aborts like Error, adding "field" when field is not empty.
func FieldError(c *gin.Context, status int, code, field, message string) {
	c.AbortWithStatusJSON(status, ErrorBody{Error: code, Message: message, Field: field})
}

// Unavailable aborts with 503, Retry-After and a JSON error: the answer while a
// dependency such as Redis is down.
func Unavailable(c *gin.Context, retryAfter time.Duration, message string) {
	secs := max(int(retryAfter.Round(time.Second)/time.Second), 1)
	c.Header("Retry-After", strconv.Itoa(secs))
	Error(c, http.StatusServiceUnavailable, "unavailable", message)
}

// Internal answers 500 for an error that is not the caller's and that retrying
// will not fix (a bug, a script's own error, a corrupt value), after logging it
// with the request ID so that an operator can find it; the answer names the
// request ID, never the error's text.
func Internal(c *gin.Context, log *zap.Logger, what string, err error) {
	if log != nil {
		log.Error("http.internal_error",
			zap.String("request_id", RequestID(c)),
			zap.String("method", c.Request.Method),
			zap.String("route", c.FullPath()),
			zap.String("what", what),
			zap.Error(err))
	}
	Error(c, http.StatusInternalServerError, "internal_error",
		what+" failed; the error was logged with request ID "+RequestID(c))
}
