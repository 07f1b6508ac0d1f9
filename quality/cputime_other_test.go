//go:build !unix

package quality

// processCPUNs is not measured here; benchmarks then report 0.
func processCPUNs() int64 { return 0 }
