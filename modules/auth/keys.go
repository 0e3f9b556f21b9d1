package auth

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"fmt"
	"os"

	"github.com/golang-jwt/jwt/v5"
	"github.com/lestrrat-go/jwx/v3/jwk"
)

// verificationKey is one key and the algorithms it may verify.
type verificationKey struct {
	key  any
	algs []string
}

// keySet is every configured key; replaced whole on reload.
type keySet struct {
	hmac   *verificationKey
	public *verificationKey
	byKID  map[string]*verificationKey
	algs   []string // every algorithm some key accepts
}

var hmacAlgs = []string{"HS256", "HS384", "HS512"}

// algsFor returns the algorithms a public key verifies.
func algsFor(key crypto.PublicKey) ([]string, error) {
	switch k := key.(type) {
	case *rsa.PublicKey:
		return []string{"RS256", "RS384", "RS512", "PS256", "PS384", "PS512"}, nil
	case *ecdsa.PublicKey:
		switch k.Curve {
		case elliptic.P256():
			return []string{"ES256"}, nil
		case elliptic.P384():
			return []string{"ES384"}, nil
		case elliptic.P521():
			return []string{"ES512"}, nil
		}
		return nil, fmt.Errorf("unsupported ECDSA curve %s", k.Curve.Params().Name)
	case ed25519.PublicKey:
		return []string{"EdDSA"}, nil
	}
	return nil, fmt.Errorf("unsupported public key type %T", key)
}

func loadKeys(cfg Config, secret string) (*keySet, error) {
	ks := &keySet{byKID: map[string]*verificationKey{}}
	if secret != "" {
		ks.hmac = &verificationKey{key: []byte(secret), algs: hmacAlgs}
	}
	if cfg.PublicKeyFile != "" {
		pemBytes, err := os.ReadFile(cfg.PublicKeyFile)
		if err != nil {
			return nil, fmt.Errorf("auth.public_key_file: %w", err)
		}
		key, err := parsePublicKeyPEM(pemBytes)
		if err != nil {
			return nil, fmt.Errorf("auth.public_key_file: %w", err)
		}
		algs, err := algsFor(key)
		if err != nil {
			return nil, fmt.Errorf("auth.public_key_file: %w", err)
		}
		ks.public = &verificationKey{key: key, algs: algs}
	}
	if cfg.JWKSFile != "" {
		data, err := os.ReadFile(cfg.JWKSFile)
		if err != nil {
			return nil, fmt.Errorf("auth.jwks_file: %w", err)
		}
		set, err := jwk.Parse(data)
		if err != nil {
			return nil, fmt.Errorf("auth.jwks_file: not a JWKS document: %w", err)
		}
		for i := range set.Len() {
			k, _ := set.Key(i)
			kid, ok := k.KeyID()
			if !ok || kid == "" {
				return nil, fmt.Errorf("auth.jwks_file: key %d has no kid", i)
			}
			var raw any
			if err := jwk.Export(k, &raw); err != nil {
				return nil, fmt.Errorf("auth.jwks_file: key %q: %w", kid, err)
			}
			vk, err := jwksKey(raw)
			if err != nil {
				return nil, fmt.Errorf("auth.jwks_file: key %q: %w", kid, err)
			}
			if alg, ok := k.Algorithm(); ok && alg.String() != "" {
				if !contains(vk.algs, alg.String()) {
					return nil, fmt.Errorf("auth.jwks_file: key %q: alg %s does not fit its key type", kid, alg)
				}
				vk.algs = []string{alg.String()}
			}
			ks.byKID[kid] = vk
		}
	}
	seen := map[string]bool{}
	for _, vk := range ks.all() {
		for _, a := range vk.algs {
			if !seen[a] {
				seen[a] = true
				ks.algs = append(ks.algs, a)
			}
		}
	}
	return ks, nil
}

func jwksKey(raw any) (*verificationKey, error) {
	switch k := raw.(type) {
	case []byte:
		return &verificationKey{key: k, algs: hmacAlgs}, nil
	case *rsa.PrivateKey:
		raw = &k.PublicKey
	case *ecdsa.PrivateKey:
		raw = &k.PublicKey
	case ed25519.PrivateKey:
		raw = k.Public()
	}
	algs, err := algsFor(raw)
	if err != nil {
		return nil, err
	}
	return &verificationKey{key: raw, algs: algs}, nil
}

func (ks *keySet) all() []*verificationKey {
	var out []*verificationKey
	if ks.hmac != nil {
		out = append(out, ks.hmac)
	}
	if ks.public != nil {
		out = append(out, ks.public)
	}
	for _, vk := range ks.byKID {
		out = append(out, vk)
	}
	return out
}

// keyFor picks the key for a token: by kid when the token names one that the
// JWKS holds, else the single key whose algorithms include the token's.
func (ks *keySet) keyFor(t *jwt.Token) (any, error) {
	alg := t.Method.Alg()
	if kid, ok := t.Header["kid"].(string); ok && kid != "" {
		if vk, ok := ks.byKID[kid]; ok {
			if !contains(vk.algs, alg) {
				return nil, fmt.Errorf("alg %s not allowed for kid %q", alg, kid)
			}
			return vk.key, nil
		}
		if len(ks.byKID) > 0 && ks.hmac == nil && ks.public == nil {
			return nil, fmt.Errorf("unknown kid %q", kid)
		}
	}
	for _, vk := range []*verificationKey{ks.hmac, ks.public} {
		if vk != nil && contains(vk.algs, alg) {
			return vk.key, nil
		}
	}
	return nil, fmt.Errorf("no key for alg %s", alg)
}

func parsePublicKeyPEM(data []byte) (crypto.PublicKey, error) {
	if k, err := jwt.ParseRSAPublicKeyFromPEM(data); err == nil {
		return k, nil
	}
	if k, err := jwt.ParseECPublicKeyFromPEM(data); err == nil {
		return k, nil
	}
	if k, err := jwt.ParseEdPublicKeyFromPEM(data); err == nil {
		return k, nil
	}
	return nil, fmt.Errorf("no RSA, ECDSA or Ed25519 public key in PEM")
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
