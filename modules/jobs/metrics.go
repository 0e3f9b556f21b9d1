package jobs

import (
	"context"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Metrics are the jobs series (redifx_jobs_*); the Queue and its workers feed
// them and Collect reads queue depth from Redis at scrape time.
type Metrics struct {
	q         *Queue
	enqueued  *prometheus.CounterVec
	started   *prometheus.CounterVec
	completed *prometheus.CounterVec
	failed    *prometheus.CounterVec
	recovered *prometheus.CounterVec
	running   prometheus.Gauge
	wait      prometheus.Histogram
	depth     *prometheus.Desc
}

func newMetrics(q *Queue) *Metrics {
	byType := func(name, help string) *prometheus.CounterVec {
		return prometheus.NewCounterVec(prometheus.CounterOpts{Name: "redifx_jobs_" + name, Help: help}, []string{"job_type"})
	}
	return &Metrics{
		q:         q,
		enqueued:  byType("enqueued_total", "Jobs created, by type."),
		started:   byType("started_total", "Job runs started by this process, by type."),
		completed: byType("completed_total", "Jobs completed by this process, by type."),
		failed:    byType("failed_total", "Job attempts that failed (including timeouts) in this process, by type."),
		recovered: byType("recovered_total", "Jobs put back after a lost lease or a shutdown (never counted as attempts), by type."),
		running:   prometheus.NewGauge(prometheus.GaugeOpts{Name: "redifx_jobs_running", Help: "Jobs running in this process."}),
		wait: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "redifx_jobs_wait_seconds", Help: "Time from a job becoming due to its start.",
			Buckets: []float64{.001, .005, .01, .05, .1, .5, 1, 5, 10, 30, 60, 300},
		}),
		depth: prometheus.NewDesc("redifx_jobs_queue_depth", "Jobs waiting in each priority queue.", []string{"priority"}, nil),
	}
}

// Describe implements prometheus.Collector.
func (m *Metrics) Describe(ch chan<- *prometheus.Desc) {
	for _, c := range []prometheus.Collector{m.enqueued, m.started, m.completed, m.failed, m.recovered, m.running, m.wait} {
		c.Describe(ch)
	}
	ch <- m.depth
}

// Collect implements prometheus.Collector.
func (m *Metrics) Collect(ch chan<- prometheus.Metric) {
	for _, c := range []prometheus.Collector{m.enqueued, m.started, m.completed, m.failed, m.recovered, m.running, m.wait} {
		c.Collect(ch)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	for _, p := range Priorities {
		n, err := m.q.rdb.LLen(ctx, m.q.k.queue(p)).Result()
		if err != nil {
			return
		}
		ch <- prometheus.MustNewConstMetric(m.depth, prometheus.GaugeValue, float64(n), p)
	}
}

// Metrics returns the queue's series, to register with a registry.
func (q *Queue) Metrics() *Metrics { return q.metrics }
