// Package quality turns the RTP packets that correlate has bound to a stream
// into the numbers a user judges a call by: tshark-identical RTP statistics
// (packets, loss, sequence errors, delta, RFC 3550 jitter) and an ITU-T G.107
// E-model MOS-CQ.
//
// It sits between correlate (which decides which packets form a stream) and
// storage (which keeps the finished Stream records). Everything here is pure
// computation over values the caller passes in: no I/O, no clocks, no
// goroutines, and the per-packet path does not allocate.
package quality
