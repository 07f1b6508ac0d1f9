// Package api is the read side of sipscope: a JSON HTTP API over the calls,
// SIP messages and RTP streams that storage holds, plus a PCAP export that
// re-synthesises a call's SIP messages as packets for Wireshark. It reads from
// storage only, through the small Store interface it declares, and can serve
// the embedded web UI handed to it by cmd, which talks to nothing but this API.
package api
