//go:build !linux || !(386 || amd64 || arm || arm64 || loong64 || mips64le || mipsle || ppc64le || riscv64)

package bpf

import "fmt"

// errNoEBPF says why Load fails on this platform: the program is built for
// little-endian Linux only.
var errNoEBPF = fmt.Errorf("%w: the eBPF socket filter needs Linux on a little-endian CPU", ErrUnavailable)

// Filter is the eBPF socket filter; on this platform it cannot be loaded.
type Filter struct{}

// Load always fails here with an error wrapping ErrUnavailable; use
// ClassicFilter instead.
func Load() (*Filter, error) { return nil, errNoEBPF }

// FD returns -1: there is no program.
func (f *Filter) FD() int { return -1 }

// AllowPort fails: there is no filter to configure.
func (f *Filter) AllowPort(port uint16) error { return errNoEBPF }

// ForgetPort fails: there is no filter to configure.
func (f *Filter) ForgetPort(port uint16) error { return errNoEBPF }

// Counters fails: there is no filter to count.
func (f *Filter) Counters() (Counters, error) { return Counters{}, errNoEBPF }

// Close does nothing.
func (f *Filter) Close() error { return nil }
