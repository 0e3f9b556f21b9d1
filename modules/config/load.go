package config

import (
	"fmt"
	"os"
	"reflect"
	"strings"

	"github.com/knadh/koanf/parsers/yaml"
	"github.com/knadh/koanf/providers/confmap"
	"github.com/knadh/koanf/providers/env/v2"
	"github.com/knadh/koanf/providers/file"
	"github.com/knadh/koanf/v2"
	yamlv3 "go.yaml.in/yaml/v3"
)

// Options says where Load reads from.
type Options struct {
	// File is a YAML file; empty means none.
	File string
	// Environ is the environment as "NAME=value" pairs; nil means os.Environ().
	Environ []string
	// Sources, when not nil, receives every key that the file or the
	// environment set, with where its value came from (the file's path or the
	// variable's name): what was chosen, as opposed to a default. An
	// application uses it for defaults that depend on several sections.
	Sources map[string]string
}

// Validator is implemented by a section (or the root struct) that checks itself.
// Validate returns nil, one error, or errors.Join of several; a *FieldError (see
// [Problem]) names its key relative to the section.
type Validator interface {
	Validate(env Environment) error
}

// EnvironmentDefaulter is implemented by a section whose defaults depend on the
// environment, such as "Redis is required in production". The returned keys are
// relative to the section; they apply below the file and the environment.
type EnvironmentDefaulter interface {
	EnvironmentDefaults(env Environment) map[string]any
}

// Load fills target, a pointer to a struct holding defaults, from the layers
// described in the package documentation, then validates it. The error, if any, is
// [Errors] listing every problem by key path.
func Load(target any, opts Options) error {
	leaves, sections, err := fields(target)
	if err != nil {
		return err
	}
	known := make(map[string]leaf, len(leaves))
	for _, l := range leaves {
		known[l.key] = l
	}
	environ := opts.Environ
	if environ == nil {
		environ = os.Environ()
	}

	var problems Errors
	source := map[string]string{} // key -> where its value came from

	user := koanf.New(".")
	if opts.File != "" {
		if err := user.Load(file.Provider(opts.File), yaml.Parser()); err != nil {
			return Errors{{Key: "config file", Message: fmt.Sprintf("cannot read %s: %v", opts.File, err)}}
		}
		if n := documents(opts.File); n > 1 {
			// The parser reads the first document only: the rest would be
			// ignored without a word.
			return Errors{{Key: "config file", Message: fmt.Sprintf("%s holds %d YAML documents (separated by ---); only one is read, so merge them", opts.File, n)}}
		}
		for _, key := range user.Keys() {
			if _, ok := known[key]; ok {
				source[key] = opts.File
				continue
			}
			if isSection(key, sections) {
				if user.Get(key) != nil {
					problems = append(problems, &FieldError{Key: key, Message: fmt.Sprintf("expected a mapping, got %s (in %s)", kindOf(user.Get(key)), opts.File)})
				}
				continue
			}
			problems = append(problems, &FieldError{Key: key, Message: "unknown key in " + opts.File})
		}
	}
	envProvider := env.Provider(".", env.Opt{
		EnvironFunc: func() []string { return environ },
		TransformFunc: func(name, value string) (string, any) {
			key := strings.ToLower(strings.ReplaceAll(name, "__", "."))
			if _, ok := known[key]; !ok || EnvName(key) != name {
				return "", nil // not ours: platforms inject many variables
			}
			source[key] = name
			return key, value
		},
	})
	if err := user.Load(envProvider, nil); err != nil {
		return fmt.Errorf("config: reading the environment: %w", err)
	}

	envName := currentEnvironment(user, leaves)
	if opts.Sources != nil {
		for k, v := range source {
			opts.Sources[k] = v
		}
	}

	merged := koanf.New(".")
	for _, s := range sections {
		d, ok := s.value.Addr().Interface().(EnvironmentDefaulter)
		if !ok {
			continue
		}
		flat := map[string]any{}
		for k, v := range d.EnvironmentDefaults(envName) {
			flat[join(s.key, k)] = v
		}
		if err := merged.Load(confmap.Provider(flat, "."), nil); err != nil {
			return fmt.Errorf("config: environment defaults for %q: %w", s.key, err)
		}
	}
	if err := merged.Merge(user); err != nil {
		return fmt.Errorf("config: merging layers: %w", err)
	}

	for _, l := range leaves {
		if !merged.Exists(l.key) {
			continue
		}
		if err := assign(l.value, merged.Get(l.key), l.secret != ""); err != nil {
			msg := err.Error()
			if src, ok := source[l.key]; ok {
				msg += " (from " + src + ")"
			}
			problems = append(problems, &FieldError{Key: l.key, Message: msg})
		}
	}
	if len(problems) > 0 {
		// Type errors first: validating half-assigned values would add noise.
		return problems
	}

	for _, l := range leaves {
		if e, ok := l.value.Interface().(Environment); ok {
			if err := e.Validate(); err != nil {
				problems = append(problems, &FieldError{Key: l.key, Message: err.Error()})
			}
		}
	}
	if len(problems) > 0 {
		// An unknown environment: the sections' rules depend on it, and
		// would only add problems that are not the point.
		return problems
	}
	for _, s := range sections {
		if v, ok := s.value.Addr().Interface().(Validator); ok {
			problems = append(problems, collect(s.key, v.Validate(envName))...)
		}
	}
	if len(problems) > 0 {
		return problems
	}
	return nil
}

// currentEnvironment is the environment named by the file or environment layer,
// else the target's default, else Development.
func currentEnvironment(user *koanf.Koanf, leaves []leaf) Environment {
	for _, l := range leaves {
		if l.value.Type() != reflect.TypeFor[Environment]() {
			continue
		}
		if user.Exists(l.key) {
			return Environment(strings.TrimSpace(fmt.Sprint(user.Get(l.key))))
		}
		if e := l.value.Interface().(Environment); e != "" {
			return e
		}
	}
	return Development
}

func isSection(key string, sections []section) bool {
	for _, s := range sections {
		if s.key == key {
			return true
		}
	}
	return false
}

// Keys lists every configuration key of target with its environment variable, in
// declaration order; the README's table is checked against it.
func Keys(target any) ([]string, error) {
	leaves, _, err := fields(target)
	if err != nil {
		return nil, err
	}
	keys := make([]string, len(leaves))
	for i, l := range leaves {
		keys[i] = l.key
	}
	return keys, nil
}

// documents counts the YAML documents in path (0 when it cannot be read or
// parsed: the parser reports that).
func documents(path string) int {
	f, err := os.Open(path)
	if err != nil {
		return 0
	}
	defer f.Close()
	dec := yamlv3.NewDecoder(f)
	n := 0
	for {
		var doc yamlv3.Node
		if err := dec.Decode(&doc); err != nil {
			return n
		}
		n++
	}
}
