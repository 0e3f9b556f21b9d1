package logging

import (
	"github.com/redifx/redifx/modules/config"
	"go.uber.org/fx"
	"go.uber.org/fx/fxevent"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
)

// ModuleName is the name of this module in Fx's logs.
const ModuleName = "logging"

// Module provides *zap.Logger from Config. Add [FxEventLogger] at the root of the
// app as well: Fx applies an event logger only to the scope it is declared in.
var Module = fx.Module(ModuleName,
	fx.Provide(NewLogger),
)

// FxEventLogger routes Fx's own events through the zap logger; place it at the
// application's root, next to Module.
var FxEventLogger = fx.WithLogger(NewEventLogger)

// Params are NewLogger's dependencies; Secrets is optional.
type Params struct {
	fx.In

	Config  Config
	Secrets config.Secrets `optional:"true"`
	Lc      fx.Lifecycle
}

// NewLogger builds the logger and flushes it when the app stops.
func NewLogger(p Params) (*zap.Logger, error) {
	log, err := New(p.Config, p.Secrets)
	if err != nil {
		return nil, err
	}
	p.Lc.Append(fx.StopHook(func() { _ = log.Sync() }))
	return log, nil
}

// NewEventLogger logs Fx's events at debug level, errors at error level.
func NewEventLogger(log *zap.Logger) fxevent.Logger {
	l := &fxevent.ZapLogger{Logger: log.Named("fx")}
	l.UseLogLevel(zapcore.DebugLevel)
	return l
}
