// Package decode is the second stage of the pipeline: frames in, typed
// short-lived views out. Decoder peels link layers, VLAN/MPLS/PPPoE, IP and
// tunnels (IP-in-IP, GRE, ERSPAN, VXLAN, Geneve) off a frame.Frame's bytes
// and fills a caller-owned Packet whose Payload points into those bytes;
// subpackages parse payloads the same way (sip, sdp, rtp). Nothing here
// copies or allocates per packet — correlate copies what must outlive the
// frame — except a Defragmenter, which holds IP fragments within hard
// bounds. A frame that cannot be decoded is a sentinel error that callers
// count by Reason.
package decode
