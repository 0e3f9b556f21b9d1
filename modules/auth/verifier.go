package auth

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strings"
	"sync/atomic"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/redifx/redifx/modules/config"
	"github.com/redifx/redifx/modules/httpserver"
	"github.com/redifx/redifx/modules/redis/keyspace"
)

// ErrUnauthenticated is wrapped by every token rejection. Its detail is for
// debug logs only; responses say no more than "invalid token".
var ErrUnauthenticated = errors.New("unauthenticated")

// claims are the token claims redifx reads.
type claims struct {
	jwt.RegisteredClaims
	TenantID    string   `json:"tenant_id,omitempty"`
	Permissions []string `json:"permissions,omitempty"`
	Roles       []string `json:"roles,omitempty"`
}

// The range of exp, nbf and iat read, in Unix seconds: the first second of
// the year 0001 to the last of 9999.
const (
	minNumericDate = -62135596800
	maxNumericDate = 253402300799
)

// claimNames are the names of the claims redifx reads, as the token must
// spell them.
var claimNames = []string{"iss", "sub", "aud", "exp", "nbf", "iat", "jti", "tenant_id", "permissions", "roles"}

// UnmarshalJSON reads the claims strictly. encoding/json matches member names
// without regard to case and lets the last duplicate win, so {"tenant_id":
// "a", "Tenant_ID": "b"} would be tenant b here while another verifier of the
// same token reads tenant a. A claim set with a member twice, or with a member
// that differs from a claim redifx reads only in case, is refused.
func (c *claims) UnmarshalJSON(data []byte) error {
	if _, err := httpserver.CheckJSONObject(data); err != nil {
		return fmt.Errorf("claims: %w", err)
	}
	var members map[string]json.RawMessage
	if err := json.Unmarshal(data, &members); err != nil {
		return fmt.Errorf("claims: %w", err)
	}
	for name := range members {
		for _, known := range claimNames {
			if name != known && strings.EqualFold(name, known) {
				return fmt.Errorf("claims: member %q is claim %q spelled differently", name, known)
			}
		}
	}
	// A NumericDate beyond what an int64 of seconds holds wraps around in
	// the JWT library: an nbf of 1e19 (never valid) became a date in the
	// distant past, and the token was accepted at once.
	for _, name := range []string{"exp", "nbf", "iat"} {
		raw, ok := members[name]
		if !ok {
			continue
		}
		var n json.Number
		if len(raw) == 0 || raw[0] == '"' || json.Unmarshal(raw, &n) != nil {
			return fmt.Errorf("claims: %s is not a number", name) // a NumericDate is a JSON number
		}
		f, err := n.Float64()
		if err != nil || math.IsNaN(f) || f < minNumericDate || f > maxNumericDate {
			return fmt.Errorf("claims: %s is outside the years 0001 to 9999", name)
		}
	}
	type plain claims // without this method
	return json.Unmarshal(data, (*plain)(c))
}

// Verifier checks tokens against the configured keys. Safe for concurrent
// use; Reload swaps the keys atomically.
type Verifier struct {
	cfg    Config
	secret string
	dev    bool
	keys   atomic.Pointer[keySet]
	now    func() time.Time
}

// NewVerifier loads the keys. With no key configured in development it uses
// DevelopmentSecret (see UsesDevelopmentSecret); elsewhere that is an error.
func NewVerifier(cfg Config, env config.Environment) (*Verifier, error) {
	v := &Verifier{cfg: cfg, secret: cfg.JWTSecret, now: time.Now}
	if !cfg.HasKey() {
		if env != config.Development {
			return nil, errors.New("auth: no verification key configured (auth.jwt_secret, auth.public_key_file or auth.jwks_file)")
		}
		v.secret, v.dev = DevelopmentSecret, true
	}
	if err := v.Reload(); err != nil {
		return nil, err
	}
	return v, nil
}

// UsesDevelopmentSecret reports whether tokens are checked against the public
// development secret.
func (v *Verifier) UsesDevelopmentSecret() bool { return v.dev }

// Reload reads the key files again (key rotation); on error the old keys stay.
func (v *Verifier) Reload() error {
	ks, err := loadKeys(v.cfg, v.secret)
	if err != nil {
		return err
	}
	v.keys.Store(ks)
	return nil
}

// Verify checks a raw token — signature, algorithm, exp/nbf/iat with leeway,
// issuer, audience, subject — and returns its caller. Every failure wraps
// ErrUnauthenticated.
func (v *Verifier) Verify(raw string) (*Caller, error) {
	ks := v.keys.Load()
	opts := []jwt.ParserOption{
		jwt.WithValidMethods(ks.algs),
		jwt.WithLeeway(v.cfg.Leeway),
		jwt.WithExpirationRequired(),
		jwt.WithIssuedAt(),
		jwt.WithTimeFunc(v.now),
	}
	if v.cfg.Issuer != "" {
		opts = append(opts, jwt.WithIssuer(v.cfg.Issuer))
	}
	if v.cfg.Audience != "" {
		opts = append(opts, jwt.WithAudience(v.cfg.Audience))
	}
	var c claims
	if _, err := jwt.ParseWithClaims(raw, &c, ks.keyFor, opts...); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrUnauthenticated, err)
	}
	if c.Subject == "" {
		return nil, fmt.Errorf("%w: token has no sub", ErrUnauthenticated)
	}
	if c.TenantID != "" {
		if err := keyspace.ValidateID("tenant_id", c.TenantID); err != nil {
			return nil, fmt.Errorf("%w: the token's %w", ErrUnauthenticated, err)
		}
	}
	caller := &Caller{Subject: c.Subject, TenantID: c.TenantID, Permissions: c.Permissions, Roles: c.Roles, leeway: v.cfg.Leeway}
	if caller.Permissions == nil {
		caller.Permissions = []string{}
	}
	if caller.Roles == nil {
		caller.Roles = []string{}
	}
	if c.ExpiresAt != nil {
		caller.ExpiresAt = c.ExpiresAt.UTC()
	}
	return caller, nil
}
