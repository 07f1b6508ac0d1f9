// Package stream turns the TCP segments that decode produces into whole SIP
// messages, for SIP over TCP and over WebSocket (RFC 7118). It sits in the
// decode stage between the layer-4 Decoder and the SIP parser: a Reassembler
// orders each direction's segments, drops retransmissions, skips gaps and
// non-SIP connections, and frames messages by Content-Length or by
// WebSocket frame, all within hard memory bounds, handing each message to a
// callback without copying it when a segment holds it whole.
package stream
