// Package logging builds the application's zap logger from [Config] and routes
// Fx's own events through it.
//
// Every line passes through a scrubbing core: the configured secrets
// ([config.Secrets]) and the password part of any "scheme://user:password@host"
// text are replaced by "***" in messages, string fields and error fields, so a
// connection error that embeds a URL cannot leak a password.
//
// Used alone:
//
//	log, err := logging.New(logging.Config{Level: "info", Format: "json"}, nil)
//	if err != nil { ... }
//	defer log.Sync()
//
// In an Fx app, add logging.Module (it provides *zap.Logger) and, at the root,
// logging.FxEventLogger so that Fx's own events go through it too (at debug
// level, so quiet at info).
package logging
