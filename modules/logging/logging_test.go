package logging_test

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/redifx/redifx/modules/config"
	"github.com/redifx/redifx/modules/logging"
	"go.uber.org/fx"
	"go.uber.org/fx/fxevent"
	"go.uber.org/fx/fxtest"
	"go.uber.org/goleak"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

type buffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *buffer) Write(p []byte) (int, error) { b.mu.Lock(); defer b.mu.Unlock(); return b.b.Write(p) }
func (b *buffer) Sync() error                 { return nil }
func (b *buffer) String() string              { b.mu.Lock(); defer b.mu.Unlock(); return b.b.String() }

func TestSecretsAreScrubbedFromEveryPartOfALine(t *testing.T) {
	var buf buffer
	log, err := logging.NewWithSink(logging.Config{Level: "debug", Format: "json"}, config.Secrets{"hunter2"}, &buf)
	if err != nil {
		t.Fatal(err)
	}
	cause := fmt.Errorf("dial redis://app:hunter2@db:6379/0: %w", errors.New("connection refused"))
	log.With(zap.String("ctx", "pw=hunter2")).Error("connecting to redis://app:other-pw@db:6379 failed with hunter2",
		zap.Error(cause),
		zap.String("url", "rediss://:third-pw@db:6380"),
		zap.Stringer("stringer", stringer("has hunter2")),
	)
	out := buf.String()
	for _, secret := range []string{"hunter2", "other-pw", "third-pw"} {
		if strings.Contains(out, secret) {
			t.Errorf("%q leaked: %s", secret, out)
		}
	}
	for _, want := range []string{"redis://app:***@db:6379", "rediss://:***@db:6380", "connection refused", `"ctx":"pw=***"`} {
		if !strings.Contains(out, want) {
			t.Errorf("line lacks %q: %s", want, out)
		}
	}
}

type stringer string

func (s stringer) String() string { return string(s) }

func TestLevelAndFormat(t *testing.T) {
	var buf buffer
	log, err := logging.NewWithSink(logging.Config{Level: "warn", Format: "console"}, nil, &buf)
	if err != nil {
		t.Fatal(err)
	}
	log.Info("quiet")
	log.Warn("loud")
	if out := buf.String(); strings.Contains(out, "quiet") || !strings.Contains(out, "loud") || strings.HasPrefix(out, "{") {
		t.Errorf("unexpected output: %s", out)
	}
}

func TestValidate(t *testing.T) {
	c := logging.Config{Level: "loud", Format: "xml"}
	err := c.Validate(config.Development)
	if err == nil || !strings.Contains(err.Error(), "must be debug, info, warn or error") || !strings.Contains(err.Error(), "must be json or console") {
		t.Errorf("got %v", err)
	}
}

func TestProductionDefaultsToJSON(t *testing.T) {
	type cfg struct {
		Environment config.Environment `koanf:"environment"`
		Log         logging.Config     `koanf:"log"`
	}
	c := cfg{Log: logging.DefaultConfig()}
	if err := config.Load(&c, config.Options{Environ: []string{"ENVIRONMENT=production"}}); err != nil {
		t.Fatal(err)
	}
	if c.Log.Format != logging.FormatJSON {
		t.Errorf("format %q", c.Log.Format)
	}
}

func TestModuleProvidesLoggerAndFxEventsAreQuietAtInfo(t *testing.T) {
	var log *zap.Logger
	app := fxtest.New(t,
		fx.Supply(logging.Config{Level: "info", Format: "json"}),
		logging.Module,
		logging.FxEventLogger,
		fx.Populate(&log),
	)
	app.RequireStart().RequireStop()
	if log == nil || !log.Core().Enabled(zapcore.InfoLevel) || log.Core().Enabled(zapcore.DebugLevel) {
		t.Fatal("logger not provided at info level")
	}
}

func TestFxEventsAreQuietAtInfoButErrorsShow(t *testing.T) {
	var buf buffer
	log, err := logging.NewWithSink(logging.Config{Level: "info", Format: "json"}, nil, &buf)
	if err != nil {
		t.Fatal(err)
	}
	el := logging.NewEventLogger(log)
	el.LogEvent(&fxevent.Started{})
	el.LogEvent(&fxevent.Provided{ConstructorName: "x", OutputTypeNames: []string{"y"}})
	if out := buf.String(); out != "" {
		t.Errorf("Fx events at info: %s", out)
	}
	el.LogEvent(&fxevent.Started{Err: errors.New("start failed badly")})
	if !strings.Contains(buf.String(), "start failed badly") {
		t.Errorf("an Fx error must show at info: %q", buf.String())
	}
}

// Only the documented levels are accepted: zap's parser also takes "" and
// dpanic, panic and fatal, which would hide every ERROR event.
func TestOnlyDocumentedLevels(t *testing.T) {
	for _, l := range []string{"", "fatal", "panic", "dpanic", "FATAL", "trace", " info"} {
		c := logging.Config{Level: l, Format: "json"}
		var fe *config.FieldError
		if err := c.Validate(config.Development); !errors.As(err, &fe) || fe.Key != "level" {
			t.Errorf("level %q: %v", l, err)
		}
	}
	for _, l := range []string{"debug", "info", "warn", "error", "DEBUG", "Info", "WARNING"} {
		c := logging.Config{Level: l, Format: "json"}
		if err := c.Validate(config.Development); err != nil {
			t.Errorf("level %q refused: %v", l, err)
		}
	}
}
