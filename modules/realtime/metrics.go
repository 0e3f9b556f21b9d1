package realtime

import "github.com/prometheus/client_golang/prometheus"

// Collector exports the hub's figures (redifx_realtime_*).
type Collector struct {
	h                                                          *Hub
	clients, published, delivered, dropped, slow, resubscribes *prometheus.Desc
	rejected                                                   *prometheus.Desc
}

// NewCollector returns a collector over h.
func NewCollector(h *Hub) *Collector {
	d := func(name, help string) *prometheus.Desc {
		return prometheus.NewDesc("redifx_realtime_"+name, help, nil, nil)
	}
	return &Collector{
		h:            h,
		clients:      d("clients_connected", "Open event streams in this process."),
		published:    d("events_published_total", "Events published through this process."),
		delivered:    d("events_delivered_total", "Events written to clients of this process."),
		dropped:      d("events_dropped_total", "Events not queued because a client's buffer was full."),
		slow:         d("slow_client_disconnects_total", "Clients disconnected for being too slow."),
		resubscribes: d("resubscribes_total", "Times the Redis subscription was re-established."),
		rejected:     d("streams_rejected_total", "Stream requests refused because a client limit was reached."),
	}
}

// Describe implements prometheus.Collector.
func (c *Collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.clients, c.published, c.delivered, c.dropped, c.slow, c.resubscribes, c.rejected} {
		ch <- d
	}
}

// Collect implements prometheus.Collector.
func (c *Collector) Collect(ch chan<- prometheus.Metric) {
	s := &c.h.stats
	ch <- prometheus.MustNewConstMetric(c.clients, prometheus.GaugeValue, float64(s.ConnectedGauge.Load()))
	for _, m := range []struct {
		d *prometheus.Desc
		v uint64
	}{
		{c.published, s.Published.Load()}, {c.delivered, s.Delivered.Load()}, {c.dropped, s.Dropped.Load()},
		{c.slow, s.SlowDisconnects.Load()}, {c.resubscribes, s.Resubscribes.Load()}, {c.rejected, s.RejectedFull.Load()},
	} {
		ch <- prometheus.MustNewConstMetric(m.d, prometheus.CounterValue, float64(m.v))
	}
}
