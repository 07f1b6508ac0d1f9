// Package bpf is the in-kernel half of live capture, just ahead of capture/
// in the pipeline: an eBPF socket filter that keeps SIP, HEP, RTP/RTCP, media
// on ports learned from SDP and IP fragments, and drops everything else before
// it is copied into the capture ring. capture attaches it to its AF_PACKET
// socket (or, where the kernel refuses eBPF, the reduced classic-BPF program
// of ClassicFilter); whoever reads SDP tells it which media ports to keep
// through AllowPort and ForgetPort, and its counters are Prometheus metrics.
package bpf
