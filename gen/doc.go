// Package gen writes synthetic but realistic SIP/RTP captures together with
// their ground truth, so every stage of the pipeline can be tested against
// data whose right answer is known exactly: classic pcap, Ethernet with or
// without VLAN, MPLS or tunnel encapsulation, Linux cooked or HEP, SIP over
// UDP, TCP, WebSocket or SCTP, IPv4 or IPv6. It sits outside the pipeline,
// behind the `sipscope gen` subcommand, and is deterministic: the same Config
// (including Seed) always yields byte-identical output.
package gen
