package logging

import (
	"errors"
	"regexp"
	"strings"

	"github.com/redifx/redifx/modules/config"
	"go.uber.org/zap/zapcore"
)

// urlPassword matches the password in "scheme://user:password@".
var urlPassword = regexp.MustCompile(`([a-zA-Z][a-zA-Z0-9+.-]*://[^:@/\s]*:)([^@\s]+)(@)`)

// Scrub replaces every secret and every URL password in s with "***".
func Scrub(s string, secrets config.Secrets) string {
	if strings.Contains(s, "://") {
		s = urlPassword.ReplaceAllString(s, "${1}"+config.Redacted+"${3}")
	}
	for _, secret := range secrets {
		if secret != "" && strings.Contains(s, secret) {
			s = strings.ReplaceAll(s, secret, config.Redacted)
		}
	}
	return s
}

// scrubCore wraps a core and scrubs messages and fields before they are encoded.
type scrubCore struct {
	zapcore.Core
	secrets config.Secrets
}

func newScrubCore(c zapcore.Core, secrets config.Secrets) zapcore.Core {
	return &scrubCore{Core: c, secrets: secrets}
}

func (c *scrubCore) With(fields []zapcore.Field) zapcore.Core {
	return &scrubCore{Core: c.Core.With(c.fields(fields)), secrets: c.secrets}
}

func (c *scrubCore) Check(e zapcore.Entry, ce *zapcore.CheckedEntry) *zapcore.CheckedEntry {
	if c.Enabled(e.Level) {
		return ce.AddCore(e, c)
	}
	return ce
}

func (c *scrubCore) Write(e zapcore.Entry, fields []zapcore.Field) error {
	e.Message = Scrub(e.Message, c.secrets)
	return c.Core.Write(e, c.fields(fields))
}

func (c *scrubCore) fields(in []zapcore.Field) []zapcore.Field {
	out := make([]zapcore.Field, len(in))
	for i, f := range in {
		switch f.Type {
		case zapcore.StringType:
			f.String = Scrub(f.String, c.secrets)
		case zapcore.ErrorType:
			if err, ok := f.Interface.(error); ok && err != nil {
				f.Interface = scrubbedError{msg: Scrub(err.Error(), c.secrets), err: err}
			}
		case zapcore.StringerType:
			if s, ok := f.Interface.(interface{ String() string }); ok && s != nil {
				f = zapcore.Field{Key: f.Key, Type: zapcore.StringType, String: Scrub(s.String(), c.secrets)}
			}
		}
		out[i] = f
	}
	return out
}

// scrubbedError keeps errors.Is working on the original while printing the
// scrubbed text.
type scrubbedError struct {
	msg string
	err error
}

func (e scrubbedError) Error() string { return e.msg }
func (e scrubbedError) Unwrap() error { return errors.Unwrap(e.err) }
