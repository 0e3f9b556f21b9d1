// Package keyspace holds the rules by which redifx's modules build Redis keys
// from parts that callers choose (tenant ids, job ids, idempotency keys), so
// that two different sets of parts never make the same key.
//
// Two tools, used by every module's keys.go:
//
//   - [ValidateID] admits an identifier (a tenant id, an object id) only when
//     it is 1–128 bytes of letters, digits and . _ - @ + = — no ':' (the key
//     separator), no '{' or '}' (Redis Cluster hash tags), no spaces or control
//     bytes. An identifier that passes can sit between separators unescaped.
//   - [Part] encodes a free-form part (an idempotency key, a concurrency key)
//     with its length in front, so that it can be followed by anything.
//
// The package has no dependencies, so any module (and auth, which checks the
// tenant id of a token) can use it without pulling in a Redis client.
package keyspace

import (
	"errors"
	"strconv"
)

// MaxIDLen is the longest identifier ValidateID admits, in bytes.
const MaxIDLen = 128

// ErrInvalidID is wrapped by every error of ValidateID.
var ErrInvalidID = errors.New("invalid identifier")

// IDError names the field whose identifier cannot be carried in a key.
type IDError struct {
	Field  string // e.g. "tenant_id"
	Reason string // e.g. "must be at most 128 bytes"
}

// Error implements error.
func (e *IDError) Error() string { return e.Field + " " + e.Reason }

// Unwrap makes errors.Is(err, ErrInvalidID) hold.
func (e *IDError) Unwrap() error { return ErrInvalidID }

// ValidateID returns nil when v can be carried in a key as an identifier, and
// else an *IDError naming field: v must be 1 to MaxIDLen bytes of ASCII
// letters, digits and the characters . _ - @ + =.
func ValidateID(field, v string) error {
	switch {
	case v == "":
		return &IDError{Field: field, Reason: "must not be empty"}
	case len(v) > MaxIDLen:
		return &IDError{Field: field, Reason: "must be at most " + strconv.Itoa(MaxIDLen) + " bytes"}
	}
	for i := 0; i < len(v); i++ {
		if !idByte(v[i]) {
			return &IDError{Field: field, Reason: "may contain only letters, digits and . _ - @ + = (found " + strconv.QuoteRune(rune(v[i])) + ")"}
		}
	}
	return nil
}

func idByte(b byte) bool {
	switch {
	case 'a' <= b && b <= 'z', 'A' <= b && b <= 'Z', '0' <= b && b <= '9':
		return true
	}
	switch b {
	case '.', '_', '-', '@', '+', '=':
		return true
	}
	return false
}

// Part encodes a free-form key part as "<length>:<bytes>", which is
// injective whatever follows it: Part(a)+x == Part(b)+y implies a == b.
func Part(s string) string { return strconv.Itoa(len(s)) + ":" + s }
