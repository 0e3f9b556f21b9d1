package jobs_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/redifx/redifx/modules/jobs"
	"github.com/redifx/redifx/modules/redis/redistest"
	"go.uber.org/zap"
)

// A damaged job record at the head of a queue, on the due delayed list and
// on the expired lease list made every dequeue and every sweep fail: no
// worker ran anything again. Now it is skipped and logged once per list, and
// jobs go on running, delayed ones included.
func TestPoisonJobDoesNotStallTheWorkers(t *testing.T) {
	srv := redistest.Start(t)
	redistest.RequireReal(t)
	in := startValid(t, srv.URL(), true)
	tok := token(t, "acme", allPerms...)
	ctx := context.Background()
	if err := jobs.PlantPoisonJobForTest(ctx, in.q, "damaged1"); err != nil {
		t.Fatal(err)
	}
	now := create(t, &instance{base: in.base}, tok, map[string]any{"job_type": "noop"})
	later := create(t, &instance{base: in.base}, tok, map[string]any{"job_type": "noop", "run_at": time.Now().Add(300 * time.Millisecond).Format(time.RFC3339Nano)})
	waitStatus(t, &instance{base: in.base}, tok, now["id"].(string), "completed", 10*time.Second)
	waitStatus(t, &instance{base: in.base}, tok, later["id"].(string), "completed", 10*time.Second)
	logged := in.logs.FilterMessage("jobs.poison_job_skipped").FilterField(zap.String("job_id", "damaged1"))
	eventually(t, "the poison job logged by dequeue and sweep", 5*time.Second, func() bool {
		return logged.FilterField(zap.String("script", "dequeue")).Len() == 1 && logged.FilterField(zap.String("script", "sweep")).Len() >= 1
	})
	// Each list gave it up: it is not met (nor logged) again.
	if n := logged.FilterField(zap.String("script", "dequeue")).Len(); n != 1 {
		t.Errorf("dequeue logged it %d times", n)
	}
	if n := logged.FilterField(zap.String("script", "sweep")).Len(); n > 2 {
		t.Errorf("sweep logged it %d times, want once per list (leases, delayed)", n)
	}
}

// A damaged schedule record (its key not a hash, or a hash the fire script
// refuses) was retried, and logged, on every tick forever. Now it leaves the
// due list once, logged, and other schedules go on firing.
func TestPoisonScheduleLeavesTheDueList(t *testing.T) {
	srv := redistest.Start(t)
	redistest.RequireReal(t)
	in := startValid(t, srv.URL(), true)
	tok := token(t, "acme", allPerms...)
	ctx := context.Background()
	if err := jobs.PlantPoisonScheduleForTest(ctx, in.q, "damaged2"); err != nil {
		t.Fatal(err)
	}
	// A schedule whose stored tenant id the fire script refuses.
	code, s := call(t, "POST", in.base+schedulesPath, tok, map[string]any{"name": "bad tenant", "job_type": "noop", "interval_seconds": 3600})
	if code != 201 {
		t.Fatalf("create: %d %v", code, s)
	}
	bad := s["id"].(string)
	if err := jobs.StoreScheduleFieldsForTest(ctx, in.q, bad, map[string]string{"tenant_id": "a:b", "next_run_at": "1"}, time.UnixMilli(1)); err != nil {
		t.Fatal(err)
	}
	code, control := call(t, "POST", in.base+schedulesPath, tok, map[string]any{"name": "control", "job_type": "noop", "interval_seconds": 1, "max_concurrent_runs": 5})
	if code != 201 {
		t.Fatalf("control schedule: %d %v", code, control)
	}
	for _, id := range []string{"damaged2", bad} {
		eventually(t, id+" off the due list", 5*time.Second, func() bool {
			due, err := jobs.ScheduleDueForTest(ctx, in.q, id)
			return err == nil && !due
		})
	}
	eventually(t, "the control schedule to fire twice", 10*time.Second, func() bool {
		_, c := call(t, "GET", in.base+schedulesPath+"/"+control["id"].(string), tok, nil)
		return c["total_runs"].(float64) >= 2
	})
	if n := in.logs.FilterMessage("jobs.schedule_poison_skipped").FilterField(zap.String("schedule_id", "damaged2")).Len(); n != 1 {
		t.Errorf("the damaged schedule key was logged %d times, want once", n)
	}
	if n := in.logs.FilterMessage("jobs.schedule_never_fires").FilterField(zap.String("schedule_id", bad)).Len(); n != 1 {
		t.Errorf("the refused schedule was logged %d times, want once", n)
	}
	if n := in.logs.FilterMessage("jobs.schedule_fire_failed").Len(); n != 0 {
		t.Errorf("fire failures logged %d times", n)
	}
}

// A stored job or schedule whose JSON fields were altered outside redifx
// (parameters "{bad", a progress of NaN) made the answer fail to encode:
// 200 with an empty body, for the job and for the tenant's whole list. The
// bad fields now read as null (0 for the progress) and the rest is shown.
func TestCorruptStoredFieldsStillEncode(t *testing.T) {
	srv := redistest.Start(t)
	in := startValid(t, srv.URL(), false)
	tok := token(t, "acme", allPerms...)
	ctx := context.Background()
	j := create(t, &instance{base: in.base}, tok, map[string]any{"job_type": "noop"})
	id := j["id"].(string)
	if err := jobs.StoreJobFieldsForTest(ctx, in.q, id, map[string]string{
		"parameters": "{bad", "result": "nan", "error_details": "[", "progress_percent": "NaN",
	}); err != nil {
		t.Fatal(err)
	}
	code, got := call(t, "GET", in.base+"/api/v1/jobs/"+id, tok, nil)
	if code != 200 || got["id"] != id || got["parameters"] != nil || got["result"] != nil || got["error_details"] != nil || got["progress_percent"] != 0.0 {
		t.Errorf("get: %d %v", code, got)
	}
	code, list := call(t, "GET", in.base+"/api/v1/jobs", tok, nil)
	if code != 200 || list["total"] != 1.0 {
		t.Errorf("list: %d %v", code, list)
	}
	for _, f := range []map[string]string{
		{"progress_percent": "Inf"}, {"progress_percent": "-Inf"}, {"progress_percent": "1e999"},
		{"created_at": "9223372036854775807"}, {"started_at": "-9223372036854775808"}, {"run_at": "253402300800000"},
	} {
		_ = jobs.StoreJobFieldsForTest(ctx, in.q, id, f)
		p := fmt.Sprint(f)
		if code, got := call(t, "GET", in.base+"/api/v1/jobs/"+id, tok, nil); code != 200 || got["id"] != id {
			t.Errorf("progress %s: %d %v", p, code, got)
		}
	}
	code, s := call(t, "POST", in.base+schedulesPath, tok, map[string]any{"name": "n", "job_type": "noop", "interval_seconds": 3600})
	if code != 201 {
		t.Fatalf("schedule: %d %v", code, s)
	}
	sid := s["id"].(string)
	if err := jobs.StoreScheduleFieldsForTest(ctx, in.q, sid, map[string]string{"parameters": "{x", "last_run_at": "9223372036854775807"}, time.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if code, got := call(t, "GET", in.base+schedulesPath+"/"+sid, tok, nil); code != 200 || got["id"] != sid || got["parameters"] != nil {
		t.Errorf("get schedule: %d %v", code, got)
	}
	if code, list := call(t, "GET", in.base+schedulesPath, tok, nil); code != 200 || list["total"] != 1.0 {
		t.Errorf("list schedules: %d %v", code, list)
	}
}
