package logging

import (
	"strings"

	"github.com/redifx/redifx/modules/config"
	"go.uber.org/zap/zapcore"
)

// Formats a Config may name.
const (
	FormatJSON    = "json"
	FormatConsole = "console"
)

// Config is the "log" section.
type Config struct {
	// Level is debug, info, warn or error.
	Level string `koanf:"level"`
	// Format is json (the production default) or console.
	Format string `koanf:"format"`
}

// DefaultConfig returns the defaults outside production: info, console.
func DefaultConfig() Config { return Config{Level: "info", Format: FormatConsole} }

// EnvironmentDefaults makes JSON the default format in production.
func (c *Config) EnvironmentDefaults(env config.Environment) map[string]any {
	if env.IsProduction() {
		return map[string]any{"format": FormatJSON}
	}
	return nil
}

// Validate checks the level and format.
func (c *Config) Validate(config.Environment) error {
	var errs []error
	if !validLevel(c.Level) {
		errs = append(errs, config.Problem("level", "must be debug, info, warn or error; got "+quote(c.Level)))
	}
	if c.Format != FormatJSON && c.Format != FormatConsole {
		errs = append(errs, config.Problem("format", "must be json or console; got "+quote(c.Format)))
	}
	return joinErrs(errs)
}

// validLevel reports whether l is one of the documented levels, in any letter
// case. zap also parses "" (as info) and dpanic, panic and fatal, which would
// silence every ERROR (a refused Redis, a failed start) and so are refused.
func validLevel(l string) bool {
	switch strings.ToLower(l) {
	case "debug", "info", "warn", "warning", "error": // warning: as Python services spell it
		_, err := zapcore.ParseLevel(l)
		return err == nil
	}
	return false
}
