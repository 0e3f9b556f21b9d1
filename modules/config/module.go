package config

import (
	"reflect"

	"go.uber.org/fx"
)

// ModuleName is the name of this module in Fx's logs.
const ModuleName = "config"

// Supply returns an Fx module that provides the loaded target and each of its
// top-level fields as a value of its own type, so that every module receives just
// its own section (redis.Config, httpserver.Config, config.Environment …), plus the
// [Secrets] found in it for the logger to scrub. target must be a pointer to a
// struct whose sections have distinct types.
func Supply(target any) fx.Option {
	v := reflect.ValueOf(target)
	if v.Kind() != reflect.Pointer || v.Elem().Kind() != reflect.Struct {
		return fx.Error(&FieldError{Key: "config", Message: "Supply needs a pointer to a struct"})
	}
	values := []any{target, SecretsOf(target)}
	s := v.Elem()
	for i := range s.NumField() {
		sf := s.Type().Field(i)
		if !sf.IsExported() || sf.Tag.Get("koanf") == "" || sf.Tag.Get("koanf") == "-" {
			continue
		}
		values = append(values, s.Field(i).Interface())
	}
	return fx.Module(ModuleName, fx.Supply(values...))
}
