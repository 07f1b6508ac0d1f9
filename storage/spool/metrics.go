package spool

import "github.com/prometheus/client_golang/prometheus"

// registerMetrics serves the spool's Stats as sipscope_store_spool_*.
func registerMetrics(reg prometheus.Registerer, s *Spool) error {
	gauge := func(name, help string, v func(Stats) float64) prometheus.Collector {
		return prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "sipscope_store_spool_" + name, Help: help},
			func() float64 { return v(s.Stats()) })
	}
	counter := func(name, help string, v func(Stats) uint64) prometheus.Collector {
		return prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "sipscope_store_spool_" + name + "_total", Help: help},
			func() float64 { return float64(v(s.Stats())) })
	}
	for _, c := range []prometheus.Collector{
		gauge("records", "Batches the store did not acknowledge, waiting on disk for replay.", func(st Stats) float64 { return float64(st.Records) }),
		gauge("bytes", "Bytes of the store spool's files on disk.", func(st Stats) float64 { return float64(st.Bytes) }),
		gauge("oldest_age_seconds", "Age of the oldest batch waiting in the store spool (0 when empty).", func(st Stats) float64 { return st.OldestAgeSecond }),
		counter("appended", "Batches written to the store spool.", func(st Stats) uint64 { return st.Appended }),
		counter("replayed", "Spooled batches the store acknowledged on replay.", func(st Stats) uint64 { return st.Replayed }),
		counter("dropped", "Spooled batches dropped, oldest first, because the spool was full (or the batch larger than it).", func(st Stats) uint64 { return st.Dropped }),
		counter("corrupt", "Torn or corrupt spool records found on opening and skipped.", func(st Stats) uint64 { return st.Corrupt }),
		counter("undecodable", "Spool records with a good checksum that did not decode as a batch, skipped.", func(st Stats) uint64 { return st.Undecodable }),
	} {
		if err := reg.Register(c); err != nil {
			return err
		}
	}
	return nil
}
