package auth

import (
	"errors"
	"net/http"
	"slices"
	"strings"

	"github.com/gin-gonic/gin"
	"github.com/redifx/redifx/modules/httpserver"
	"github.com/redifx/redifx/modules/redis/keyspace"
	"go.uber.org/zap"
)

// ErrMalformedHeader is returned by ParseBearer for anything but
// "Bearer <token>".
var ErrMalformedHeader = errors.New("authorization header is not \"Bearer <token>\"")

// maxTokenBytes bounds a token; real ones are far smaller.
const maxTokenBytes = 8 << 10

// ParseBearer extracts the token of an "Authorization: Bearer <token>" header.
// The scheme is case-insensitive; the token must be non-empty token68 text.
func ParseBearer(header string) (string, error) {
	scheme, token, ok := strings.Cut(header, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return "", ErrMalformedHeader
	}
	token = strings.TrimLeft(token, " ")
	if !wellFormedToken(token) {
		return "", ErrMalformedHeader
	}
	return token, nil
}

// ErrMalformedQueryToken is returned for an access_token parameter that the
// Authorization header would not accept either.
var ErrMalformedQueryToken = errors.New("access_token is not a token")

// wellFormedToken reports whether token is non-empty token68 text of at most
// maxTokenBytes: the rule for a token wherever it comes from.
func wellFormedToken(token string) bool {
	if token == "" || len(token) > maxTokenBytes {
		return false
	}
	trailing := false
	for i := 0; i < len(token); i++ {
		ch := token[i]
		switch {
		case ch == '=':
			trailing = true // padding only at the end
		case trailing:
			return false
		case ch >= 'a' && ch <= 'z', ch >= 'A' && ch <= 'Z', ch >= '0' && ch <= '9',
			ch == '-', ch == '.', ch == '_', ch == '~', ch == '+', ch == '/':
		default:
			return false
		}
	}
	return true
}

// AccessTokenParam is the query parameter that streaming GET routes accept
// instead of the header, for browsers' EventSource.
const AccessTokenParam = "access_token"

// Authenticator is the HTTP side of a Verifier.
type Authenticator struct {
	v   *Verifier
	log *zap.Logger
}

// NewAuthenticator wraps v; log receives rejections at debug level.
func NewAuthenticator(v *Verifier, log *zap.Logger) *Authenticator {
	if log == nil {
		log = zap.NewNop()
	}
	return &Authenticator{v: v, log: log.Named("auth")}
}

// Verifier returns the underlying verifier.
func (a *Authenticator) Verifier() *Verifier { return a.v }

const callerGinKey = "redifx.auth.caller"

// CallerOf returns the request's caller, or nil before authentication.
func CallerOf(c *gin.Context) *Caller {
	if v, ok := c.Get(callerGinKey); ok {
		return v.(*Caller)
	}
	return nil
}

// Authenticate requires a valid bearer token in the Authorization header and
// stores the caller; otherwise 401.
func (a *Authenticator) Authenticate() gin.HandlerFunc { return a.chain(false, nil) }

// AuthenticateStream is Authenticate for GET streaming routes: it also accepts
// the token from the access_token query parameter, on GET only. The access log
// redacts that parameter; proxies must too.
func (a *Authenticator) AuthenticateStream() gin.HandlerFunc { return a.chain(true, nil) }

// Require authenticates and then checks perms (see the package-level Require).
func (a *Authenticator) Require(perms ...string) gin.HandlerFunc {
	return a.chain(false, append([]string{}, perms...))
}

// RequireStream is Require with AuthenticateStream.
func (a *Authenticator) RequireStream(perms ...string) gin.HandlerFunc {
	return a.chain(true, append([]string{}, perms...))
}

// chain authenticates, then (when perms is not nil) authorises, then calls the
// rest of the chain; it aborts at the first failure.
func (a *Authenticator) chain(stream bool, perms []string) gin.HandlerFunc {
	return func(c *gin.Context) {
		if !a.identify(c, stream) {
			return
		}
		if perms != nil && !authorize(c, perms) {
			return
		}
		c.Next()
	}
}

// identify verifies the request's token and stores its caller, or answers 401.
func (a *Authenticator) identify(c *gin.Context, stream bool) bool {
	var raw string
	var err error
	header := c.GetHeader("Authorization")
	if values := c.Request.Header.Values("Authorization"); len(values) > 1 && slices.ContainsFunc(values[1:], func(v string) bool { return v != values[0] }) {
		// Authorization is a singleton field; of two different tokens,
		// which one would count is not for the server to guess.
		c.Header("WWW-Authenticate", `Bearer realm="redifx", error="invalid_request"`)
		c.AbortWithStatusJSON(http.StatusBadRequest, gin.H{"error": "invalid_request",
			"message": "the Authorization header is given more than once with different values; send one token", "field": "Authorization"})
		return false
	}
	var query []string
	if stream && c.Request.Method == http.MethodGet {
		query, _ = c.GetQueryArray(AccessTokenParam)
	}
	switch {
	case header != "":
		// The header counts, even when access_token is given too (as
		// documented).
		raw, err = ParseBearer(header)
	case len(query) > 1:
		// Which of two tokens would count is not for the server to guess
		// (RFC 6750 §2: one token, sent once).
		c.Header("WWW-Authenticate", `Bearer realm="redifx", error="invalid_request"`)
		c.AbortWithStatusJSON(http.StatusBadRequest, gin.H{"error": "invalid_request",
			"message": "access_token is given more than once; send one token", "field": AccessTokenParam})
		return false
	case len(query) == 1:
		raw = query[0]
		if !wellFormedToken(raw) {
			err = ErrMalformedQueryToken
		}
	default:
		err = errors.New("no bearer token")
	}
	var caller *Caller
	if err == nil {
		caller, err = a.v.Verify(raw)
	}
	if err != nil {
		a.log.Debug("auth.rejected", zap.String("request_id", httpserver.RequestID(c)), zap.String("reason", err.Error()))
		c.Header("WWW-Authenticate", `Bearer realm="redifx"`)
		var idErr *keyspace.IDError
		if errors.As(err, &idErr) {
			// The token is genuine but names a tenant that keys cannot
			// carry: say which claim, not its value.
			c.AbortWithStatusJSON(http.StatusUnauthorized, gin.H{"error": "unauthorized",
				"message": "invalid bearer token: its " + idErr.Error(), "field": idErr.Field})
			return false
		}
		httpserver.Error(c, http.StatusUnauthorized, "unauthorized", "missing or invalid bearer token")
		return false
	}
	c.Set(callerGinKey, caller)
	c.Request = c.Request.WithContext(WithCaller(c.Request.Context(), caller))
	return true
}

// Require answers 401 when the request has no authenticated caller, 403 when
// the caller's token has no tenant (every tenant-scoped route needs one) or
// lacks one of perms. Use it after Authenticate.
func Require(perms ...string) gin.HandlerFunc {
	if perms == nil {
		perms = []string{}
	}
	return func(c *gin.Context) {
		if authorize(c, perms) {
			c.Next()
		}
	}
}

func authorize(c *gin.Context, perms []string) bool {
	caller := CallerOf(c)
	if caller == nil {
		httpserver.Error(c, http.StatusUnauthorized, "unauthorized", "missing or invalid bearer token")
		return false
	}
	if caller.TenantID == "" {
		httpserver.Error(c, http.StatusForbidden, "forbidden", "the token has no tenant_id")
		return false
	}
	for _, p := range perms {
		if !caller.Has(p) {
			httpserver.Error(c, http.StatusForbidden, "forbidden", "missing permission "+p)
			return false
		}
	}
	return true
}
