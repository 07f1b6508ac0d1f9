package bpf

import "errors"

// Sentinel errors of the filter loader. Callers test them with errors.Is.
var (
	// ErrUnavailable means the kernel refused eBPF: the process lacks
	// CAP_BPF/CAP_SYS_ADMIN, or the kernel has no support. The wrapping
	// error says which; the caller should fall back to ClassicFilter.
	ErrUnavailable = errors.New("bpf: eBPF socket filter unavailable")
	// ErrClosed means the Filter was used after Close.
	ErrClosed = errors.New("bpf: filter closed")
)
