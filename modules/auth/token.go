package auth

import (
	"errors"
	"fmt"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/redifx/redifx/modules/config"
	"github.com/redifx/redifx/modules/redis/keyspace"
)

// ErrMintRefused is returned by Mint in production, where tokens come from the
// identity provider, never from the service itself.
var ErrMintRefused = errors.New("auth: refusing to mint tokens in production: tokens must come from the identity provider")

// TokenRequest describes a token for Mint.
type TokenRequest struct {
	Subject     string
	TenantID    string
	Permissions []string
	Roles       []string
	TTL         time.Duration
}

// Mint signs an HS256 token with the configured secret (or the development
// secret in development), with the configured issuer and audience, so that
// this service accepts it. It is a developer tool behind `redifx token`.
func Mint(cfg Config, env config.Environment, r TokenRequest) (string, error) {
	if env.IsProduction() {
		return "", ErrMintRefused
	}
	secret := cfg.JWTSecret
	if secret == "" {
		if cfg.HasKey() || env != config.Development {
			return "", errors.New("auth: minting needs auth.jwt_secret (a public key cannot sign)")
		}
		secret = DevelopmentSecret
	}
	if r.Subject == "" {
		return "", errors.New("auth: the token needs a subject (--sub)")
	}
	if r.TenantID != "" {
		if err := keyspace.ValidateID("tenant_id", r.TenantID); err != nil {
			return "", fmt.Errorf("auth: tenant %q cannot be used: %w", r.TenantID, err)
		}
	}
	if r.TTL <= 0 {
		return "", fmt.Errorf("auth: the TTL must be positive, got %s", r.TTL)
	}
	now := time.Now()
	c := claims{
		RegisteredClaims: jwt.RegisteredClaims{
			Subject:   r.Subject,
			Issuer:    cfg.Issuer,
			IssuedAt:  jwt.NewNumericDate(now),
			NotBefore: jwt.NewNumericDate(now),
			ExpiresAt: jwt.NewNumericDate(now.Add(r.TTL)),
		},
		TenantID:    r.TenantID,
		Permissions: r.Permissions,
		Roles:       r.Roles,
	}
	if cfg.Audience != "" {
		c.Audience = jwt.ClaimStrings{cfg.Audience}
	}
	return jwt.NewWithClaims(jwt.SigningMethodHS256, c).SignedString([]byte(secret))
}
