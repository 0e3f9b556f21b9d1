package auth

import (
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/redifx/redifx/modules/config"
)

// MinSecretBytes is the shortest HS secret accepted in production.
const MinSecretBytes = 32

// DevelopmentSecret signs and verifies tokens in development when no key is
// configured. It is public, hence refused everywhere but development.
const DevelopmentSecret = "redifx-development-secret-not-for-production-use"

// Config is the "auth" section. Configure an HS secret, a PEM public key, a
// JWKS file, or several of them; a token is checked against the key its
// algorithm (and kid) selects.
type Config struct {
	// JWTSecret verifies HS256/HS384/HS512 tokens (and signs `redifx token`).
	JWTSecret string `koanf:"jwt_secret" secret:"true"`
	// PublicKeyFile is a PEM public key: RSA (RS256/384/512, PS256/384/512),
	// ECDSA (ES256/384/512 by curve) or Ed25519 (EdDSA).
	PublicKeyFile string `koanf:"public_key_file"`
	// JWKSFile is a JWKS document whose keys are chosen by the token's kid;
	// reloaded on SIGHUP for key rotation.
	JWKSFile string `koanf:"jwks_file"`
	// Issuer and Audience, when set, must match the token's iss and aud.
	Issuer   string `koanf:"issuer"`
	Audience string `koanf:"audience"`
	// Leeway tolerates clock skew on exp, nbf and iat.
	Leeway time.Duration `koanf:"leeway"`
}

// DefaultConfig returns the defaults: no key (development secret in
// development only) and 30s leeway.
func DefaultConfig() Config { return Config{Leeway: 30 * time.Second} }

// MaxLeeway bounds auth.leeway: a leeway is a tolerance for clock skew, and a
// larger one would accept expired tokens for that long.
const MaxLeeway = 10 * time.Minute

// HasKey reports whether any verification key is configured.
func (c *Config) HasKey() bool { return c.JWTSecret != "" || c.PublicKeyFile != "" || c.JWKSFile != "" }

// Validate checks the files and the production rules.
func (c *Config) Validate(env config.Environment) error {
	var errs []error
	for key, f := range map[string]string{"public_key_file": c.PublicKeyFile, "jwks_file": c.JWKSFile} {
		if f == "" {
			continue
		}
		if _, err := os.Stat(f); err != nil {
			errs = append(errs, config.Problem(key, fmt.Sprintf("cannot read %s: %v", f, errors.Unwrap(err))))
		}
	}
	if c.Leeway < 0 || c.Leeway > MaxLeeway {
		errs = append(errs, config.Problem("leeway", fmt.Sprintf("must be between 0 and %s (a tolerance for clock skew, not a longer token life), got %s", MaxLeeway, c.Leeway)))
	}
	if !c.HasKey() && env != config.Development {
		errs = append(errs, config.Problem("jwt_secret", "a verification key is required outside development: set auth.jwt_secret, auth.public_key_file or auth.jwks_file"))
	}
	if env.IsProduction() {
		if c.JWTSecret != "" && len(c.JWTSecret) < MinSecretBytes {
			errs = append(errs, config.Problem("jwt_secret", fmt.Sprintf("must be at least %d bytes in production, got %d", MinSecretBytes, len(c.JWTSecret))))
		}
		if c.JWTSecret == DevelopmentSecret {
			errs = append(errs, config.Problem("jwt_secret", "is the public development secret"))
		}
	}
	return errors.Join(errs...)
}
