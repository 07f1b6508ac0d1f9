// Package rtp reads RTP headers (RFC 3550), RFC 4733 telephone events and
// tells RTP from RTCP in UDP payloads that no SDP has described. It sits in
// the decode stage: decode hands it a datagram's payload, it fills a
// caller-owned Header whose Payload points into that datagram, and quality
// later turns sequences of headers into stream statistics.
package rtp
