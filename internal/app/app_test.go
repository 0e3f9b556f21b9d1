package app_test

import (
	"errors"
	"fmt"
	"os"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/redifx/redifx/internal/app"
	"github.com/redifx/redifx/modules/config"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// valueFor returns an environment value for a field of type t that differs
// from its default, and the value it should decode to.
func valueFor(t reflect.Type, key string) (string, any) {
	switch {
	case t == reflect.TypeFor[time.Duration]():
		return "7", 7 * time.Second
	case t == reflect.TypeFor[config.Environment]():
		return "staging", config.Staging
	case t.Kind() == reflect.Bool:
		return "true", true
	case t.Kind() == reflect.Int || t.Kind() == reflect.Int64:
		return "3", reflect.ValueOf(3).Convert(t).Interface()
	case t.Kind() == reflect.Slice:
		return "a:1,b:2", []string{"a:1", "b:2"}
	}
	return "v-" + key, "v-" + key
}

// Every key is settable by its environment variable; the value lands in the
// field, proving the name mapping for the whole configuration.
func TestEveryKeyHasItsEnvironmentVariable(t *testing.T) {
	def := app.DefaultConfig()
	keys, err := config.Keys(&def)
	if err != nil {
		t.Fatal(err)
	}
	if len(keys) < 39 {
		t.Fatalf("only %d keys", len(keys))
	}
	for _, key := range keys {
		t.Run(key, func(t *testing.T) {
			field := fieldByKey(reflect.ValueOf(&def).Elem(), key)
			raw, want := valueFor(field.Type(), key)
			cfg := app.DefaultConfig()
			err := config.Load(&cfg, config.Options{Environ: []string{config.EnvName(key) + "=" + raw}})
			got := fieldByKey(reflect.ValueOf(&cfg).Elem(), key)
			if err != nil {
				// A value may be valid by type but fail validation (a file that
				// does not exist, a bad address); it must still have been read.
				var errs config.Errors
				if !errors.As(err, &errs) {
					t.Fatal(err)
				}
			}
			if !reflect.DeepEqual(got.Interface(), want) {
				t.Errorf("%s=%s gave %v, want %v", config.EnvName(key), raw, got.Interface(), want)
			}
		})
	}
}

func fieldByKey(v reflect.Value, key string) reflect.Value {
	for part := range strings.SplitSeq(key, ".") {
		t := v.Type()
		found := false
		for i := range t.NumField() {
			if t.Field(i).Tag.Get("koanf") == part {
				v, found = v.Field(i), true
				break
			}
		}
		if !found {
			panic(fmt.Sprintf("no field for %s", key))
		}
	}
	return v
}

func TestPredecessorEnvFileStillLoads(t *testing.T) {
	cfg, err := app.Load("", []string{
		"REDIS__HOST=redis.example.com", "REDIS__PORT=6380", "REDIS__PASSWORD=secure-password", "REDIS__DB=0",
		"REDIS__MAX_CONNECTIONS=100", "REDIS__DECODE_RESPONSES=true", "REDIS__CACHE_DB=1", "REDIS__SESSION_DB=2", "REDIS__PUBSUB_DB=3",
	})
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Redis.Host != "redis.example.com" || cfg.Redis.Port != 6380 || cfg.Redis.MaxConnections != 100 {
		t.Errorf("%+v", cfg.Redis)
	}
}

func TestProductionViolationsAreListedTogether(t *testing.T) {
	_, err := app.Load("", []string{"ENVIRONMENT=production", "REDIS__EMBEDDED_FALLBACK=true", "REDIS__TLS__INSECURE_SKIP_VERIFY=true", "HTTP__ADDR=nope", "LOG__LEVEL=chatty"})
	var errs config.Errors
	if !errors.As(err, &errs) {
		t.Fatalf("want config.Errors, got %v", err)
	}
	want := []string{"log.level", "redis.embedded_fallback", "redis.host", "redis.tls.insecure_skip_verify", "http.addr", "auth.jwt_secret"}
	if got := strings.Join(errs.Keys(), ","); got != strings.Join(want, ",") {
		t.Errorf("keys %s\nwant %s\n%v", got, strings.Join(want, ","), err)
	}
}

func TestProductionDefaults(t *testing.T) {
	cfg, err := app.Load("", []string{"ENVIRONMENT=production", "REDIS__HOST=redis.internal", "AUTH__JWT_SECRET=" + strings.Repeat("k", 32)})
	if err != nil {
		t.Fatal(err)
	}
	if !cfg.Redis.Required || cfg.Redis.EmbeddedFallback || cfg.HTTP.DrainDelay != 5*time.Second || cfg.Log.Format != "json" {
		t.Errorf("production defaults: %+v %+v %+v", cfg.Redis, cfg.HTTP, cfg.Log)
	}
	dev, err := app.Load("", nil)
	if err != nil {
		t.Fatal(err)
	}
	if dev.Redis.Required || !dev.Redis.EmbeddedFallback || dev.HTTP.DrainDelay != 0 || dev.Log.Format != "console" {
		t.Errorf("development defaults: %+v %+v", dev.Redis, dev.HTTP)
	}
	staging, err := app.Load("", []string{"ENVIRONMENT=staging", "AUTH__JWT_SECRET=s"})
	if err != nil {
		t.Fatal(err)
	}
	if staging.Redis.Required || staging.Redis.EmbeddedFallback {
		t.Errorf("staging: required %v fallback %v", staging.Redis.Required, staging.Redis.EmbeddedFallback)
	}
}

func TestFxTimeoutsCoverTheConfiguredBudgets(t *testing.T) {
	cfg, err := app.Load("", []string{"ENVIRONMENT=production", "REDIS__HOST=r", "AUTH__JWT_SECRET=" + strings.Repeat("k", 32), "HTTP__DRAIN_DELAY=20s", "HTTP__SHUTDOWN_TIMEOUT=40s", "REDIS__STARTUP_WAIT=30s"})
	if err != nil {
		t.Fatal(err)
	}
	if cfg.StopTimeout() <= 60*time.Second {
		t.Errorf("stop timeout %s does not cover drain 20s + shutdown 40s", cfg.StopTimeout())
	}
	if cfg.StartTimeout() <= 30*time.Second+cfg.Redis.SocketConnectTimeout {
		t.Errorf("start timeout %s does not cover startup_wait 30s", cfg.StartTimeout())
	}
}

// The README's configuration table names every key and its variable.
func TestReadmeDocumentsEveryKey(t *testing.T) {
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	def := app.DefaultConfig()
	keys, _ := config.Keys(&def)
	for _, key := range keys {
		if !strings.Contains(string(readme), "| `"+key+"` | `"+config.EnvName(key)+"` |") {
			t.Errorf("README lacks a row for %s / %s", key, config.EnvName(key))
		}
	}
}

// In development with the public development secret the server listens on
// loopback only unless http.addr is given (by the file or the environment,
// even as ":8080"); with a key, or in any other environment, the default stays
// ":8080".
func TestDevelopmentSecretListensOnLoopbackByDefault(t *testing.T) {
	file := func(body string) string {
		p := t.TempDir() + "/config.yaml"
		if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	key := "AUTH__JWT_SECRET=" + strings.Repeat("k", 32)
	for _, tc := range []struct {
		name, file string
		env        []string
		want       string
	}{
		{"development defaults", "", nil, app.LoopbackAddr},
		{"development with a secret", "", []string{key}, ":8080"},
		{"development with a key file set to empty", "", []string{"AUTH__JWT_SECRET="}, app.LoopbackAddr},
		{"explicit default in the environment", "", []string{"HTTP__ADDR=:8080"}, ":8080"},
		{"explicit address in the environment", "", []string{"HTTP__ADDR=0.0.0.0:9000"}, "0.0.0.0:9000"},
		{"explicit address in the file", file("http:\n  addr: \":7000\"\n"), nil, ":7000"},
		{"test environment", "", []string{"ENVIRONMENT=test", key}, ":8080"},
		{"staging", "", []string{"ENVIRONMENT=staging", key}, ":8080"},
		{"production", "", []string{"ENVIRONMENT=production", "REDIS__HOST=r", key}, ":8080"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg, err := app.Load(tc.file, tc.env)
			if err != nil {
				t.Fatal(err)
			}
			if cfg.HTTP.Addr != tc.want {
				t.Errorf("http.addr %q, want %q", cfg.HTTP.Addr, tc.want)
			}
		})
	}
}

// Durations near the largest one add up to the largest one, not to a
// negative timeout that would stop (or fail to start) at once.
func TestFxTimeoutsSaturateOnHugeSettings(t *testing.T) {
	// Load refuses such values (each key has an upper bound); the sums
	// saturate all the same, for a configuration built in code.
	if _, err := app.Load("", []string{"HTTP__DRAIN_DELAY=2562047h", "HTTP__SHUTDOWN_TIMEOUT=2562047h", "REDIS__STARTUP_WAIT=2562047h", "REDIS__SOCKET_TIMEOUT=2562047h"}); err == nil {
		t.Error("durations of centuries were accepted")
	}
	cfg := app.DefaultConfig()
	cfg.HTTP.DrainDelay, cfg.HTTP.ShutdownTimeout = 2562047*time.Hour, 2562047*time.Hour
	cfg.Redis.StartupWait, cfg.Redis.SocketTimeout = 2562047*time.Hour, 2562047*time.Hour
	if cfg.StopTimeout() < 2562047*time.Hour || cfg.StartTimeout() < 2562047*time.Hour {
		t.Errorf("stop %s start %s", cfg.StopTimeout(), cfg.StartTimeout())
	}
}

// hostileValues are the values every key is attacked with: overflowing and
// non-finite numbers, wrong types, odd durations, blanks and empty list items.
var hostileValues = []string{
	"", " ", "-1", "0", "-1s", "1e400", "99999999999999999999", "-99999999999999999999",
	"9223372036854775807", "NaN", "Inf", "1h1000000000h", "2562048h", "abc", "1.5", ",,,", "a,,b", "%",
}

// Every key, through the environment and through the file, given a hostile
// value: Load never panics, and a refusal names the key, is one problem for
// it and never quotes a secret.
func TestEveryKeyRefusesHostileValuesNamingIt(t *testing.T) {
	def := app.DefaultConfig()
	keys, err := config.Keys(&def)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	const secret = "Sekr3t-Value-42"
	for _, key := range keys {
		for _, v := range hostileValues {
			env := []string{config.EnvName(key) + "=" + v}
			if key != "redis.password" {
				env = append(env, "REDIS__PASSWORD="+secret)
			}
			check := func(how string, err error) {
				t.Helper()
				if err == nil {
					return
				}
				msg := err.Error()
				if !strings.Contains(msg, key) {
					t.Errorf("%s %s=%q: the refusal does not name the key: %v", how, key, v, err)
				}
				if strings.Contains(msg, secret) {
					t.Errorf("%s %s=%q: the secret is in %v", how, key, v, err)
				}
			}
			func() {
				defer func() {
					if r := recover(); r != nil {
						t.Errorf("env %s=%q: panic %v", key, v, r)
					}
				}()
				_, err := app.Load("", env)
				check("env", err)
			}()
			file := dir + "/c.yaml"
			y := yamlFor(key, v) + "redis:\n  password: " + secret + "\n"
			if strings.HasPrefix(key, "redis.") {
				y = yamlFor(key, v)
			}
			if err := os.WriteFile(file, []byte(y), 0o600); err != nil {
				t.Fatal(err)
			}
			func() {
				defer func() {
					if r := recover(); r != nil {
						t.Errorf("file %s=%q: panic %v", key, v, r)
					}
				}()
				_, err := app.Load(file, nil)
				check("file", err)
			}()
		}
	}
}

// yamlFor is a YAML document setting the dotted key to the plain scalar v
// (quoted when YAML would not read it as one).
func yamlFor(key, v string) string {
	parts := strings.Split(key, ".")
	var b strings.Builder
	for i, p := range parts[:len(parts)-1] {
		fmt.Fprintf(&b, "%s%s:\n", strings.Repeat("  ", i), p)
	}
	scalar := v
	if strings.TrimSpace(v) == "" || strings.ContainsAny(v, "%,") {
		scalar = fmt.Sprintf("%q", v)
	}
	fmt.Fprintf(&b, "%s%s: %s\n", strings.Repeat("  ", len(parts)-1), parts[len(parts)-1], scalar)
	return b.String()
}

// metrics.addr on http.addr's port failed start-up with the HTTP server's
// "address already in use", naming neither key; it is a configuration problem
// naming metrics.addr.
func TestMetricsAddrMustNotTakeTheHTTPPort(t *testing.T) {
	for _, env := range [][]string{
		{"HTTP__ADDR=127.0.0.1:18099", "METRICS__ADDR=127.0.0.1:18099"},
		{"HTTP__ADDR=:18099", "METRICS__ADDR=127.0.0.1:18099"},
		{"HTTP__ADDR=127.0.0.1:18099", "METRICS__ADDR=0.0.0.0:18099"},
		{"METRICS__ADDR=:8080"},
	} {
		_, err := app.Load("", env)
		var fe *config.FieldError
		if !errors.As(err, &fe) || fe.Key != "metrics.addr" {
			t.Errorf("%v: %v", env, err)
		}
	}
	for _, env := range [][]string{
		{"HTTP__ADDR=127.0.0.1:18099", "METRICS__ADDR=127.0.0.1:18100"},
		{"HTTP__ADDR=127.0.0.1:18099", "METRICS__ADDR=127.0.0.2:18099"},
		{"HTTP__ADDR=127.0.0.1:0", "METRICS__ADDR=127.0.0.1:0"},
	} {
		if _, err := app.Load("", env); err != nil {
			t.Errorf("%v: %v", env, err)
		}
	}
}

// An unknown environment is one problem naming environment, not also every
// rule of an environment that was not chosen (auth.jwt_secret "required
// outside development" and the like).
func TestUnknownEnvironmentIsOneProblem(t *testing.T) {
	for _, e := range []string{"", " ", "prod", "PRODUCTION", " production ", "dev"} {
		_, err := app.Load("", []string{"ENVIRONMENT=" + e})
		var errs config.Errors
		if !errors.As(err, &errs) || strings.Join(errs.Keys(), ",") != "environment" {
			t.Errorf("ENVIRONMENT=%q: %v", e, err)
		}
	}
}
