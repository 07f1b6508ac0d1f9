// Package gen writes synthetic but realistic SIP/RTP captures (pcap, Ethernet)
// together with their ground truth, so every stage of the pipeline can be
// tested against data whose right answer is known exactly. It sits outside the
// pipeline, behind the `sipscope gen` subcommand, and is deterministic: the
// same Config (including Seed) always yields byte-identical output.
package gen
