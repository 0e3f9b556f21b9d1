package config_test

import (
	"fmt"
	"time"

	"github.com/redifx/redifx/modules/config"
)

func ExampleLoad() {
	type server struct {
		Addr    string        `koanf:"addr"`
		Timeout time.Duration `koanf:"timeout"`
		Token   string        `koanf:"token" secret:"true"`
	}
	type appConfig struct {
		Environment config.Environment `koanf:"environment"`
		Server      server             `koanf:"server"`
	}
	cfg := appConfig{Environment: config.Development, Server: server{Addr: ":8080", Timeout: 5 * time.Second}}
	err := config.Load(&cfg, config.Options{Environ: []string{"SERVER__TIMEOUT=2", "SERVER__TOKEN=t0ps3cret"}})
	fmt.Println(err, cfg.Server.Timeout)

	out, _ := config.MarshalRedacted(&cfg)
	fmt.Print(string(out))

	err = config.Load(&cfg, config.Options{Environ: []string{"SERVER__TIMEOUT=soon", "ENVIRONMENT=prod"}})
	fmt.Println(err)
	// Output:
	// <nil> 2s
	// environment: development
	// server:
	//   addr: :8080
	//   timeout: 2s
	//   token: '***'
	// invalid configuration:
	//   - server.timeout: expected a duration such as 5s, 250ms or a number of seconds, got "soon" (from SERVER__TIMEOUT)
}
