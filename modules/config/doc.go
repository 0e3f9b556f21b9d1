// Package config loads an application's configuration in layers and hands each
// module its own section.
//
// Layers, later wins: the defaults already present in the target struct, then
// defaults that depend on the environment (see [EnvironmentDefaulter]), then a
// YAML file, then environment variables. An environment variable name is the key
// path upper-cased with "__" between levels: redis.tls.ca_file is read from
// REDIS__TLS__CA_FILE. Variables that map to no key are ignored, because container
// platforms inject many.
//
// Every problem — an unknown key in the file, a value of the wrong type, a failed
// validation — is collected, and [Load] returns them together as [Errors], each
// naming its key path. Fields tagged secret:"true" are replaced by "***" in
// [MarshalRedacted]; fields tagged secret:"url" keep the URL but hide its password.
//
// The package never knows the application's sections: the binary declares a struct
// with one field per module, each a module's own Config:
//
//	type AppConfig struct {
//		Environment config.Environment `koanf:"environment"`
//		Redis       redis.Config       `koanf:"redis"`
//	}
//
//	cfg := AppConfig{Environment: config.Development, Redis: redis.DefaultConfig()}
//	if err := config.Load(&cfg, config.Options{File: path}); err != nil {
//		return err // every problem, one per line, by key path
//	}
//	app := fx.New(config.Supply(&cfg), redis.Module)
//
// To tell a value that was given from a default (for a default that depends on
// several sections), pass Options.Sources: Load fills it with every key the file
// or the environment set, and where from.
//
// Supported field types: string (and string-kinded types), bool, all integer
// kinds, float64, time.Duration (Go syntax such as "250ms", or a plain number of
// seconds), []string (a YAML list, or comma-separated in the environment) and
// nested structs.
package config
