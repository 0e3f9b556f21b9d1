package config_test

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/redifx/redifx/modules/config"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

type dbSection struct {
	Host     string        `koanf:"host"`
	Port     int           `koanf:"port"`
	Password string        `koanf:"password" secret:"true"`
	URL      string        `koanf:"url" secret:"url"`
	Timeout  time.Duration `koanf:"timeout"`
	Addrs    []string      `koanf:"addrs"`
	Required bool          `koanf:"required"`
	Ratio    float64       `koanf:"ratio"`
	TLS      struct {
		CAFile string `koanf:"ca_file"`
	} `koanf:"tls"`
}

func (d *dbSection) EnvironmentDefaults(env config.Environment) map[string]any {
	return map[string]any{"required": env.IsProduction()}
}

func (d *dbSection) Validate(env config.Environment) error {
	var errs []error
	if d.Port < 1 {
		errs = append(errs, config.Problem("port", "must be positive"))
	}
	if env.IsProduction() && d.Host == "localhost" {
		errs = append(errs, config.Problem("host", "must not be localhost in production"))
	}
	return errors.Join(errs...)
}

type appConfig struct {
	Environment config.Environment `koanf:"environment"`
	DB          dbSection          `koanf:"db"`
	Name        string             `koanf:"name"`
}

func defaults() appConfig {
	c := appConfig{Environment: config.Development, Name: "app"}
	c.DB.Host, c.DB.Port, c.DB.Timeout = "localhost", 6379, 5*time.Second
	return c
}

func writeFile(t *testing.T, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "config.yaml")
	if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func load(t *testing.T, file string, env ...string) (appConfig, error) {
	t.Helper()
	c := defaults()
	err := config.Load(&c, config.Options{File: file, Environ: append([]string{}, env...)})
	return c, err
}

func TestLayeringDefaultsFileEnvironment(t *testing.T) {
	file := writeFile(t, "db:\n  host: filehost\n  port: 7000\nname: fromfile\n")
	c, err := load(t, file, "DB__PORT=8000")
	if err != nil {
		t.Fatal(err)
	}
	if c.DB.Host != "filehost" {
		t.Errorf("file should override default host: got %q", c.DB.Host)
	}
	if c.DB.Port != 8000 {
		t.Errorf("environment should override file port: got %d", c.DB.Port)
	}
	if c.DB.Timeout != 5*time.Second {
		t.Errorf("default timeout should survive: got %s", c.DB.Timeout)
	}
	if c.Name != "fromfile" {
		t.Errorf("name: got %q", c.Name)
	}
}

func TestEnvironmentDefaultsApplyBelowFileAndEnv(t *testing.T) {
	c, err := load(t, "", "ENVIRONMENT=production", "DB__HOST=db.example.com")
	if err != nil {
		t.Fatal(err)
	}
	if !c.DB.Required {
		t.Error("production default should make db.required true")
	}
	c, err = load(t, writeFile(t, "environment: production\ndb:\n  host: db.example.com\n  required: false\n"))
	if err != nil {
		t.Fatal(err)
	}
	if c.DB.Required {
		t.Error("an explicit required: false in the file must win over the environment default")
	}
	c, err = load(t, "")
	if err != nil {
		t.Fatal(err)
	}
	if c.DB.Required {
		t.Error("development default should make db.required false")
	}
}

func TestDurationsAcceptGoSyntaxAndSeconds(t *testing.T) {
	for in, want := range map[string]time.Duration{"250ms": 250 * time.Millisecond, "5": 5 * time.Second, "1.5": 1500 * time.Millisecond, "2m": 2 * time.Minute} {
		c, err := load(t, "", "DB__TIMEOUT="+in)
		if err != nil {
			t.Fatalf("%s: %v", in, err)
		}
		if c.DB.Timeout != want {
			t.Errorf("DB__TIMEOUT=%s: got %s want %s", in, c.DB.Timeout, want)
		}
	}
	c, err := load(t, writeFile(t, "db:\n  timeout: 7\n"))
	if err != nil || c.DB.Timeout != 7*time.Second {
		t.Errorf("YAML number of seconds: got %s, %v", c.DB.Timeout, err)
	}
}

func TestListsFromYAMLAndCommaSeparatedEnv(t *testing.T) {
	c, err := load(t, "", "DB__ADDRS=a:1, b:2,,c:3")
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(c.DB.Addrs, "|") != "a:1|b:2|c:3" {
		t.Errorf("env list: %q", c.DB.Addrs)
	}
	c, err = load(t, writeFile(t, "db:\n  addrs: [x:1, y:2]\n"))
	if err != nil || strings.Join(c.DB.Addrs, "|") != "x:1|y:2" {
		t.Errorf("yaml list: %q %v", c.DB.Addrs, err)
	}
}

func TestUnknownKeysAndWrongTypesAreListedTogether(t *testing.T) {
	file := writeFile(t, "db:\n  hots: typo\n  port: abc\n  required: maybe\n  tls:\n    ca_fil: x\nextra: 1\n")
	_, err := load(t, file, "DB__TIMEOUT=soon", "DB__RATIO=x")
	var errs config.Errors
	if !errors.As(err, &errs) {
		t.Fatalf("want config.Errors, got %v", err)
	}
	want := []string{"db.hots", "db.tls.ca_fil", "extra", "db.port", "db.timeout", "db.required", "db.ratio"}
	for _, k := range want {
		if !contains(errs.Keys(), k) {
			t.Errorf("missing problem for %s in:\n%v", k, err)
		}
	}
	msg := err.Error()
	for _, frag := range []string{"unknown key in " + file, "expected an integer", "expected a duration", "(from DB__TIMEOUT)", "expected true or false", "expected a number"} {
		if !strings.Contains(msg, frag) {
			t.Errorf("message lacks %q:\n%s", frag, msg)
		}
	}
}

func TestSectionGivenAScalarIsAnError(t *testing.T) {
	_, err := load(t, writeFile(t, "db: 5\n"))
	if err == nil || !strings.Contains(err.Error(), "db: expected a mapping") {
		t.Fatalf("got %v", err)
	}
}

func TestUnknownEnvironmentVariablesAreIgnored(t *testing.T) {
	c, err := load(t, "", "PATH=/bin", "DB__NOPE=1", "KUBERNETES_SERVICE_HOST=10.0.0.1", "db__port=1")
	if err != nil {
		t.Fatal(err)
	}
	if c.DB.Port != 6379 {
		t.Errorf("lower-case variable must not match: port %d", c.DB.Port)
	}
}

func TestValidationListsEveryProblemByKeyPath(t *testing.T) {
	_, err := load(t, "", "ENVIRONMENT=production", "DB__PORT=0")
	var errs config.Errors
	if !errors.As(err, &errs) {
		t.Fatalf("want Errors, got %v", err)
	}
	if got := strings.Join(errs.Keys(), ","); got != "db.port,db.host" {
		t.Errorf("keys: %s\n%v", got, err)
	}
	if !strings.HasPrefix(err.Error(), "invalid configuration:\n  - db.port: must be positive\n  - db.host: must not be localhost in production") {
		t.Errorf("message:\n%s", err)
	}
}

func TestInvalidEnvironment(t *testing.T) {
	_, err := load(t, "", "ENVIRONMENT=prod")
	if err == nil || !strings.Contains(err.Error(), "environment: must be one of development, test, staging, production") {
		t.Fatalf("got %v", err)
	}
}

func TestMissingFileIsAnError(t *testing.T) {
	_, err := load(t, filepath.Join(t.TempDir(), "absent.yaml"))
	if err == nil || !strings.Contains(err.Error(), "absent.yaml") {
		t.Fatalf("got %v", err)
	}
}

func TestWrongTypeOfSecretDoesNotEchoIt(t *testing.T) {
	_, err := load(t, writeFile(t, "db:\n  password: [hunter2]\n"))
	if err == nil || strings.Contains(err.Error(), "hunter2") {
		t.Fatalf("got %v", err)
	}
}

func TestMarshalRedacted(t *testing.T) {
	c, err := load(t, "", "DB__PASSWORD=s3cret-pw", "DB__URL=redis://user:url-pw@h:6379/0")
	if err != nil {
		t.Fatal(err)
	}
	out, err := config.MarshalRedacted(&c)
	if err != nil {
		t.Fatal(err)
	}
	s := string(out)
	for _, secret := range []string{"s3cret-pw", "url-pw"} {
		if strings.Contains(s, secret) {
			t.Errorf("secret %q in output:\n%s", secret, s)
		}
	}
	for _, want := range []string{`password: '***'`, `url: redis://user:***@h:6379/0`, "timeout: 5s", "port: 6379"} {
		if !strings.Contains(s, want) {
			t.Errorf("output lacks %q:\n%s", want, s)
		}
	}
	// The output loads back.
	c2 := defaults()
	if err := config.Load(&c2, config.Options{File: writeFile(t, s), Environ: []string{}}); err != nil {
		t.Fatalf("redacted output does not load back: %v", err)
	}
	if got := config.SecretsOf(&c); !contains(got, "s3cret-pw") || !contains(got, "url-pw") {
		t.Errorf("SecretsOf: %q", got)
	}
}

func TestRedactURL(t *testing.T) {
	cases := map[string]string{
		"redis://u:p@h:1/0":  "redis://u:***@h:1/0",
		"rediss://:p@h:1":    "rediss://:***@h:1",
		"redis://h:1":        "redis://h:1",
		"":                   "",
		"redis://u:p@h:x y/": config.Redacted,
		// A user without a password is often a password written as the user.
		"redis://s3cr3t@h:1/0": "redis://***@h:1/0",
	}
	for in, want := range cases {
		if got := config.RedactURL(in); got != want {
			t.Errorf("RedactURL(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestEnvName(t *testing.T) {
	if got := config.EnvName("redis.tls.ca_file"); got != "REDIS__TLS__CA_FILE" {
		t.Error(got)
	}
}

func contains[T comparable](list []T, v T) bool {
	for _, x := range list {
		if x == v {
			return true
		}
	}
	return false
}

// Sources lists the keys the file or the environment set, and only those: a
// value equal to the default counts as set when it was given.
func TestSourcesNameWhatWasSet(t *testing.T) {
	file := writeFile(t, "db:\n  host: localhost\n  port: 7000\n")
	c := defaults()
	sources := map[string]string{}
	if err := config.Load(&c, config.Options{File: file, Environ: []string{"DB__PORT=8000", "NAME=app", "OTHER=x"}, Sources: sources}); err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"db.host": file, "db.port": "DB__PORT", "name": "NAME"}
	if len(sources) != len(want) {
		t.Errorf("sources %v, want %v", sources, want)
	}
	for k, v := range want {
		if sources[k] != v {
			t.Errorf("sources[%s] = %q, want %q", k, sources[k], v)
		}
	}
}

// A file of several YAML documents was read up to the first "---" and the
// rest ignored without a word; it is refused. A leading "---" and an empty
// file are one document or none, and fine.
func TestSeveralYAMLDocumentsAreRefused(t *testing.T) {
	_, err := load(t, writeFile(t, "db:\n  host: a\n---\ndb:\n  host: b\n"))
	if err == nil || !strings.Contains(err.Error(), "2 YAML documents") {
		t.Fatalf("got %v", err)
	}
	for _, body := range []string{"", "---\n", "---\ndb:\n  host: a\n", "db:\n  host: a\n...\n"} {
		if _, err := load(t, writeFile(t, body)); err != nil {
			t.Errorf("%q: %v", body, err)
		}
	}
}

// errors.As finds a problem in what Load returns.
func TestErrorsUnwrapToFieldErrors(t *testing.T) {
	_, err := load(t, "", "DB__PORT=0")
	var fe *config.FieldError
	if !errors.As(err, &fe) || fe.Key != "db.port" {
		t.Errorf("errors.As: %v %v", fe, err)
	}
}
