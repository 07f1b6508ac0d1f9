//go:build unix

package quality

import "syscall"

// processCPUNs is the CPU time (user and system) the test process has
// used. Benchmarks report it beside wall time because the machines they
// run on are shared: wall time then counts the time other processes held
// the core, CPU time only ours.
func processCPUNs() int64 {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return ru.Utime.Nano() + ru.Stime.Nano()
}
