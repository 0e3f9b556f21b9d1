package auth

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/redifx/redifx/modules/config"
	"github.com/redifx/redifx/modules/httpserver"
	"go.uber.org/fx"
	"go.uber.org/zap"
)

// ModuleName is the name of this module in Fx's logs.
const ModuleName = "auth"

// Module provides the *Verifier and *Authenticator, registers
// GET /api/v1/auth/whoami, and reloads the key files on SIGHUP.
var Module = fx.Module(ModuleName,
	fx.Provide(
		NewModuleVerifier,
		NewAuthenticator,
		httpserver.AsRoute(func(a *Authenticator) httpserver.Route { return a }),
	),
)

// Params are NewModuleVerifier's dependencies.
type Params struct {
	fx.In

	Config      Config
	Environment config.Environment `optional:"true"`
	Log         *zap.Logger
	Lc          fx.Lifecycle
}

// NewModuleVerifier builds the Verifier, warns when it uses the development
// secret, and reloads keys on SIGHUP while the app runs.
func NewModuleVerifier(p Params) (*Verifier, error) {
	env := p.Environment
	if env == "" {
		env = config.Development
	}
	v, err := NewVerifier(p.Config, env)
	if err != nil {
		return nil, err
	}
	log := p.Log.Named("auth")
	if v.UsesDevelopmentSecret() {
		log.Warn("auth.development_secret", zap.String("warning", "no auth key configured: tokens are checked against the public development secret; never use this outside development"))
	}
	if p.Config.JWKSFile == "" && p.Config.PublicKeyFile == "" {
		return v, nil
	}
	hup := make(chan os.Signal, 1)
	done := make(chan struct{})
	p.Lc.Append(fx.Hook{
		OnStart: func(context.Context) error {
			signal.Notify(hup, syscall.SIGHUP)
			go func() {
				defer close(done)
				for range hup {
					if err := v.Reload(); err != nil {
						log.Error("auth.keys.reload_failed", zap.Error(err))
						continue
					}
					log.Info("auth.keys.reloaded")
				}
			}()
			return nil
		},
		OnStop: func(context.Context) error {
			signal.Stop(hup)
			close(hup)
			<-done
			return nil
		},
	})
	return v, nil
}
