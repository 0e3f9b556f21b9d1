package app_test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"github.com/redifx/redifx/internal/app"
	"github.com/redifx/redifx/internal/testutil"
	"github.com/redifx/redifx/modules/httpserver"
	"github.com/redifx/redifx/modules/redis/redistest"
	"go.uber.org/fx"
	"go.uber.org/fx/fxtest"
)

// platform runs the whole application in-process, as the binary composes it.
func platform(t *testing.T, env ...string) (string, *app.Config) {
	t.Helper()
	srv := redistest.Start(t)
	cfg, err := app.Load("", append([]string{"ENVIRONMENT=test", "HTTP__ADDR=127.0.0.1:0", "REDIS__URL=" + srv.URL(),
		"AUTH__JWT_SECRET=" + strings.Repeat("s", 32), "LOG__LEVEL=error", "REALTIME__HEARTBEAT_INTERVAL=1s"}, env...))
	if err != nil {
		t.Fatal(err)
	}
	var s *httpserver.Server
	a := fxtest.New(t, app.Options(&cfg, "test"), fx.NopLogger, fx.Populate(&s))
	a.RequireStart()
	t.Cleanup(a.RequireStop)
	return "http://" + s.Addr().String(), &cfg
}

func do(t *testing.T, cfg *app.Config, method, url, tenant, body string, perms ...string) (int, map[string]any) {
	t.Helper()
	return testutil.Call(t, method, url, testutil.Token(t, cfg.Auth.JWTSecret, tenant, perms...), body)
}

func TestDashboardFiguresFromEventsAndJobs(t *testing.T) {
	base, cfg := platform(t)
	pub := func(channel, body string) {
		t.Helper()
		if code, out := do(t, cfg, "POST", base+"/api/v1/realtime/"+channel, "acme", body, "realtime.publish"); code != 202 {
			t.Fatalf("publish: %d %v", code, out)
		}
	}
	pub("onu-status", `{"event_type":"onu.online","onu_serial":"A","status":"online","signal_dbm":-20}`)
	pub("onu-status", `{"event_type":"onu.online","onu_serial":"B","status":"online","signal_dbm":-25}`)
	pub("onu-status", `{"event_type":"onu.signal_degraded","onu_serial":"B","status":"degraded","signal_dbm":-29}`) // B's latest
	pub("onu-status", `{"event_type":"onu.offline","onu_serial":"C","status":"offline"}`)
	pub("alerts", `{"event_type":"alert.raised","alert_id":"1","severity":"info","message":"m"}`)
	for _, body := range []string{`{"job_type":"noop","title":"a"}`, `{"job_type":"noop","title":"b"}`} {
		if code, out := do(t, cfg, "POST", base+"/api/v1/jobs", "acme", body, "jobs.write"); code != 201 {
			t.Fatalf("job: %d %v", code, out)
		}
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		_, s := do(t, cfg, "GET", base+"/api/v1/jobs/statistics", "acme", "", "jobs.read")
		if s["by_status"].(map[string]any)["completed"] == 2.0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("jobs not completed: %v", s)
		}
		time.Sleep(50 * time.Millisecond)
	}
	code, d := do(t, cfg, "GET", base+"/api/v1/metrics/dashboard", "acme", "", "metrics.read")
	if code != 200 {
		t.Fatalf("%d %v", code, d)
	}
	n := d["network"].(map[string]any)
	want := map[string]float64{"onus_total": 3, "onus_online": 1, "onus_offline": 1, "onus_degraded": 1, "degraded_onus": 1, "avg_signal_dbm": -24.5}
	for k, v := range want {
		if n[k] != v {
			t.Errorf("network.%s = %v, want %v", k, n[k], v)
		}
	}
	j := d["jobs"].(map[string]any)
	if j["completed"] != 2.0 || j["success_rate"] != 1.0 || j["avg_duration_seconds"] == nil || j["pending"] != 0.0 {
		t.Errorf("jobs: %v", j)
	}
	rt := d["realtime"].(map[string]any)
	ev := rt["events_last_hour"].(map[string]any)
	if ev["onu-status"] != 4.0 || ev["alerts"] != 1.0 || ev["tickets"] != 0.0 {
		t.Errorf("events_last_hour: %v", ev)
	}
	// Another tenant: zeros, null averages, every field present.
	_, g := do(t, cfg, "GET", base+"/api/v1/metrics/dashboard", "globex", "", "metrics.read")
	gn := g["network"].(map[string]any)
	if gn["onus_total"] != 0.0 || gn["avg_signal_dbm"] != nil || len(gn) != 6 {
		t.Errorf("globex network: %v", gn)
	}
	gj := g["jobs"].(map[string]any)
	if gj["total"] != 0.0 || gj["success_rate"] != nil || gj["completed"] != 0.0 {
		t.Errorf("globex jobs: %v", gj)
	}
	if g["realtime"].(map[string]any)["connected_clients"] != 0.0 {
		t.Errorf("globex realtime: %v", g["realtime"])
	}
}

func TestEverySeriesIsExposedAndMoves(t *testing.T) {
	base, cfg := platform(t)
	series := func() map[string]float64 {
		resp, err := http.Get(base + "/metrics")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		p := expfmt.NewTextParser(model.LegacyValidation)
		fams, err := p.TextToMetricFamilies(resp.Body)
		if err != nil {
			t.Fatal(err)
		}
		out := map[string]float64{}
		for name, f := range fams {
			for _, m := range f.GetMetric() {
				v := m.GetCounter().GetValue() + m.GetGauge().GetValue() + float64(m.GetHistogram().GetSampleCount())
				out[name] += v
			}
		}
		return out
	}
	before := series()
	do(t, cfg, "POST", base+"/api/v1/realtime/alerts", "acme", `{"event_type":"alert.raised","alert_id":"1","severity":"info","message":"m"}`, "realtime.publish")
	do(t, cfg, "POST", base+"/api/v1/jobs", "acme", `{"job_type":"noop","title":"a"}`, "jobs.write")
	do(t, cfg, "POST", base+"/api/v1/jobs", "acme", `{"job_type":"sleep","title":"bad","parameters":{"duration":"soon"}}`, "jobs.write") // 400: parameters are checked at enqueue
	// A job that fails when it runs: it outlasts its timeout.
	do(t, cfg, "POST", base+"/api/v1/jobs", "acme", `{"job_type":"sleep","title":"slow","max_retries":0,"timeout_seconds":1,"parameters":{"duration":"60s","steps":1}}`, "jobs.write")
	after := series()
	for deadline := time.Now().Add(15 * time.Second); after["redifx_jobs_failed_total"] <= before["redifx_jobs_failed_total"] && time.Now().Before(deadline); {
		time.Sleep(50 * time.Millisecond)
		after = series()
	}
	for _, name := range []string{"go_goroutines", "process_resident_memory_bytes", "redifx_http_requests_total", "redifx_http_request_duration_seconds",
		"redifx_http_requests_in_flight", "redifx_redis_pool_connections", "redifx_redis_pool_hits_total", "redifx_redis_command_duration_seconds",
		"redifx_realtime_clients_connected", "redifx_realtime_events_published_total", "redifx_realtime_events_delivered_total",
		"redifx_realtime_events_dropped_total", "redifx_realtime_slow_client_disconnects_total",
		"redifx_jobs_enqueued_total", "redifx_jobs_started_total", "redifx_jobs_completed_total", "redifx_jobs_failed_total",
		"redifx_jobs_recovered_total", "redifx_jobs_queue_depth", "redifx_jobs_running", "redifx_jobs_wait_seconds"} {
		if _, ok := after[name]; !ok {
			t.Errorf("missing %s", name)
		}
	}
	for _, name := range []string{"redifx_http_requests_total", "redifx_realtime_events_published_total", "redifx_jobs_enqueued_total",
		"redifx_jobs_started_total", "redifx_jobs_completed_total", "redifx_jobs_failed_total", "redifx_jobs_wait_seconds", "redifx_redis_command_duration_seconds"} {
		if after[name] <= before[name] {
			t.Errorf("%s did not move: %v → %v", name, before[name], after[name])
		}
	}
}
