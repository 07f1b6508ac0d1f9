//go:build ignore

// sipscope socket filter: keeps what a SIP/RTP monitor needs and drops the
// rest in the kernel, before it costs a copy into the capture ring.
//
// Kept, with no configuration:
//   - SIP by content on UDP, TCP and SCTP, any port (a method token or
//     "SIP/2.0" followed by a space), plus later segments of TCP connections
//     that carried SIP (the message may span segments);
//   - HEP: UDP port 9060, or a payload starting with "HEP3" or a HEPv1/v2
//     header, on UDP or TCP (TCP connections are followed like SIP ones);
//   - RTP/RTCP by header heuristic on UDP;
//   - UDP to or from a port user space learned from SDP (learned_ports map);
//   - IPv4 and IPv6 fragments (their payload cannot be classified here);
//   - tunnels that user space decapsulates (GRE and ERSPAN, IP-in-IP, UDP to
//     the VXLAN, Geneve and TZSP ports): a switch mirroring a port to us
//     sends them for exactly that, and what is inside is classified there;
//   - all of the above behind up to two VLAN tags.
// Each packet is counted once, in the first class that matched, in the order
// fragment, tunnel, SIP, HEP, RTP, learned; everything else is counted as
// dropped.

#include <linux/bpf.h>
#include <linux/types.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

// Counter slots of the per-CPU array. The Go side gets these as constants
// through bpf2go (-type counter), so the order is defined only here.
enum counter {
	COUNTER_SEEN = 0,
	COUNTER_SIP,
	COUNTER_RTP,
	COUNTER_LEARNED,
	COUNTER_FRAG,
	COUNTER_HEP,
	COUNTER_DROPPED,
	COUNTER_TUNNEL,
	COUNTER_MAX,
};

// Flags stored as the value of a learned port.
enum port_flag {
	PORT_FLAG_SDP = 1, // learned from an SDP offer or answer
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, COUNTER_MAX);
	__type(key, enum counter);
	__type(value, __u64);
} counters SEC(".maps");

// Every UDP port fits, so user space never has to evict; not preallocated
// because most deployments learn a few hundred ports at a time.
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 65536);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, __u16);
	__type(value, enum port_flag); // a set of port_flag bits
} learned_ports SEC(".maps");

// One direction of a TCP connection that carried SIP or HEP. Later segments
// of a message that spans segments do not start with a method token, so
// they are kept because their connection is known. LRU: connections that
// end silently age out.
struct flow_key {
	__u32 saddr[4];
	__u32 daddr[4];
	__u16 sport;
	__u16 dport;
	__u8 family;
	__u8 pad[3];
};

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 8192);
	__type(key, struct flow_key);
	__type(value, __u32); // the counter the connection's segments count in
} tcp_flows SEC(".maps");

#define ETH_HLEN 14
#define ETH_P_IP 0x0800
#define ETH_P_IPV6 0x86DD
#define ETH_P_8021Q 0x8100
#define ETH_P_8021AD 0x88A8
#define ETH_P_QINQ1 0x9100 // pre-standard QinQ still seen in carrier networks

#define IPPROTO_TCP 6
#define IPPROTO_UDP 17
#define IPPROTO_SCTP 132
#define IPPROTO_IPIP 4  // IPv4 in IPv4 or IPv6
#define IPPROTO_IPV6 41 // IPv6 in IPv4 or IPv6
#define IPPROTO_GRE 47  // GRE, ERSPAN
#define IPV6_HOPOPTS 0
#define IPV6_ROUTING 43
#define IPV6_FRAGMENT 44
#define IPV6_AH 51
#define IPV6_DSTOPTS 60

#define MAX_VLAN_TAGS 2
#define MAX_IPV6_EXT 4
#define MAX_SCTP_CHUNKS 4

// What the payload checks look at: long enough for "SUBSCRIBE ", a HEP
// header, an RTP fixed header.
#define PEEK_LEN 12
// Largest UDP payload taken for RTP on the heuristic alone. Media is sized to
// avoid IP fragmentation, so a bigger datagram is most likely something else.
#define RTP_MAX_LEN 1500
#define HEP_PORT 9060
// UDP destination ports of the tunnels decode/ removes.
#define VXLAN_PORT 4789
#define GENEVE_PORT 6081
#define TZSP_PORT 37008

// Where the program runs decides where skb->data points: on a packet socket
// it is the MAC header, under BPF_PROG_TEST_RUN it is just past the Ethernet
// header. The loader says which (tests set data_after_mac): telling them
// apart by content fails on a payload that repeats the Ethernet header.
// Offsets below are all relative to the MAC header; base converts them for
// bpf_skb_load_bytes, which (unlike the _relative variant) also reads
// payload held in page fragments, as many NIC drivers deliver it.
volatile const __u32 data_after_mac = 0;

struct cursor {
	struct __sk_buff *skb;
	__u32 base;
};

static __always_inline int load(const struct cursor *c, __u32 off, void *to, __u32 len)
{
	if (off < c->base)
		return -1;
	return bpf_skb_load_bytes(c->skb, off - c->base, to, len);
}

static __always_inline void count(enum counter slot)
{
	__u64 *v = bpf_map_lookup_elem(&counters, &slot);
	if (v)
		*v += 1; // per-CPU slot: no other writer
}

// The first PEEK_LEN payload bytes, loaded as little-endian words (the
// object is built for bpfel only) so that a token compares in three masked
// word compares whose constants the compiler folds from the literal.
struct peek {
	union {
		__u8 b[PEEK_LEN];
		__u32 w[PEEK_LEN / 4];
	};
};

#define TOK_CH(s, i) ((i) < sizeof(s) - 1 ? (__u32)(__u8)(s)[(i) < sizeof(s) - 1 ? (i) : 0] : 0U)
#define TOK_WORD(s, i) \
	(TOK_CH(s, 4 * (i)) | TOK_CH(s, 4 * (i) + 1) << 8 | TOK_CH(s, 4 * (i) + 2) << 16 | TOK_CH(s, 4 * (i) + 3) << 24)
#define TOK_MB(s, i) ((i) < sizeof(s) - 1 ? 0xFFU : 0U)
#define TOK_MASK(s, i) \
	(TOK_MB(s, 4 * (i)) | TOK_MB(s, 4 * (i) + 1) << 8 | TOK_MB(s, 4 * (i) + 2) << 16 | TOK_MB(s, 4 * (i) + 3) << 24)
// PREFIX(p, "INVITE ") is true when the payload starts with the literal
// (at most PEEK_LEN characters).
#define PREFIX(p, s)                                            \
	((((p)->w[0] & TOK_MASK(s, 0)) == TOK_WORD(s, 0)) &&    \
	 (((p)->w[1] & TOK_MASK(s, 1)) == TOK_WORD(s, 1)) &&    \
	 (((p)->w[2] & TOK_MASK(s, 2)) == TOK_WORD(s, 2)))

// SIP request methods of RFC 3261 and its extensions, or a status line; the
// trailing space rules out words that merely begin the same way.
static __always_inline int is_sip(const struct peek *p)
{
	switch (p->b[0]) {
	case 'A':
		return PREFIX(p, "ACK ");
	case 'B':
		return PREFIX(p, "BYE ");
	case 'C':
		return PREFIX(p, "CANCEL ");
	case 'I':
		return PREFIX(p, "INVITE ") || PREFIX(p, "INFO ");
	case 'M':
		return PREFIX(p, "MESSAGE ");
	case 'N':
		return PREFIX(p, "NOTIFY ");
	case 'O':
		return PREFIX(p, "OPTIONS ");
	case 'P':
		return PREFIX(p, "PRACK ") || PREFIX(p, "PUBLISH ");
	case 'R':
		return PREFIX(p, "REGISTER ") || PREFIX(p, "REFER ");
	case 'S':
		return PREFIX(p, "SIP/2.0 ") || PREFIX(p, "SUBSCRIBE ");
	case 'U':
		return PREFIX(p, "UPDATE ");
	}
	return 0;
}

// HEPv3 starts with its magic; HEPv1/v2 with version, header length, address
// family (AF_INET or AF_INET6) and the captured packet's IP protocol.
static __always_inline int is_hep(const struct peek *p)
{
	if (PREFIX(p, "HEP3"))
		return 1;
	if (p->b[0] != 1 && p->b[0] != 2)
		return 0;
	if (p->b[2] != 2 && p->b[2] != 10)
		return 0;
	return p->b[3] == IPPROTO_UDP || p->b[3] == IPPROTO_TCP || p->b[3] == IPPROTO_SCTP;
}

// RTP version 2 with a payload type that is static (0-34) or dynamic
// (96-127), or RTCP (packet types 200-207, which RFC 5761 keeps apart from
// RTP payload types with the marker bit set). Media flows between
// unprivileged ports; requiring that keeps DNS, NTP, DHCP and the like out.
static __always_inline int is_rtp(const struct peek *pk, __u32 len, __u16 sport, __u16 dport)
{
	const __u8 *p = pk->b;
	if (len < 12 || len > RTP_MAX_LEN)
		return 0;
	if (sport < 1024 || dport < 1024)
		return 0;
	if ((p[0] & 0xC0) != 0x80)
		return 0;
	if (p[1] >= 200 && p[1] <= 207) {
		__u32 words = ((__u32)p[2] << 8 | p[3]) + 1;
		return words * 4 <= len;
	}
	__u8 pt = p[1] & 0x7F;
	return pt <= 34 || pt >= 96;
}

struct l4 {
	__u32 off;    // offset of the transport header from the MAC header
	__u32 len;    // transport header + payload, from the IP header
	__u8 proto;
	__u8 family;
	__u32 saddr[4];
	__u32 daddr[4];
};

static __always_inline __u32 classify_udp(const struct cursor *c, const struct l4 *t)
{
	__u8 h[8];
	if (t->len < 8 || load(c, t->off, h, 8) < 0)
		return COUNTER_DROPPED;
	__u16 sport = (__u16)h[0] << 8 | h[1];
	__u16 dport = (__u16)h[2] << 8 | h[3];
	__u32 ulen = (__u32)h[4] << 8 | h[5];
	if (ulen < 8 || ulen > t->len)
		return COUNTER_DROPPED;
	__u32 plen = ulen - 8;

	if (dport == VXLAN_PORT || dport == GENEVE_PORT || dport == TZSP_PORT)
		return COUNTER_TUNNEL;
	if (plen >= PEEK_LEN) {
		struct peek p;
		if (load(c, t->off + 8, &p, PEEK_LEN) == 0) {
			if (is_sip(&p))
				return COUNTER_SIP;
			if (sport == HEP_PORT || dport == HEP_PORT || is_hep(&p))
				return COUNTER_HEP;
			if (is_rtp(&p, plen, sport, dport))
				return COUNTER_RTP;
		}
	} else if (sport == HEP_PORT || dport == HEP_PORT) {
		return COUNTER_HEP;
	}

	if (bpf_map_lookup_elem(&learned_ports, &sport) || bpf_map_lookup_elem(&learned_ports, &dport))
		return COUNTER_LEARNED;
	return COUNTER_DROPPED;
}

static __always_inline __u32 classify_tcp(const struct cursor *c, const struct l4 *t)
{
	__u8 h[20];
	if (t->len < 20 || load(c, t->off, h, 20) < 0)
		return COUNTER_DROPPED;
	__u32 hlen = (__u32)(h[12] >> 4) * 4;
	if (hlen < 20 || hlen > t->len)
		return COUNTER_DROPPED;
	__u32 plen = t->len - hlen;

	struct flow_key k;
	__builtin_memset(&k, 0, sizeof(k));
	k.family = t->family;
#pragma unroll
	for (int i = 0; i < 4; i++) {
		k.saddr[i] = t->saddr[i];
		k.daddr[i] = t->daddr[i];
	}
	k.sport = (__u16)h[0] << 8 | h[1];
	k.dport = (__u16)h[2] << 8 | h[3];

	if (plen >= PEEK_LEN) {
		struct peek p;
		if (load(c, t->off + hlen, &p, PEEK_LEN) == 0) {
			__u32 cls = COUNTER_DROPPED;
			if (is_sip(&p))
				cls = COUNTER_SIP;
			else if (is_hep(&p))
				cls = COUNTER_HEP;
			if (cls != COUNTER_DROPPED) {
				// An LRU update costs more than a lookup; most segments
				// that start a message belong to a known connection.
				__u32 *known = bpf_map_lookup_elem(&tcp_flows, &k);
				if (!known || *known != cls)
					bpf_map_update_elem(&tcp_flows, &k, &cls, BPF_ANY);
				return cls;
			}
		}
	}
	__u32 *known = bpf_map_lookup_elem(&tcp_flows, &k);
	if (known) {
		__u32 cls = *known;
		// The connection is over: forget it, but keep this segment.
		if (h[13] & 0x05) // FIN or RST
			bpf_map_delete_elem(&tcp_flows, &k);
		return cls;
	}
	return COUNTER_DROPPED;
}

// SIP over SCTP (RFC 4168) travels in DATA chunks, possibly bundled behind
// control chunks such as SACK; look at the first DATA or I-DATA chunk.
static __always_inline __u32 classify_sctp(const struct cursor *c, const struct l4 *t)
{
	if (t->len < 12)
		return COUNTER_DROPPED;
	__u32 off = t->off + 12;
	__u32 end = t->off + t->len;
#pragma unroll
	for (int i = 0; i < MAX_SCTP_CHUNKS; i++) {
		__u8 ch[4];
		if (off + 4 > end || load(c, off, ch, 4) < 0)
			return COUNTER_DROPPED;
		__u32 clen = (__u32)ch[2] << 8 | ch[3];
		if (clen < 4 || off + clen > end)
			return COUNTER_DROPPED;
		__u32 dhdr = 0;
		if (ch[0] == 0)
			dhdr = 16; // DATA
		else if (ch[0] == 64)
			dhdr = 20; // I-DATA (RFC 8260)
		if (dhdr) {
			struct peek p;
			if (clen < dhdr + PEEK_LEN || load(c, off + dhdr, &p, PEEK_LEN) < 0)
				return COUNTER_DROPPED;
			if (is_sip(&p))
				return COUNTER_SIP;
			if (is_hep(&p))
				return COUNTER_HEP;
			return COUNTER_DROPPED;
		}
		off += (clen + 3) & ~3U;
	}
	return COUNTER_DROPPED;
}

static __always_inline __u32 classify(struct __sk_buff *skb)
{
	struct cursor c = {.skb = skb, .base = data_after_mac ? ETH_HLEN : 0};
	__u8 eth[ETH_HLEN];

	if (bpf_skb_load_bytes_relative(skb, 0, eth, ETH_HLEN, BPF_HDR_START_MAC) < 0)
		return COUNTER_DROPPED;

	__u16 proto = (__u16)eth[12] << 8 | eth[13];
	__u32 off = ETH_HLEN;
	// A tag the NIC or the stack already stripped is not in the data; up to
	// two remain (QinQ).
#pragma unroll
	for (int i = 0; i < MAX_VLAN_TAGS; i++) {
		if (proto != ETH_P_8021Q && proto != ETH_P_8021AD && proto != ETH_P_QINQ1)
			break;
		__u8 tag[4];
		if (load(&c, off, tag, 4) < 0)
			return COUNTER_DROPPED;
		proto = (__u16)tag[2] << 8 | tag[3];
		off += 4;
	}

	struct l4 t;
	__builtin_memset(&t, 0, sizeof(t));

	if (proto == ETH_P_IP) {
		__u8 ip[20];
		if (load(&c, off, ip, 20) < 0)
			return COUNTER_DROPPED;
		if ((ip[0] >> 4) != 4)
			return COUNTER_DROPPED;
		__u32 ihl = (__u32)(ip[0] & 0x0F) * 4;
		__u32 total = (__u32)ip[2] << 8 | ip[3];
		if (ihl < 20 || total < ihl)
			return COUNTER_DROPPED;
		// MF set or a non-zero offset: reassembly happens in user space.
		if ((ip[6] & 0x3F) || ip[7])
			return COUNTER_FRAG;
		t.family = 4;
		t.proto = ip[9];
		t.off = off + ihl;
		t.len = total - ihl;
		__builtin_memcpy(&t.saddr[0], &ip[12], 4);
		__builtin_memcpy(&t.daddr[0], &ip[16], 4);
	} else if (proto == ETH_P_IPV6) {
		__u8 ip6[40];
		if (load(&c, off, ip6, 40) < 0)
			return COUNTER_DROPPED;
		if ((ip6[0] >> 4) != 6)
			return COUNTER_DROPPED;
		__u8 next = ip6[6];
		__u32 len = (__u32)ip6[4] << 8 | ip6[5];
		__u32 l4off = off + 40;
#pragma unroll
		for (int i = 0; i < MAX_IPV6_EXT; i++) {
			if (next == IPV6_FRAGMENT)
				return COUNTER_FRAG;
			if (next != IPV6_HOPOPTS && next != IPV6_ROUTING && next != IPV6_DSTOPTS && next != IPV6_AH)
				break;
			__u8 ext[2];
			if (load(&c, l4off, ext, 2) < 0)
				return COUNTER_DROPPED;
			__u32 elen = next == IPV6_AH ? ((__u32)ext[1] + 2) * 4 : ((__u32)ext[1] + 1) * 8;
			if (elen > len)
				return COUNTER_DROPPED;
			next = ext[0];
			l4off += elen;
			len -= elen;
		}
		if (next == IPV6_FRAGMENT)
			return COUNTER_FRAG;
		t.family = 6;
		t.proto = next;
		t.off = l4off;
		t.len = len;
		__builtin_memcpy(t.saddr, &ip6[8], 16);
		__builtin_memcpy(t.daddr, &ip6[24], 16);
	} else {
		return COUNTER_DROPPED;
	}

	switch (t.proto) {
	case IPPROTO_UDP:
		return classify_udp(&c, &t);
	case IPPROTO_TCP:
		return classify_tcp(&c, &t);
	case IPPROTO_SCTP:
		return classify_sctp(&c, &t);
	case IPPROTO_GRE:
	case IPPROTO_IPIP:
	case IPPROTO_IPV6:
		return COUNTER_TUNNEL;
	}
	return COUNTER_DROPPED;
}

SEC("socket")
int sip_filter(struct __sk_buff *skb)
{
	count(COUNTER_SEEN);
	__u32 cls = classify(skb);
	count(cls);
	if (cls == COUNTER_DROPPED)
		return 0;
	// A socket filter returns how many bytes to keep; the snap length is
	// applied in user space.
	return skb->len;
}

char __license[] SEC("license") = "Dual MIT/GPL";
