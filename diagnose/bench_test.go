package diagnose

import (
	"testing"

	"github.com/sipscope/sipscope/gen"
)

// BenchmarkApply diagnoses the calls of a generated capture of 1000
// scenarios (answered calls with RTP both ways, busy, cancelled,
// registrations, unanswered): the cost analyze and import add per file.
func BenchmarkApply(b *testing.B) {
	path, _ := generate(b, gen.ScenarioAnswered, func(c *gen.Config) { c.Calls = 1000; c.Mix = nil; c.LossPct = 1 })
	calls, streams := analyzeCapture(b, path, nil)
	b.ReportAllocs()
	for b.Loop() {
		Apply(calls, streams)
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(calls)), "ns/call")
}
