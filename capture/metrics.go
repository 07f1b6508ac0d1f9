package capture

import "github.com/prometheus/client_golang/prometheus"

// liveCollector reads a live source's counters at scrape time, so the
// packet path only bumps an atomic.
type liveCollector struct {
	src     liveStatser
	packets *prometheus.Desc
	drops   *prometheus.Desc
	freezes *prometheus.Desc
}

// liveStatser is the part of a LiveSource the collector reads.
type liveStatser interface {
	Stats() (LiveStats, error)
}

// newLiveCollector describes the metrics of the source capturing on iface.
func newLiveCollector(src liveStatser, iface string) *liveCollector {
	labels := prometheus.Labels{"iface": iface}
	return &liveCollector{
		src: src,
		packets: prometheus.NewDesc("sipscope_capture_packets_total",
			"Packets the live capture socket accepted after its filter (including those then dropped).", nil, labels),
		drops: prometheus.NewDesc("sipscope_capture_kernel_drops_total",
			"Packets the kernel dropped because the capture ring was full.", nil, labels),
		freezes: prometheus.NewDesc("sipscope_capture_freeze_queue_total",
			"Times the capture ring filled up and the kernel froze it.", nil, labels),
	}
}

func (c *liveCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.packets
	ch <- c.drops
	ch <- c.freezes
}

func (c *liveCollector) Collect(ch chan<- prometheus.Metric) {
	st, err := c.src.Stats()
	if err != nil {
		ch <- prometheus.NewInvalidMetric(c.packets, err)
		return
	}
	ch <- prometheus.MustNewConstMetric(c.packets, prometheus.CounterValue, float64(st.Packets))
	ch <- prometheus.MustNewConstMetric(c.drops, prometheus.CounterValue, float64(st.KernelDrops))
	ch <- prometheus.MustNewConstMetric(c.freezes, prometheus.CounterValue, float64(st.FreezeQueue))
}
