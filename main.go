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
//	redifx help                        print the usage (also --help, and COMMAND --help)
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
	"math"
	"net"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/redifx/redifx/internal/app"
	"github.com/redifx/redifx/modules/auth"
	"github.com/redifx/redifx/modules/config"
	"github.com/redifx/redifx/modules/httpserver"
	"github.com/redifx/redifx/modules/logging"
	"go.uber.org/dig"
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
	} else if len(args) > 0 && isHelp(args[0]) {
		cmd = "help"
	}
	switch cmd {
	case "serve":
		return serve(args, environ, stdout, stderr)
	case "config":
		return printConfig(args, environ, stdout, stderr)
	case "healthcheck":
		return healthcheck(args, environ, stdout, stderr)
	case "token":
		return token(args, environ, stdout, stderr)
	case "version":
		fmt.Fprintln(stdout, version)
		return exitOK
	case "help":
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
  redifx help                      print this help (also: redifx --help, redifx COMMAND --help)
The config file may also be given as CONFIG_FILE; environment variables such as
REDIS__HOST override it.
Permissions: `+strings.Join(knownPermissions, ", ")+`. Roles: `+strings.Join(knownRoles, ", ")+`.
`)
}

func isHelp(arg string) bool { return arg == "-h" || arg == "-help" || arg == "--help" }

// knownPermissions are the permissions redifx's modules check; knownRoles the
// roles they know. redifx token refuses others: a token with a misspelt
// permission would be refused by every endpoint.
var (
	knownPermissions = []string{
		auth.PermJobsRead, auth.PermJobsWrite, auth.PermJobsCancel, auth.PermJobsSchedule,
		auth.PermRealtimeRead, auth.PermRealtimePublish, auth.PermMetricsRead, auth.PermMetricsManage,
	}
	knownRoles = []string{auth.RoleAdmin}
)

// parseFlags parses a command's flags (--config and those extra adds). On
// --help it prints the usage and the command's flags to stdout and returns
// exitOK with ok=false; on a bad command line, exitUsage with ok=false.
func parseFlags(name string, args, environ []string, stdout, stderr io.Writer, extra func(*flag.FlagSet)) (file string, code int, ok bool) {
	fs := flag.NewFlagSet("redifx "+name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&file, "config", lookup(environ, "CONFIG_FILE"), "YAML configuration file (default $CONFIG_FILE)")
	if extra != nil {
		extra(fs)
	}
	fs.Usage = func() {}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			usage(stdout)
			fmt.Fprintf(stdout, "\nflags of redifx %s:\n", name)
			fs.SetOutput(stdout)
			fs.PrintDefaults()
			return "", exitOK, false
		}
		fmt.Fprintf(stderr, "redifx %s: see redifx %s --help\n", name, name)
		return "", exitUsage, false
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "redifx %s: unexpected argument %q\n", name, fs.Arg(0))
		return "", exitUsage, false
	}
	return file, exitOK, true
}

// loadConfig parses the flags and loads the configuration; on --help, a bad
// command line or a configuration problem it prints what to and returns the
// exit code with ok=false.
func loadConfig(name string, args, environ []string, stdout, stderr io.Writer, extra func(*flag.FlagSet)) (app.Config, int, bool) {
	file, code, ok := parseFlags(name, args, environ, stdout, stderr, extra)
	if !ok {
		return app.Config{}, code, false
	}
	cfg, err := app.Load(file, environ)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return app.Config{}, exitUsage, false
	}
	return cfg, exitOK, true
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
	cfg, code, ok := loadConfig("config", args, environ, stdout, stderr, nil)
	if !ok {
		return code
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
	fs.Usage = func() {}
	if err := fs.Parse(args); err != nil || fs.NArg() > 0 {
		if errors.Is(err, flag.ErrHelp) {
			usage(stdout)
			fmt.Fprintln(stdout, "\nflags of redifx healthcheck:")
			fs.SetOutput(stdout)
			fs.PrintDefaults()
			return exitOK
		}
		fmt.Fprintln(stderr, "redifx healthcheck: see redifx healthcheck --help")
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
		*url = "http://" + probeAddr(addr) + "/health/ready"
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

// probeAddr is where a local probe reaches a server listening on addr: the
// loopback address when it listens on every interface (or names no host),
// else the host it names (a server bound to one address, [::1] say, is not
// reachable on 127.0.0.1).
func probeAddr(addr string) string {
	host, port, _ := net.SplitHostPort(addr)
	if ip := net.ParseIP(host); host == "" || ip != nil && ip.IsUnspecified() {
		host = "127.0.0.1"
	}
	return net.JoinHostPort(host, port)
}

func token(args, environ []string, stdout, stderr io.Writer) int {
	var sub, tenant string
	var perms, roles listFlag
	ttl := ttlFlag(time.Hour)
	file, code, ok := parseFlags("token", args, environ, stdout, stderr, func(fs *flag.FlagSet) {
		fs.StringVar(&sub, "sub", "", "subject (user id); required")
		fs.StringVar(&tenant, "tenant", "", "tenant_id")
		fs.Var(&perms, "perm", "comma-separated permissions, repeatable: "+strings.Join(knownPermissions, ", "))
		fs.Var(&roles, "role", "comma-separated roles, repeatable: "+strings.Join(knownRoles, ", "))
		fs.Var(&ttl, "ttl", "lifetime, such as 1h, 90m or a number of seconds; from 1s to 8760h (a year)")
	})
	if !ok {
		return code
	}
	cfg, err := app.Load(file, environ)
	// Production refuses first: whatever else is wrong with the configuration
	// there, the answer is that tokens come from the identity provider.
	if cfg.Environment.IsProduction() || config.Environment(strings.TrimSpace(lookup(environ, "ENVIRONMENT"))).IsProduction() {
		fmt.Fprintln(stderr, "redifx token:", auth.ErrMintRefused)
		return exitFailure
	}
	if bad := unknown(perms, knownPermissions); len(bad) > 0 {
		fmt.Fprintf(stderr, "redifx token: unknown permission %s; known permissions: %s\n",
			strings.Join(bad, ", "), strings.Join(knownPermissions, ", "))
		return exitUsage
	}
	if bad := unknown(roles, knownRoles); len(bad) > 0 {
		fmt.Fprintf(stderr, "redifx token: unknown role %s; known roles: %s\n",
			strings.Join(bad, ", "), strings.Join(knownRoles, ", "))
		return exitUsage
	}
	if d := time.Duration(ttl); d < time.Second || d > maxTokenTTL {
		fmt.Fprintf(stderr, "redifx token: --ttl must be between 1s and 8760h (a year), got %s\n", d)
		return exitUsage
	}
	if strings.TrimSpace(sub) == "" || strings.IndexFunc(sub, unicode.IsControl) >= 0 {
		fmt.Fprintf(stderr, "redifx token: --sub must name the user, without control characters, got %q\n", sub)
		return exitUsage
	}
	if err != nil {
		fmt.Fprintln(stderr, err)
		return exitUsage
	}
	tok, err := auth.Mint(cfg.Auth, cfg.Environment, auth.TokenRequest{
		Subject: sub, TenantID: tenant, Permissions: []string(perms), Roles: []string(roles), TTL: time.Duration(ttl),
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

// maxTokenTTL is the longest lifetime redifx token signs: a year. A
// development token is a convenience, not a credential to keep.
const maxTokenTTL = 365 * 24 * time.Hour

// ttlFlag is a lifetime: Go duration syntax or a plain number of seconds,
// like durations in the configuration.
type ttlFlag time.Duration

func (f *ttlFlag) String() string { return time.Duration(*f).String() }

func (f *ttlFlag) Set(s string) error {
	s = strings.TrimSpace(s)
	if d, err := time.ParseDuration(s); err == nil {
		*f = ttlFlag(d)
		return nil
	}
	secs, err := strconv.ParseFloat(s, 64)
	if err != nil || math.IsNaN(secs) || math.IsInf(secs, 0) || math.Abs(secs) > maxTokenTTL.Seconds()*2 {
		return fmt.Errorf("want a duration such as 1h or 90m, or a number of seconds up to 8760h (a year)")
	}
	*f = ttlFlag(time.Duration(secs * float64(time.Second)))
	return nil
}

// listFlag collects comma-separated items; the flag may be repeated, and
// empty items are ignored.
type listFlag []string

func (f *listFlag) String() string { return strings.Join(*f, ",") }

func (f *listFlag) Set(s string) error {
	*f = append(*f, splitList(s)...)
	return nil
}

// unknown returns the items that are not in known.
func unknown(items, known []string) []string {
	var out []string
	for _, it := range items {
		if !slices.Contains(known, it) {
			out = append(out, strconv.Quote(it))
		}
	}
	return out
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

func serve(args, environ []string, stdout, stderr io.Writer) int {
	cfg, code, ok := loadConfig("serve", args, environ, stdout, stderr, nil)
	if !ok {
		return code
	}
	secrets := config.SecretsOf(&cfg)
	fail := func(what string, err error) int {
		fmt.Fprintf(stderr, "redifx: %s: %s\n", what, logging.Scrub(err.Error(), secrets))
		return exitFailure
	}

	var srv *httpserver.Server
	a := fx.New(app.Options(&cfg, version), fx.Populate(&srv))
	if err := a.Err(); err != nil {
		// The constructor's own error, which names the setting, without Fx's
		// and dig's chain of "could not build arguments for function …".
		return fail("cannot build the application", dig.RootCause(err))
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
