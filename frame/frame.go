// Package frame holds the one type every source produces and every stage
// reads: a captured packet with its time and link type. It imports nothing,
// so a byte parser that needs a Frame links no capture or database code.
package frame

// LinkType is the pcap LINKTYPE_* value that says how a frame's bytes begin.
type LinkType uint16

// Link types sipscope decodes (values from the tcpdump.org LINKTYPE registry).
const (
	LinkNull     LinkType = 0   // BSD loopback
	LinkEthernet LinkType = 1   // Ethernet II
	LinkRaw      LinkType = 101 // raw IPv4/IPv6
	LinkLoop     LinkType = 108 // OpenBSD loopback
	LinkSLL      LinkType = 113 // Linux cooked capture v1
	LinkIPv4     LinkType = 228 // raw IPv4
	LinkIPv6     LinkType = 229 // raw IPv6
	LinkSLL2     LinkType = 276 // Linux cooked capture v2
)

// Frame is all a source produces: one captured packet. Data belongs to the
// source and is only valid until the source's next call to Next.
type Frame struct {
	TS       int64 // capture time, Unix nanoseconds
	LinkType LinkType
	Data     []byte // captured bytes (may be shorter than OrigLen)
	OrigLen  int    // length on the wire
	Node     string // capture node (interface or HEP node); empty for files
}

// LinkHEP is an internal pseudo link type, not a tcpdump.org LINKTYPE: a
// frame of this type holds one whole HEP packet (v1, v2 or v3) as a HEP
// listener received it, and decode unwraps it with package hep. The value
// sits in the range no registered LINKTYPE uses, so it cannot be confused
// with a link type read from a capture file.
const LinkHEP LinkType = 0xFFF0
