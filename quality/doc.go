// Package quality turns the RTP and RTCP packets that correlate has bound to
// a stream into the numbers a user judges a call by: tshark-identical RTP
// statistics (packets, loss, sequence errors, delta, RFC 3550 jitter), what
// the listener heard through a simulated jitter buffer, an ITU-T G.107
// MOS-CQ for the whole stream and per interval, what the endpoints reported
// in RTCP (loss, jitter, round trip, RTCP XR VoIP metrics) and the RFC 4733
// DTMF events it carried.
//
// It sits between correlate (which decides which packets form a stream) and
// storage (which keeps the finished Stream records). Everything here is pure
// computation over values the caller passes in: no I/O, no clocks, no
// goroutines, and the per-RTP-packet path (StreamQuality.Update) does not
// allocate.
package quality
