package e2e

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/redifx/redifx/modules/redis/redistest"
)

func TestScheduleOverTenSlotsWithThreeReplicas(t *testing.T) {
	srv := redistest.Start(t)
	f := startFleet(t, 3, productionEnv("REDIS__URL="+srv.URL()))
	tok := mint(t, "acme", "jobs.read,jobs.write,jobs.schedule")
	code, s := apiCall(t, "POST", f.lb+"/api/v1/jobs/scheduler/scheduled-jobs", tok, `{"name":"tick","job_type":"noop","interval_seconds":1,"max_concurrent_runs":3}`)
	if code != 201 {
		t.Fatalf("%d %v", code, s)
	}
	sid := s["id"].(string)
	created, _ := time.Parse(time.RFC3339Nano, s["created_at"].(string))
	// Ten slots: created_at + 1s … + 10s. Switch it off between slot 10 and 11.
	time.Sleep(time.Until(created.Add(10*time.Second + 500*time.Millisecond)))
	if code, _ := apiCall(t, "PATCH", f.lb+"/api/v1/jobs/scheduler/scheduled-jobs/"+sid, tok, `{"is_active":false}`); code != 200 {
		t.Fatalf("deactivate: %d", code)
	}
	time.Sleep(300 * time.Millisecond)
	_, s = apiCall(t, "GET", f.lb+"/api/v1/jobs/scheduler/scheduled-jobs/"+sid, tok, "")
	if s["total_runs"] != 10.0 {
		t.Errorf("ten slots with three replicas: total_runs %v", s["total_runs"])
	}
	_, list := apiCall(t, "GET", f.lb+"/api/v1/jobs?page_size=100", tok, "")
	runs := 0
	for _, j := range list["jobs"].([]any) {
		if j.(map[string]any)["scheduled_job_id"] == sid {
			runs++
		}
	}
	if runs != 10 {
		t.Errorf("%d jobs for ten slots", runs)
	}
}

func TestRedisOutageEveryReplicaRecoversWithoutRestart(t *testing.T) {
	srv := redistest.Start(t)
	f := startFleet(t, 3, productionEnv("REDIS__URL="+srv.URL()))
	srv.Kill()
	for i, r := range f.replicas {
		deadline := time.Now().Add(5 * time.Second)
		for {
			code, body, err := r.get("/health/ready")
			if err == nil && code == 503 && fmt.Sprint(body["failed_services"]) == "[redis]" {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("replica %d readiness during the outage: %d %v %v", i, code, body, err)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	tok := mint(t, "acme", "jobs.write")
	if code, body := apiCall(t, "POST", f.replicas[0].base+"/api/v1/jobs", tok, `{"job_type":"noop","title":"x"}`); code != 503 || body["error"] != "unavailable" {
		t.Errorf("API during the outage: %d %v", code, body)
	}
	srv.Restart()
	for i, r := range f.replicas {
		deadline := time.Now().Add(10 * time.Second)
		for {
			if code, _, err := r.get("/health/ready"); err == nil && code == 200 {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("replica %d did not recover", i)
			}
			time.Sleep(50 * time.Millisecond)
		}
		select {
		case <-r.done:
			t.Errorf("replica %d exited", i)
		default:
		}
	}
	if code, body := apiCall(t, "POST", f.lb+"/api/v1/jobs", tok, `{"job_type":"noop","title":"x"}`); code != 201 {
		t.Errorf("after recovery: %d %v", code, body)
	}
}

// serves checks that a replica creates and completes a job and delivers an event.
func serves(t *testing.T, base, tok string, within time.Duration) error {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		err := func() error {
			ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
			defer cancel()
			req, _ := http.NewRequestWithContext(ctx, http.MethodGet, base+"/api/v1/realtime/alerts", nil)
			req.Header.Set("Authorization", "Bearer "+tok)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				return err
			}
			defer resp.Body.Close()
			if resp.StatusCode != 200 {
				return fmt.Errorf("stream: %d", resp.StatusCode)
			}
			code, out := apiCall(t, "POST", base+"/api/v1/realtime/alerts", tok, `{"event_type":"alert.raised","alert_id":"x","severity":"info","message":"m"}`)
			if code != 202 {
				return fmt.Errorf("publish: %d %v", code, out)
			}
			buf := make([]byte, 64<<10)
			var got strings.Builder
			for !strings.Contains(got.String(), "id: "+out["id"].(string)) {
				n, err := resp.Body.Read(buf)
				got.Write(buf[:n])
				if err != nil {
					return fmt.Errorf("event not received: %v", err)
				}
			}
			code, job := apiCall(t, "POST", base+"/api/v1/jobs", tok, `{"job_type":"noop","title":"x"}`)
			if code != 201 {
				return fmt.Errorf("job: %d %v", code, job)
			}
			for i := 0; i < 50; i++ {
				if _, j := apiCall(t, "GET", base+"/api/v1/jobs/"+job["id"].(string), tok, ""); j["status"] == "completed" {
					return nil
				}
				time.Sleep(50 * time.Millisecond)
			}
			return fmt.Errorf("job not completed")
		}()
		if err == nil {
			return nil
		}
		if time.Now().After(deadline) {
			return err
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func TestSentinelFailoverIsFollowedByEveryReplica(t *testing.T) {
	s := redistest.StartSentinel(t, "mymaster", redistest.WithSentinels(3), redistest.WithPassword("sentinel-e2e-pw"))
	f := startFleet(t, 2, productionEnv("REDIS__MODE=sentinel", "REDIS__ADDRS="+strings.Join(s.Addrs(), ","),
		"REDIS__MASTER_NAME=mymaster", "REDIS__PASSWORD=sentinel-e2e-pw"))
	tok := mint(t, "acme", "jobs.read,jobs.write,realtime.read,realtime.publish")
	for _, r := range f.replicas {
		if err := serves(t, r.base, tok, 5*time.Second); err != nil {
			t.Fatalf("before failover: %v", err)
		}
	}
	s.Master.Kill()
	killed := time.Now()
	for i, r := range f.replicas {
		if err := serves(t, r.base, tok, 15*time.Second); err != nil {
			t.Fatalf("replica %d after failover: %v", i, err)
		}
	}
	t.Logf("every replica served jobs and streams again %s after the master was killed", time.Since(killed).Round(100*time.Millisecond))
	if took := time.Since(killed); took > 15*time.Second {
		t.Errorf("recovery took %s", took)
	}
}

func TestClusterFlows(t *testing.T) {
	cl := redistest.StartCluster(t)
	f := startFleet(t, 2, productionEnv("REDIS__MODE=cluster", "REDIS__ADDRS="+strings.Join(cl.Addrs(), ",")))
	tok := mint(t, "acme", "jobs.read,jobs.write,jobs.schedule,realtime.read,realtime.publish,metrics.read")
	for _, r := range f.replicas {
		if err := serves(t, r.base, tok, 5*time.Second); err != nil {
			t.Fatal(err)
		}
	}
	code, d := apiCall(t, "GET", f.lb+"/api/v1/metrics/dashboard", tok, "")
	if code != 200 || d["cache"].(map[string]any)["available"] != true || d["jobs"].(map[string]any)["completed"] == nil {
		t.Errorf("dashboard on Cluster: %d %v", code, d)
	}
	code, s := apiCall(t, "POST", f.lb+"/api/v1/jobs/scheduler/scheduled-jobs", tok, `{"name":"c","job_type":"noop","interval_seconds":1}`)
	if code != 201 {
		t.Fatalf("%d %v", code, s)
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		_, cur := apiCall(t, "GET", f.lb+"/api/v1/jobs/scheduler/scheduled-jobs/"+s["id"].(string), tok, "")
		if cur["total_runs"].(float64) >= 2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("schedule on Cluster: %v", cur)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
