package redis

import "github.com/prometheus/client_golang/prometheus"

// PoolCollector exports every client's pool statistics as Prometheus metrics
// (redifx_redis_pool_*), labelled by client name. Register it with any registry;
// in an Fx app it joins the collectors group (see module.go).
type PoolCollector struct {
	m                                                        *Manager
	hits, misses, timeouts, waits, waitSeconds, stale, total *prometheus.Desc
	idle                                                     *prometheus.Desc
}

// NewPoolCollector returns a collector over m's pools.
func NewPoolCollector(m *Manager) *PoolCollector {
	d := func(name, help string) *prometheus.Desc {
		return prometheus.NewDesc("redifx_redis_pool_"+name, help, []string{"client"}, nil)
	}
	return &PoolCollector{
		m:           m,
		hits:        d("hits_total", "Times a free connection was found in the pool."),
		misses:      d("misses_total", "Times no free connection was in the pool and one was dialled."),
		timeouts:    d("timeouts_total", "Times waiting for a pool connection timed out."),
		waits:       d("waits_total", "Times a caller waited for a pool connection."),
		waitSeconds: d("wait_duration_seconds_total", "Total time spent waiting for a pool connection."),
		stale:       d("stale_connections_total", "Stale connections removed from the pool."),
		total:       d("connections", "Connections in the pool."),
		idle:        d("idle_connections", "Idle connections in the pool."),
	}
}

// Describe implements prometheus.Collector.
func (c *PoolCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.hits, c.misses, c.timeouts, c.waits, c.waitSeconds, c.stale, c.total, c.idle} {
		ch <- d
	}
}

// Collect implements prometheus.Collector.
func (c *PoolCollector) Collect(ch chan<- prometheus.Metric) {
	for _, nc := range c.m.unique {
		s := fromGoRedis(nc.client.PoolStats())
		counter := func(d *prometheus.Desc, v float64) {
			ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, v, nc.name)
		}
		gauge := func(d *prometheus.Desc, v float64) {
			ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, nc.name)
		}
		counter(c.hits, float64(s.Hits))
		counter(c.misses, float64(s.Misses))
		counter(c.timeouts, float64(s.Timeouts))
		counter(c.waits, float64(s.WaitCount))
		counter(c.waitSeconds, s.WaitDurationSeconds)
		counter(c.stale, float64(s.StaleConns))
		gauge(c.total, float64(s.TotalConns))
		gauge(c.idle, float64(s.IdleConns))
	}
}
