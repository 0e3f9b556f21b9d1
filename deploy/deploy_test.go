// Package deploy_test checks that the deploy files agree with the binary: every
// variable they set is a configuration key, they run in production, probe
// paths and ports exist, and grace periods cover the drain.
package deploy_test

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redifx/redifx/internal/app"
	"github.com/redifx/redifx/modules/config"
	"go.uber.org/goleak"
	"go.yaml.in/yaml/v3"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// configVars is every environment variable the binary reads.
func configVars(t *testing.T) map[string]bool {
	t.Helper()
	def := app.DefaultConfig()
	keys, err := config.Keys(&def)
	if err != nil {
		t.Fatal(err)
	}
	vars := map[string]bool{"CONFIG_FILE": true}
	for _, k := range keys {
		vars[config.EnvName(k)] = true
	}
	return vars
}

func readYAMLDocs(t *testing.T, path string) []map[string]any {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	dec := yaml.NewDecoder(strings.NewReader(string(raw)))
	var docs []map[string]any
	for {
		var d map[string]any
		if err := dec.Decode(&d); err != nil {
			break
		}
		if d != nil {
			docs = append(docs, d)
		}
	}
	if len(docs) == 0 {
		t.Fatalf("%s: no YAML document", path)
	}
	return docs
}

func dig(v any, path ...any) any {
	for _, p := range path {
		switch k := p.(type) {
		case string:
			m, ok := v.(map[string]any)
			if !ok {
				return nil
			}
			v = m[k]
		case int:
			l, ok := v.([]any)
			if !ok || k >= len(l) {
				return nil
			}
			v = l[k]
		}
	}
	return v
}

// composeEnv maps each redifx service of docker-compose.yml to its environment.
func composeEnv(t *testing.T) map[string]map[string]string {
	t.Helper()
	doc := readYAMLDocs(t, "docker-compose.yml")[0]
	out := map[string]map[string]string{}
	for name, svc := range doc["services"].(map[string]any) {
		if !strings.HasPrefix(name, "redifx") {
			continue
		}
		env := map[string]string{}
		for k, v := range dig(svc, "environment").(map[string]any) {
			env[k] = fmt.Sprint(v)
		}
		out[name] = env
	}
	if len(out) < 2 {
		t.Fatalf("docker-compose.yml runs %d redifx replicas, want at least 2", len(out))
	}
	return out
}

// k8s returns the base resources by kind, and the production overlay's
// ConfigMap patch data.
func k8s(t *testing.T) (map[string]map[string]any, map[string]any) {
	t.Helper()
	byKind := map[string]map[string]any{}
	files, _ := filepath.Glob("k8s/base/*.yaml")
	for _, f := range files {
		for _, d := range readYAMLDocs(t, f) {
			if kind, ok := d["kind"].(string); ok {
				byKind[kind] = d
			}
		}
	}
	overlay := readYAMLDocs(t, "k8s/overlays/production/kustomization.yaml")[0]
	var patchData map[string]any
	for _, p := range overlay["patches"].([]any) {
		if dig(p, "target", "kind") != "ConfigMap" {
			continue
		}
		var doc map[string]any
		if err := yaml.Unmarshal([]byte(dig(p, "patch").(string)), &doc); err != nil {
			t.Fatal(err)
		}
		patchData, _ = doc["data"].(map[string]any)
	}
	return byKind, patchData
}

func TestEveryVariableIsAConfigurationKey(t *testing.T) {
	vars := configVars(t)
	check := func(where, name string) {
		if !vars[name] {
			t.Errorf("%s sets %s, which maps to no configuration key", where, name)
		}
	}
	for svc, env := range composeEnv(t) {
		for k := range env {
			check("docker-compose.yml "+svc, k)
		}
	}
	byKind, patch := k8s(t)
	for k := range byKind["ConfigMap"]["data"].(map[string]any) {
		check("k8s/base/configmap.yaml", k)
	}
	for k := range patch {
		check("k8s production overlay", k)
	}
	if s := byKind["Secret"]; s != nil {
		for _, field := range []string{"stringData", "data"} {
			if m, ok := s[field].(map[string]any); ok {
				for k := range m {
					check("k8s secret", k)
				}
			}
		}
	}
	for _, e := range dig(byKind["Deployment"], "spec", "template", "spec", "containers", 0, "env").([]any) {
		check("k8s deployment", dig(e, "name").(string))
	}
}

func TestEveryDeployFileRunsInProduction(t *testing.T) {
	for svc, env := range composeEnv(t) {
		if env["ENVIRONMENT"] != "production" {
			t.Errorf("docker-compose.yml %s: ENVIRONMENT=%q", svc, env["ENVIRONMENT"])
		}
	}
	byKind, _ := k8s(t)
	found := false
	for _, e := range dig(byKind["Deployment"], "spec", "template", "spec", "containers", 0, "env").([]any) {
		if dig(e, "name") == "ENVIRONMENT" && dig(e, "value") == "production" {
			found = true
		}
	}
	if !found {
		t.Error("the k8s Deployment does not set ENVIRONMENT=production")
	}
	docker, err := os.ReadFile("Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	if !regexp.MustCompile(`(?m)^ENV\s+ENVIRONMENT[= ]production`).Match(docker) {
		t.Error("the Dockerfile does not default ENVIRONMENT to production")
	}
	if !regexp.MustCompile(`(?m)^USER\s+[1-9][0-9]*(:[0-9]+)?\s*$`).Match(docker) {
		t.Error("the Dockerfile does not run as a numeric non-root USER")
	}
	if !strings.Contains(string(docker), "healthcheck") || !strings.Contains(string(docker), "HEALTHCHECK") {
		t.Error("the Dockerfile has no HEALTHCHECK through redifx healthcheck")
	}
}

// load builds the configuration a deploy file gives the binary.
func load(t *testing.T, env map[string]string) app.Config {
	t.Helper()
	environ := []string{"ENVIRONMENT=production"}
	for k, v := range env {
		if strings.Contains(v, "${") {
			v = strings.Repeat("x", 40) // a secret from the .env file
		}
		environ = append(environ, k+"="+v)
	}
	environ = append(environ, "AUTH__JWT_SECRET="+strings.Repeat("s", 40))
	cfg, err := app.Load("", environ)
	if err != nil {
		t.Fatalf("the deploy settings do not load: %v", err)
	}
	return cfg
}

func budget(cfg app.Config) time.Duration {
	return cfg.HTTP.DrainDelay + cfg.HTTP.ShutdownTimeout + cfg.Jobs.ShutdownGrace
}

func TestGracePeriodsCoverTheDrain(t *testing.T) {
	for svc, env := range composeEnv(t) {
		cfg := load(t, env)
		raw := readYAMLDocs(t, "docker-compose.yml")[0]
		grace, err := time.ParseDuration(fmt.Sprint(dig(raw, "services", svc, "stop_grace_period")))
		if err != nil {
			t.Fatalf("%s: stop_grace_period: %v", svc, err)
		}
		if grace <= budget(cfg) {
			t.Errorf("%s: stop_grace_period %s is not above drain+shutdown+jobs grace %s", svc, grace, budget(cfg))
		}
	}
	byKind, patch := k8s(t)
	env := map[string]string{}
	for k, v := range byKind["ConfigMap"]["data"].(map[string]any) {
		env[k] = fmt.Sprint(v)
	}
	cfg := load(t, env)
	grace := time.Duration(dig(byKind["Deployment"], "spec", "template", "spec", "terminationGracePeriodSeconds").(int)) * time.Second
	if grace <= budget(cfg) {
		t.Errorf("terminationGracePeriodSeconds %s is not above drain+shutdown+jobs grace %s", grace, budget(cfg))
	}
	// The production overlay (Sentinel) loads too.
	for k, v := range patch {
		if v == nil {
			delete(env, k)
		} else {
			env[k] = fmt.Sprint(v)
		}
	}
	if c := load(t, env); c.Redis.Mode != "sentinel" || c.Redis.MasterName == "" || len(c.Redis.Addrs) < 3 {
		t.Errorf("production overlay: %+v", c.Redis)
	}
}

func TestProbesAndPortsExist(t *testing.T) {
	byKind, _ := k8s(t)
	env := map[string]string{}
	for k, v := range byKind["ConfigMap"]["data"].(map[string]any) {
		env[k] = fmt.Sprint(v)
	}
	cfg := load(t, env)
	_, portStr, _ := net.SplitHostPort(cfg.HTTP.Addr)
	port, _ := strconv.Atoi(portStr)
	c := dig(byKind["Deployment"], "spec", "template", "spec", "containers", 0)
	ports := map[string]int{}
	for _, p := range dig(c, "ports").([]any) {
		ports[dig(p, "name").(string)] = dig(p, "containerPort").(int)
	}
	if ports["http"] != port {
		t.Errorf("container port http=%d, the binary listens on %d", ports["http"], port)
	}
	known := map[string]bool{"/health": true, "/health/live": true, "/health/ready": true, "/health/redis": true}
	for _, probe := range []string{"startupProbe", "readinessProbe", "livenessProbe"} {
		path, _ := dig(c, probe, "httpGet", "path").(string)
		if !known[path] {
			t.Errorf("%s path %q is not a health endpoint", probe, path)
		}
		if p := dig(c, probe, "httpGet", "port"); p != "http" && p != port {
			t.Errorf("%s port %v", probe, p)
		}
	}
	if dig(c, "readinessProbe", "httpGet", "path") != "/health/ready" {
		t.Error("readiness must probe /health/ready (503 while draining or when Redis is down)")
	}
	if dig(c, "livenessProbe", "httpGet", "path") != "/health/live" {
		t.Error("liveness must probe /health/live (a Redis outage must not restart pods)")
	}
	svcPort := dig(byKind["Service"], "spec", "ports", 0, "targetPort")
	if svcPort != "http" && svcPort != port {
		t.Errorf("service targetPort %v", svcPort)
	}
}

func TestNginxKeepsStreamsAlive(t *testing.T) {
	raw, err := os.ReadFile("nginx.conf")
	if err != nil {
		t.Fatal(err)
	}
	conf := string(raw)
	for _, want := range []string{"proxy_http_version 1.1", "proxy_buffering off", "include upstreams.conf", "include listen.conf", "http_503"} {
		if !strings.Contains(conf, want) {
			t.Errorf("nginx.conf lacks %q", want)
		}
	}
	m := regexp.MustCompile(`location /api/v1/realtime/ \{[^}]*proxy_read_timeout (\d+)s`).FindStringSubmatch(conf)
	if m == nil {
		t.Fatal("no proxy_read_timeout for streams")
	}
	timeout, _ := strconv.Atoi(m[1])
	if hb := app.DefaultConfig().Realtime.HeartbeatInterval; time.Duration(timeout)*time.Second <= hb {
		t.Errorf("stream read timeout %ds is not above the heartbeat interval %s", timeout, hb)
	}
}

// Every deployment names the proxy in front as trusted (so that client_ip is
// the client's, from X-Forwarded-For) and nothing wider than a private range:
// trusting every address would let any client choose its logged address.
func TestTrustedProxiesNameWhatSitsInFront(t *testing.T) {
	check := func(where string, cfg app.Config) []*net.IPNet {
		t.Helper()
		if len(cfg.HTTP.TrustedProxies) == 0 {
			t.Errorf("%s: http.trusted_proxies is not set", where)
		}
		var nets []*net.IPNet
		for _, p := range cfg.HTTP.TrustedProxies {
			_, n, err := net.ParseCIDR(p)
			if err != nil {
				t.Errorf("%s: %q is not a CIDR", where, p)
				continue
			}
			if ones, _ := n.Mask.Size(); ones < 8 || !n.IP.IsPrivate() {
				t.Errorf("%s: %s is not a private network of the deployment", where, p)
			}
			nets = append(nets, n)
		}
		return nets
	}
	raw := readYAMLDocs(t, "docker-compose.yml")[0]
	subnet, _ := dig(raw, "networks", "backend", "ipam", "config", 0, "subnet").(string)
	_, backend, err := net.ParseCIDR(subnet)
	if err != nil {
		t.Fatalf("the backend network has no fixed subnet: %q", subnet)
	}
	for svc, env := range composeEnv(t) {
		nets := check("docker-compose.yml "+svc, load(t, env))
		if len(nets) != 1 || nets[0].String() != backend.String() {
			t.Errorf("docker-compose.yml %s trusts %v, want nginx's network %s", svc, nets, backend)
		}
	}
	nginx := dig(raw, "services", "nginx", "networks")
	if fmt.Sprint(nginx) != "[backend]" {
		t.Errorf("nginx is on %v, not on the backend network", nginx)
	}
	byKind, _ := k8s(t)
	env := map[string]string{}
	for k, v := range byKind["ConfigMap"]["data"].(map[string]any) {
		env[k] = fmt.Sprint(v)
	}
	check("k8s ConfigMap", load(t, env))
}
