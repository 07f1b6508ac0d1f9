// Package capture is the first stage of the pipeline: it turns capture files
// (pcap, pcapng) and, later, live interfaces and HEP listeners into Frames.
// Nothing here looks inside a packet; decode does that.
package capture
