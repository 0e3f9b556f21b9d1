package app

import (
	"context"
	"fmt"

	"github.com/redifx/redifx/modules/jobs"
	"github.com/redifx/redifx/modules/metrics"
	"github.com/redifx/redifx/modules/realtime"
	"go.uber.org/fx"
)

// degradedSignalDBM: ONUs at or below this receive power count as degraded.
const degradedSignalDBM = -28.0

// dashboard wires the platform's KPI sections and the job that recomputes a
// tenant's dashboard.
var dashboard = fx.Options(
	fx.Provide(
		metrics.AsSourceProvider(jobsSource),
		metrics.AsSourceProvider(networkSource),
		metrics.AsSourceProvider(realtimeSource),
	),
	fx.Provide(fx.Annotate(refreshDashboardJob, fx.ResultTags(`group:"`+jobs.HandlersGroup+`"`))),
)

func jobsSource(q *jobs.Queue) metrics.Source {
	return metrics.Source{Name: "jobs", Compute: func(ctx context.Context, tenant string) (any, error) {
		s, err := q.Statistics(ctx, tenant)
		if err != nil {
			return nil, err
		}
		out := map[string]any{"total": s.Total, "success_rate": s.SuccessRate, "avg_duration_seconds": s.AvgDurationSeconds}
		for st, n := range s.ByStatus {
			out[string(st)] = n
		}
		return out, nil
	}}
}

func networkSource(h *realtime.Hub) metrics.Source {
	return metrics.Source{Name: "network", Compute: func(ctx context.Context, tenant string) (any, error) {
		onus, err := h.ONUs(ctx, tenant)
		if err != nil {
			return nil, err
		}
		out := map[string]any{"onus_total": len(onus), "onus_online": 0, "onus_offline": 0, "onus_degraded": 0, "degraded_onus": 0, "avg_signal_dbm": nil}
		var sum float64
		var n int
		for _, o := range onus {
			switch o.Status {
			case "online":
				out["onus_online"] = out["onus_online"].(int) + 1
			case "offline":
				out["onus_offline"] = out["onus_offline"].(int) + 1
			case "degraded":
				out["onus_degraded"] = out["onus_degraded"].(int) + 1
			}
			if o.SignalDBM != nil {
				sum += *o.SignalDBM
				n++
				if *o.SignalDBM <= degradedSignalDBM {
					out["degraded_onus"] = out["degraded_onus"].(int) + 1
				}
			}
		}
		if n > 0 {
			out["avg_signal_dbm"] = sum / float64(n)
		}
		return out, nil
	}}
}

func realtimeSource(h *realtime.Hub) metrics.Source {
	return metrics.Source{Name: "realtime", Compute: func(ctx context.Context, tenant string) (any, error) {
		clients, err := h.ConnectedClients(ctx, tenant)
		if err != nil {
			return nil, err
		}
		counts, err := h.EventCounts(ctx, tenant, 60*60e9)
		if err != nil {
			return nil, err
		}
		return map[string]any{"connected_clients": clients, "events_last_hour": counts}, nil
	}}
}

// refreshDashboardJob recomputes the tenant's dashboard and refreshes its
// cache: real work for the scheduler (say, every few minutes). It takes no
// parameters.
func refreshDashboardJob(d *metrics.Dashboard) jobs.Registration {
	return jobs.Registration{Type: "metrics.refresh_dashboard", Validate: jobs.NoParameters, Handler: func(ctx context.Context, j *jobs.Job, progress jobs.Progress) (any, error) {
		if err := d.Invalidate(ctx, j.TenantID); err != nil {
			return nil, fmt.Errorf("invalidating the cache: %w", err)
		}
		_, info := d.Get(ctx, j.TenantID)
		progress(ctx, jobs.ProgressUpdate{Percent: 100, ItemsProcessed: 1, ItemsSucceeded: 1, CurrentItem: "dashboard"})
		return map[string]any{"cached": info.Available}, nil
	}}
}
