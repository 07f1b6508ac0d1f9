package embedded

import "github.com/prometheus/client_golang/prometheus"

// registerMetrics serves the store's LaneStats as sipscope_store_*: an
// operator sees whether list requests ran beside the inserts (and how long
// the slowest waited for a read connection) without a profiler.
func registerMetrics(reg prometheus.Registerer, s *Store) error {
	counter := func(name, help string, v func(LaneStats) uint64) prometheus.Collector {
		return prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "sipscope_store_" + name + "_total", Help: help},
			func() float64 { return float64(v(s.LaneStats())) })
	}
	gauge := func(name, help string, v func(LaneStats) float64) prometheus.Collector {
		return prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "sipscope_store_" + name, Help: help},
			func() float64 { return v(s.LaneStats()) })
	}
	for _, c := range []prometheus.Collector{
		counter("reads", "SELECTs run on the embedded store's read connections.", func(st LaneStats) uint64 { return st.Reads }),
		counter("writes", "Statements run on the embedded store's write connection (inserts, DDL, partition drops).", func(st LaneStats) uint64 { return st.Writes }),
		counter("reads_beside_writes", "Reads that started while a write was in progress, run side by side with it.", func(st LaneStats) uint64 { return st.ReadsBesideWrites }),
		gauge("read_wait_max_seconds", "The longest a read waited for a free read connection since start.", func(st LaneStats) float64 { return st.ReadWaitMax.Seconds() }),
		gauge("read_max_seconds", "The longest read since start, its wait included.", func(st LaneStats) float64 { return st.ReadMax.Seconds() }),
	} {
		if err := reg.Register(c); err != nil {
			return err
		}
	}
	return nil
}
