package httpserver

import (
	"context"
	"testing"
	"time"

	"go.uber.org/fx"
	"go.uber.org/zap"
)

// A serve error after a successful start shuts the app down with exit code 1.
func TestServeErrorShutsTheAppDownWithExitCode1(t *testing.T) {
	cfg := DefaultConfig()
	cfg.Addr = "127.0.0.1:0"
	var srv *Server
	app := fx.New(fx.NopLogger, fx.Supply(cfg, zap.NewNop()), Module, fx.Populate(&srv))
	if err := app.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	_ = srv.ln.Close() // the listener dies under the server
	select {
	case sig := <-app.Wait():
		if sig.ExitCode != 1 {
			t.Errorf("exit code %d, want 1", sig.ExitCode)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("app did not shut down after the serve error")
	}
	if err := app.Stop(context.Background()); err != nil {
		t.Logf("stop: %v", err)
	}
}
