// Command redifx is the redifx platform service: the redifx modules composed
// into one binary, run as several replicas behind a load balancer.
//
// Usage:
//
//	redifx [serve] [--config FILE]     run the service (the default command)
//	redifx config [--config FILE]      print the effective configuration, secrets as ***
//	redifx healthcheck [--url URL]     exit 0 when /health/ready answers 200, else 1
//	redifx token --sub U --tenant T --perm a,b [--role admin] [--ttl 1h]
//	                                   print a signed token (not in production)
//	redifx version                     print the version
//
// The configuration file may also be named by CONFIG_FILE; environment variables
// override it (REDIS__HOST sets redis.host).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/redifx/redifx/internal/app"
	"github.com/redifx/redifx/modules/auth"
	"github.com/redifx/redifx/modules/config"
	"github.com/redifx/redifx/modules/httpserver"
	"github.com/redifx/redifx/modules/logging"
	"go.uber.org/fx"
)

// version is set at build time with -ldflags "-X main.version=…".
var version = "dev"

// Exit codes.
const (
	exitOK      = 0
	exitFailure = 1
	exitUsage   = 2 // bad command line or invalid configuration
)

func main() {
	os.Exit(run(os.Args[1:], os.Environ(), os.Stdout, os.Stderr))
}

func run(args, environ []string, stdout, stderr io.Writer) int {
	cmd := "serve"
	if len(args) > 0 && len(args[0]) > 0 && args[0][0] != '-' {
		cmd, args = args[0], args[1:]
	}
	switch cmd {
	case "serve":
		return serve(args, environ, stderr)
	case "config":
		return printConfig(args, environ, stdout, stderr)
	case "healthcheck":
		return healthcheck(args, environ, stdout, stderr)
	case "token":
		return token(args, environ, stdout, stderr)
	case "version":
		fmt.Fprintln(stdout, version)
		return exitOK
	case "help", "-h", "--help":
		usage(stdout)
		return exitOK
	}
	fmt.Fprintf(stderr, "redifx: unknown command %q\n", cmd)
	usage(stderr)
	return exitUsage
}

func usage(w io.Writer) {
	fmt.Fprint(w, `usage:
  redifx [serve] [--config FILE]   run the service
  redifx config [--config FILE]    print the effective configuration (secrets as ***)
  redifx healthcheck [--url URL]   exit 0 when the service is ready, 1 otherwise
  redifx token --sub U --tenant T --perm jobs.read,jobs.write [--role admin] [--ttl 1h]
                                   print a signed token for this service (refused in production)
  redifx version                   print the version
The config file may also be given as CONFIG_FILE; environment variables such as
REDIS__HOST override it.
`)
}

// loadConfig parses --config and loads the configuration; on failure it prints
// the problems and returns ok=false.
func loadConfig(name string, args, environ []string, stderr io.Writer, extra func(*flag.FlagSet)) (app.Config, bool) {
	fs := flag.NewFlagSet("redifx "+name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	file := fs.String("config", lookup(environ, "CONFIG_FILE"), "YAML configuration file (default $CONFIG_FILE)")
	if extra != nil {
		extra(fs)
	}
	if err := fs.Parse(args); err != nil {
		return app.Config{}, false
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "redifx %s: unexpected argument %q\n", name, fs.Arg(0))
		return app.Config{}, false
	}
	cfg, err := app.Load(*file, environ)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return app.Config{}, false
	}
	return cfg, true
}

func lookup(environ []string, key string) string {
	for i := len(environ) - 1; i >= 0; i-- {
		if k, v, ok := cut(environ[i]); ok && k == key {
			return v
		}
	}
	return ""
}

func cut(kv string) (string, string, bool) {
	for i := range len(kv) {
		if kv[i] == '=' {
			return kv[:i], kv[i+1:], true
		}
	}
	return "", "", false
}

func printConfig(args, environ []string, stdout, stderr io.Writer) int {
	cfg, ok := loadConfig("config", args, environ, stderr, nil)
	if !ok {
		return exitUsage
	}
	out, err := config.MarshalRedacted(&cfg)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return exitFailure
	}
	_, _ = stdout.Write(out)
	return exitOK
}

func healthcheck(args, environ []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("redifx healthcheck", flag.ContinueOnError)
	fs.SetOutput(stderr)
	url := fs.String("url", "", "readiness URL (default http://127.0.0.1:<http.addr port>/health/ready)")
	file := fs.String("config", lookup(environ, "CONFIG_FILE"), "YAML configuration file (default $CONFIG_FILE)")
	if err := fs.Parse(args); err != nil || fs.NArg() > 0 {
		return exitUsage
	}
	if *url == "" {
		// Only http.addr matters here: a probe (a sidecar, say) may lack the
		// service's secrets, so other configuration problems are ignored.
		cfg, _ := app.Load(*file, environ)
		addr := cfg.HTTP.Addr
		if addr == "" {
			addr = httpserver.DefaultConfig().Addr
		}
		_, port, _ := net.SplitHostPort(addr)
		*url = "http://127.0.0.1:" + port + "/health/ready"
	}
	client := &http.Client{Timeout: 5 * time.Second}
	resp, err := client.Get(*url)
	if err != nil {
		fmt.Fprintf(stderr, "redifx healthcheck: %v\n", err)
		return exitFailure
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	fmt.Fprintf(stdout, "%d %s\n", resp.StatusCode, body)
	if resp.StatusCode != http.StatusOK {
		return exitFailure
	}
	return exitOK
}

func token(args, environ []string, stdout, stderr io.Writer) int {
	var sub, tenant, perms, roles string
	var ttl time.Duration
	cfg, ok := loadConfig("token", args, environ, stderr, func(fs *flag.FlagSet) {
		fs.StringVar(&sub, "sub", "", "subject (user id); required")
		fs.StringVar(&tenant, "tenant", "", "tenant_id")
		fs.StringVar(&perms, "perm", "", "comma-separated permissions, e.g. jobs.read,jobs.write")
		fs.StringVar(&roles, "role", "", "comma-separated roles, e.g. admin")
		fs.DurationVar(&ttl, "ttl", time.Hour, "lifetime")
	})
	if !ok {
		return exitUsage
	}
	tok, err := auth.Mint(cfg.Auth, cfg.Environment, auth.TokenRequest{
		Subject: sub, TenantID: tenant, Permissions: splitList(perms), Roles: splitList(roles), TTL: ttl,
	})
	if err != nil {
		fmt.Fprintln(stderr, "redifx token:", err)
		return exitFailure
	}
	if !cfg.Auth.HasKey() {
		fmt.Fprintln(stderr, "redifx token: signed with the public development secret")
	}
	fmt.Fprintln(stdout, tok)
	return exitOK
}

func splitList(s string) []string {
	out := []string{}
	for _, part := range strings.Split(s, ",") {
		if part = strings.TrimSpace(part); part != "" {
			out = append(out, part)
		}
	}
	return out
}

func serve(args, environ []string, stderr io.Writer) int {
	cfg, ok := loadConfig("serve", args, environ, stderr, nil)
	if !ok {
		return exitUsage
	}
	secrets := config.SecretsOf(&cfg)
	fail := func(what string, err error) int {
		fmt.Fprintf(stderr, "redifx: %s: %s\n", what, logging.Scrub(err.Error(), secrets))
		return exitFailure
	}

	var srv *httpserver.Server
	a := fx.New(app.Options(&cfg, version), fx.Populate(&srv))
	if err := a.Err(); err != nil {
		return fail("cannot build the application", err)
	}
	startCtx, cancel := context.WithTimeout(context.Background(), a.StartTimeout())
	defer cancel()
	if err := a.Start(startCtx); err != nil {
		return fail("start failed", err)
	}

	sig := <-a.Wait()
	// Readiness turns 503 at once, before any module stops.
	srv.BeginDrain()

	stopCtx, cancelStop := context.WithTimeout(context.Background(), a.StopTimeout())
	defer cancelStop()
	if err := a.Stop(stopCtx); err != nil && !errors.Is(err, context.Canceled) {
		return fail("stop failed", err)
	}
	return sig.ExitCode
}
