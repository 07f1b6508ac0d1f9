package bpf

//go:generate go tool bpf2go -target bpfel -type counter -type port_flag -output-stem sipfilter sipfilter filter.c -- -I/usr/include/x86_64-linux-gnu -O2 -g -Wall -Werror

// Counters are the filter's packet counts since it was loaded, summed over
// all CPUs. Every packet the filter saw is in Seen and in exactly one of the
// other fields: the first class that matched, in the order Frag, Tunnel,
// SIP, HEP, RTP, Learned, or else Dropped.
type Counters struct {
	Seen          uint64
	PassedSIP     uint64 // SIP by content (and later segments of its TCP connections)
	PassedRTP     uint64 // RTP/RTCP by header heuristic
	PassedLearned uint64 // UDP on a port learned from SDP
	PassedFrag    uint64 // IPv4 or IPv6 fragments
	PassedHEP     uint64 // HEP by port 9060 or content
	PassedTunnel  uint64 // GRE/ERSPAN, IP-in-IP, UDP to the VXLAN, Geneve or TZSP port
	Dropped       uint64
}
