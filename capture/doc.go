// Package capture is the first stage of the pipeline: it turns capture files
// (pcap, pcapng), live interfaces (AF_PACKET TPACKET_V3 rings with the eBPF
// filter from bpf/) and HEP listeners into Frames. Nothing here looks inside
// a packet beyond what a source needs to frame it; decode does the rest.
package capture
