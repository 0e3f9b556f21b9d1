package logging

import (
	"errors"
	"fmt"
	"os"
	"strconv"

	"github.com/redifx/redifx/modules/config"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
)

// New builds a logger writing to stderr that scrubs secrets.
func New(cfg Config, secrets config.Secrets) (*zap.Logger, error) {
	return NewWithSink(cfg, secrets, zapcore.Lock(os.Stderr))
}

// NewWithSink is New writing to sink; tests use it to capture lines.
func NewWithSink(cfg Config, secrets config.Secrets, sink zapcore.WriteSyncer) (*zap.Logger, error) {
	level, err := zapcore.ParseLevel(cfg.Level)
	if err != nil {
		return nil, fmt.Errorf("logging: level: %w", err)
	}
	var enc zapcore.Encoder
	switch cfg.Format {
	case FormatJSON:
		ec := zap.NewProductionEncoderConfig()
		ec.TimeKey = "ts"
		ec.EncodeTime = zapcore.ISO8601TimeEncoder
		ec.EncodeDuration = zapcore.StringDurationEncoder
		enc = zapcore.NewJSONEncoder(ec)
	case FormatConsole:
		ec := zap.NewDevelopmentEncoderConfig()
		ec.EncodeLevel = zapcore.CapitalColorLevelEncoder
		enc = zapcore.NewConsoleEncoder(ec)
	default:
		return nil, fmt.Errorf("logging: format must be json or console, got %q", cfg.Format)
	}
	core := newScrubCore(zapcore.NewCore(enc, sink, level), secrets)
	return zap.New(core, zap.AddCaller(), zap.ErrorOutput(sink)), nil
}

func quote(s string) string { return strconv.Quote(s) }

func joinErrs(errs []error) error { return errors.Join(errs...) }
