package httpserver

import (
	"errors"
	"net/http"
	"strconv"
	"time"

	"github.com/gin-gonic/gin"
)

// ErrorBody is the JSON shape of every error response.
type ErrorBody struct {
	Error   string `json:"error"`
	Message string `json:"message"`
}

// Error aborts the request with status and {"error": code, "message": message}.
func Error(c *gin.Context, status int, code, message string) {
	c.AbortWithStatusJSON(status, ErrorBody{Error: code, Message: message})
}

// Unavailable aborts with 503, Retry-After and a JSON error: the answer while a
// dependency such as Redis is down.
func Unavailable(c *gin.Context, retryAfter time.Duration, message string) {
	secs := max(int(retryAfter.Round(time.Second)/time.Second), 1)
	c.Header("Retry-After", strconv.Itoa(secs))
	Error(c, http.StatusServiceUnavailable, "unavailable", message)
}

// BindJSON decodes the request body into v. On failure it answers 413 when the
// body is over the limit, else 400 naming the problem, and returns false.
func BindJSON(c *gin.Context, v any) bool {
	if err := c.ShouldBindJSON(v); err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			Error(c, http.StatusRequestEntityTooLarge, "body_too_large",
				"request body is larger than "+strconv.FormatInt(tooBig.Limit, 10)+" bytes")
			return false
		}
		Error(c, http.StatusBadRequest, "invalid_body", "request body is not valid JSON: "+err.Error())
		return false
	}
	return true
}
