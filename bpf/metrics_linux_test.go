//go:build linux && (386 || amd64 || arm || arm64 || loong64 || mips64le || mipsle || ppc64le || riscv64)

package bpf

import (
	"testing"

	"github.com/cilium/ebpf"
	"github.com/prometheus/client_golang/prometheus"
)

// gathered returns the value of every sample of the registry, keyed by
// metric name and class label.
func gathered(t *testing.T, reg *prometheus.Registry) map[string]float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatalf("Gather: %v", err)
	}
	out := map[string]float64{}
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			key := mf.GetName()
			for _, l := range m.GetLabel() {
				key += "{" + l.GetName() + "=" + l.GetValue() + "}"
			}
			out[key] = m.GetCounter().GetValue()
		}
	}
	return out
}

func TestMetricsReportTheKernelCounters(t *testing.T) {
	f := loadFilter(t)
	reg := prometheus.NewPedanticRegistry()
	if err := RegisterMetrics(reg, f); err != nil {
		t.Fatalf("RegisterMetrics: %v", err)
	}
	for _, frame := range [][]byte{
		sipUDP(5060, 5060, sipInvite),
		sipUDP(5060, 5060, sipInvite),
		sipUDP(40010, 31338, rtp(0, false, 160)),
		sipUDP(40002, 53, dnsQuery(7)),
		sipUDP(49152, 4789, append([]byte{0x08, 0, 0, 0, 0, 0x13, 0x89, 0}, make([]byte, 60)...)),
	} {
		if _, err := f.objs.SipFilter.Run(&ebpf.RunOptions{Data: frame}); err != nil {
			t.Fatalf("run: %v", err)
		}
	}
	want := map[string]float64{
		"sipscope_bpf_packets_seen_total":           5,
		"sipscope_bpf_packets_total{class=sip}":     2,
		"sipscope_bpf_packets_total{class=rtp}":     1,
		"sipscope_bpf_packets_total{class=learned}": 0,
		"sipscope_bpf_packets_total{class=frag}":    0,
		"sipscope_bpf_packets_total{class=hep}":     0,
		"sipscope_bpf_packets_total{class=tunnel}":  1,
		"sipscope_bpf_packets_total{class=dropped}": 1,
	}
	got := gathered(t, reg)
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s = %v, want %v", k, got[k], v)
		}
	}
	if len(got) != len(want) {
		t.Errorf("got %d samples, want %d: %v", len(got), len(want), got)
	}

	// Closing the filter must not make the counters go backwards.
	if err := f.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if after := gathered(t, reg); after["sipscope_bpf_packets_total{class=sip}"] != 2 {
		t.Errorf("after Close: %v, want the final counts", after)
	}
	if err := RegisterMetrics(reg, f); err == nil {
		t.Errorf("registering a second filter on the same registry succeeded; want a duplicate error")
	}
}
