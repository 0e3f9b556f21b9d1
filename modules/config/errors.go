package config

import (
	"errors"
	"fmt"
	"strings"
	"time"
)

// FieldError is one configuration problem, named by its key path.
type FieldError struct {
	// Key is the key path, such as "redis.port".
	Key string
	// Message says what is wrong, without the value of a secret.
	Message string
}

func (e *FieldError) Error() string { return e.Key + ": " + e.Message }

// Problem returns a *FieldError for key. Sections return these from Validate with
// keys relative to the section; Load prefixes the section's path.
func Problem(key, message string) error { return &FieldError{Key: key, Message: message} }

// Errors is every problem that Load found; its message lists them one per line.
type Errors []*FieldError

func (e Errors) Error() string {
	var b strings.Builder
	b.WriteString("invalid configuration:")
	for _, fe := range e {
		b.WriteString("\n  - ")
		b.WriteString(fe.Error())
	}
	return b.String()
}

// Unwrap returns the problems, so that errors.As finds a *FieldError in an
// Errors.
func (e Errors) Unwrap() []error {
	out := make([]error, len(e))
	for i, fe := range e {
		out[i] = fe
	}
	return out
}

// Keys returns the key path of every problem, in order.
func (e Errors) Keys() []string {
	keys := make([]string, len(e))
	for i, fe := range e {
		keys[i] = fe.Key
	}
	return keys
}

// collect flattens err (a *FieldError, an errors.Join of them, Errors, or any
// other error) into FieldErrors whose keys are prefixed by prefix.
func collect(prefix string, err error) Errors {
	if err == nil {
		return nil
	}
	var out Errors
	switch e := err.(type) {
	case Errors:
		for _, fe := range e {
			out = append(out, &FieldError{Key: join(prefix, fe.Key), Message: fe.Message})
		}
		return out
	case *FieldError:
		return Errors{{Key: join(prefix, e.Key), Message: e.Message}}
	case interface{ Unwrap() []error }:
		for _, inner := range e.Unwrap() {
			out = append(out, collect(prefix, inner)...)
		}
		return out
	}
	var fe *FieldError
	if errors.As(err, &fe) {
		return Errors{{Key: join(prefix, fe.Key), Message: err.Error()}}
	}
	key := prefix
	if key == "" {
		key = "config"
	}
	return Errors{{Key: key, Message: err.Error()}}
}

func join(prefix, key string) string {
	switch {
	case prefix == "":
		return key
	case key == "":
		return prefix
	}
	return prefix + "." + key
}

// Setting is a duration with its key, for Positive.
type Setting struct {
	Key   string
	Value time.Duration
}

// AtMost returns a problem for each setting above max, in the order given: a
// duration with no use beyond max (a timeout of years) is a typing mistake,
// and huge ones overflow the arithmetic they go into.
func AtMost(max time.Duration, settings ...Setting) []error {
	var errs []error
	for _, s := range settings {
		if s.Value > max {
			errs = append(errs, Problem(s.Key, fmt.Sprintf("must be at most %s, got %s", max, s.Value)))
		}
	}
	return errs
}

// Positive returns a problem for each setting that is not positive, in the
// order given (so messages are stable).
func Positive(settings ...Setting) []error {
	var errs []error
	for _, s := range settings {
		if s.Value <= 0 {
			errs = append(errs, Problem(s.Key, fmt.Sprintf("must be positive, got %s", s.Value)))
		}
	}
	return errs
}
