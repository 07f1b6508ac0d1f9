package bpf

import "github.com/prometheus/client_golang/prometheus"

// filterCollector reads the filter's counters at scrape time: the kernel
// counts, so there is nothing to update on the packet path.
type filterCollector struct {
	filter *Filter
	seen   *prometheus.Desc
	byCls  *prometheus.Desc
}

// RegisterMetrics registers on reg the counters of f:
// sipscope_bpf_packets_seen_total (every packet the filter ran on) and
// sipscope_bpf_packets_total{class} with class sip, rtp, learned, frag, hep,
// tunnel (kept) or dropped; the classes add up to the packets seen. A registry takes
// one Filter (the metrics carry no label to tell two apart).
func RegisterMetrics(reg prometheus.Registerer, f *Filter) error {
	return reg.Register(&filterCollector{
		filter: f,
		seen: prometheus.NewDesc("sipscope_bpf_packets_seen_total",
			"Packets the eBPF socket filter ran on.", nil, nil),
		byCls: prometheus.NewDesc("sipscope_bpf_packets_total",
			"Packets the eBPF socket filter classified, by the class that kept them, or dropped.",
			[]string{"class"}, nil),
	})
}

func (c *filterCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.seen
	ch <- c.byCls
}

func (c *filterCollector) Collect(ch chan<- prometheus.Metric) {
	n, err := c.filter.Counters()
	if err != nil {
		ch <- prometheus.NewInvalidMetric(c.byCls, err)
		return
	}
	ch <- prometheus.MustNewConstMetric(c.seen, prometheus.CounterValue, float64(n.Seen))
	for _, v := range []struct {
		class string
		n     uint64
	}{
		{"sip", n.PassedSIP},
		{"rtp", n.PassedRTP},
		{"learned", n.PassedLearned},
		{"frag", n.PassedFrag},
		{"hep", n.PassedHEP},
		{"tunnel", n.PassedTunnel},
		{"dropped", n.Dropped},
	} {
		ch <- prometheus.MustNewConstMetric(c.byCls, prometheus.CounterValue, float64(v.n), v.class)
	}
}
