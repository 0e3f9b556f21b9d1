package httpserver_test

import (
	"errors"
	"math"
	"testing"
	"time"

	"github.com/redifx/redifx/modules/config"
	"github.com/redifx/redifx/modules/httpserver"
)

// An http.addr that cannot be listened on is a configuration problem naming
// the key, found before start-up rather than as a listen error.
func TestListenAddressIsValidated(t *testing.T) {
	for _, addr := range []string{"", ":99999", ":-1", ":+80", ":http", "8080", " :8080", "a b:8080", "h:"} {
		cfg := httpserver.DefaultConfig()
		cfg.Addr = addr
		var fe *config.FieldError
		if err := cfg.Validate(config.Development); !errors.As(err, &fe) || fe.Key != "addr" {
			t.Errorf("http.addr %q: %v", addr, err)
		}
	}
	for _, addr := range []string{":8080", "127.0.0.1:0", "[::1]:65535", "localhost:1"} {
		cfg := httpserver.DefaultConfig()
		cfg.Addr = addr
		if err := cfg.Validate(config.Development); err != nil {
			t.Errorf("http.addr %q refused: %v", addr, err)
		}
	}
}

// Huge durations must not wrap the stop budget into a negative (an immediate
// stop that would cut every in-flight request).
func TestStopBudgetSaturates(t *testing.T) {
	cfg := httpserver.DefaultConfig()
	cfg.DrainDelay, cfg.ShutdownTimeout = math.MaxInt64-time.Second, time.Hour
	if b := cfg.StopBudget(); b < cfg.ShutdownTimeout {
		t.Errorf("stop budget %s", b)
	}
}

// Bodies are read into memory: http.max_body_bytes has an upper bound too.
func TestMaxBodyBytesIsBounded(t *testing.T) {
	for _, n := range []int64{0, -1, httpserver.MaxBodyBytesLimit + 1, math.MaxInt64} {
		cfg := httpserver.DefaultConfig()
		cfg.MaxBodyBytes = n
		var fe *config.FieldError
		if err := cfg.Validate(config.Development); !errors.As(err, &fe) || fe.Key != "max_body_bytes" {
			t.Errorf("max_body_bytes %d: %v", n, err)
		}
	}
	cfg := httpserver.DefaultConfig()
	cfg.MaxBodyBytes = httpserver.MaxBodyBytesLimit
	if err := cfg.Validate(config.Development); err != nil {
		t.Errorf("the largest limit: %v", err)
	}
}
