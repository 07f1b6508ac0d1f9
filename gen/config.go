package gen

import (
	"fmt"
	"slices"
	"time"
)

// Scenario names one SIP exchange the generator can play.
type Scenario string

// Scenarios, in the order the default Mix cycles through them.
const (
	// ScenarioAnswered: INVITE (SDP offer), 100, 180, 200 (SDP answer), ACK,
	// G.711 RTP both ways for CallDuration, BYE, 200.
	ScenarioAnswered Scenario = "answered"
	// ScenarioBusy: INVITE, 100, 486 Busy Here, ACK.
	ScenarioBusy Scenario = "busy"
	// ScenarioCancelled: INVITE, 100, 180, CANCEL, 200 (CANCEL), 487, ACK.
	ScenarioCancelled Scenario = "cancelled"
	// ScenarioRegister: REGISTER, 401 with a digest challenge, REGISTER with
	// Authorization (CSeq+1), 200 OK with Contact and expires.
	ScenarioRegister Scenario = "register"
	// ScenarioNoFinal: INVITE, 100 Trying, then nothing, as when the callee
	// vanishes mid-setup.
	ScenarioNoFinal Scenario = "no_final"
	// ScenarioT38: an answered G.711 call that a re-INVITE from the callee
	// moves to T.38 fax (m=image udptl t38 on the same ports), UDPTL both
	// ways, a re-INVITE from the caller back to audio, more RTP, BYE. It
	// is not in the default Mix (gen/fax.go).
	ScenarioT38 Scenario = "t38"
)

// AllScenarios returns every scenario, in the default Mix order.
func AllScenarios() []Scenario {
	return []Scenario{ScenarioAnswered, ScenarioBusy, ScenarioCancelled, ScenarioRegister, ScenarioNoFinal}
}

// Codec values for Config.Codec.
const (
	CodecPCMU = "PCMU"
	CodecPCMA = "PCMA"
	// CodecMix alternates PCMU (even call index) and PCMA (odd call index).
	CodecMix = "mix"
)

// Transport values for Config.Transport.
const (
	TransportUDP = "udp"
	TransportTCP = "tcp"
	// TransportWS is SIP over WebSocket (RFC 7118) on TCP: an HTTP Upgrade
	// handshake, then one text message per SIP message.
	TransportWS = "ws"
	// TransportSCTP is SIP over SCTP (RFC 4168): one DATA chunk per message.
	TransportSCTP = "sctp"
)

// Encap values for Config.Encap: how every frame is wrapped between the
// link layer and the calls' IP packets, as the capture point saw them.
const (
	// EncapNone is plain Ethernet II carrying the calls' IP packets.
	EncapNone = ""
	// EncapVLAN adds one 802.1Q tag (VLAN 100, PCP from the DSCP class).
	EncapVLAN = "vlan"
	// EncapQinQ adds an 802.1ad S-tag (VLAN 200) over an 802.1Q C-tag (VLAN 100).
	EncapQinQ = "qinq"
	// EncapMPLS puts a two-label MPLS stack between Ethernet and IP.
	EncapMPLS = "mpls"
	// EncapVXLAN wraps each inner Ethernet frame in outer Ethernet/IPv4/UDP
	// to port 4789 and a VXLAN header (VNI 5001) between two tunnel endpoints.
	EncapVXLAN = "vxlan"
	// EncapGeneve is like EncapVXLAN with a Geneve header on UDP port 6081.
	EncapGeneve = "geneve"
	// EncapGRE carries the calls' IP packets in GRE over IPv4.
	EncapGRE = "gre"
	// EncapERSPAN2 mirrors inner Ethernet frames in GRE (0x88BE) with an
	// ERSPAN type II header, from a switch to an analyser.
	EncapERSPAN2 = "erspan2"
	// EncapERSPAN3 is the same with an ERSPAN type III header (GRE 0x22EB).
	EncapERSPAN3 = "erspan3"
	// EncapIPIP is IPv4 in IPv4 (protocol 4); the calls must be IPv4.
	EncapIPIP = "ipip"
	// Encap6in4 is IPv6 in IPv4 (protocol 41); the calls must be IPv6.
	Encap6in4 = "6in4"
	// Encap4in6 is IPv4 in IPv6 (next header 4); the calls must be IPv4.
	Encap4in6 = "4in6"
	// EncapFragments fragments every IP datagram longer than FragmentMTU
	// (in practice the SIP messages with SDP; RTP is far smaller), with
	// IPv4 fragmentation or the IPv6 fragment header.
	EncapFragments = "fragments"
	// EncapHEP sends every SIP message as HEPv3 over UDP from a capture
	// agent (HEPAgent, node HEPNodeID) to a collector (HEPCollector): the
	// capture holds only that HEP traffic, no RTP and no TCP control.
	EncapHEP = "hep"
	// EncapTZSP streams each inner Ethernet frame as TZSP over UDP port
	// 37008 from a remote sensor (as MikroTik's packet sniffer does).
	EncapTZSP = "tzsp"
	// EncapSLL uses the Linux cooked capture v1 link type instead of Ethernet.
	EncapSLL = "sll"
	// EncapSLL2 uses the Linux cooked capture v2 link type.
	EncapSLL2 = "sll2"
)

// AllEncaps returns every Encap value, EncapNone first.
func AllEncaps() []string {
	return []string{EncapNone, EncapVLAN, EncapQinQ, EncapMPLS, EncapVXLAN, EncapGeneve, EncapGRE,
		EncapERSPAN2, EncapERSPAN3, EncapIPIP, Encap6in4, Encap4in6, EncapFragments, EncapHEP, EncapTZSP, EncapSLL, EncapSLL2}
}

// Defaults applied to zero Config fields.
const (
	DefaultCallDuration = 2 * time.Second
	DefaultPtime        = 20 * time.Millisecond
	DefaultSIPPort      = 5060
	DefaultWSPort       = 8080 // SIP port of TransportWS
	DefaultFragmentMTU  = 576  // the IPv4 minimum reassembly size: every INVITE with SDP exceeds it
	DefaultBurstLen     = 1
)

// Limits that keep a capture's size and the loss model sane.
const (
	// MaxCalls bounds Calls: ten million calls, written by Stream in
	// bounded memory (Write also keeps the truth of each).
	MaxCalls = 10_000_000
	// MaxCPS bounds CPS: call starts stay whole microseconds apart.
	MaxCPS          = 100_000
	MaxCallDuration = 10 * time.Minute
	MaxLossPct      = 50
	MaxJitterMs     = 1000
	MaxLateMs       = 5000
	MinFragmentMTU  = 256
	MaxFragmentMTU  = 1500
	MaxSegmentSize  = 1460 // Ethernet MSS of IPv4 TCP
)

// Config says what capture to generate. Zero fields take the defaults noted.
type Config struct {
	// Calls is how many scenarios are played, cycling through Mix (a
	// registration counts as one). Must be at least 1.
	Calls int `json:"calls"`
	// Seed makes the output reproducible: same Config, same bytes.
	Seed uint64 `json:"seed"`
	// LossPct is the share of RTP packets dropped before capture (never SIP),
	// in percent, 0 to MaxLossPct. The first and last packet of each stream
	// are never dropped so expected = last seq - first seq + 1 is exact.
	LossPct float64 `json:"loss_pct"`
	// BurstLen is the mean length of a loss burst (Gilbert model); 1 (or 0)
	// gives independent random loss.
	BurstLen int `json:"burst_len"`
	// JitterMs is the maximum extra arrival delay of an RTP packet, drawn
	// uniformly from [0, JitterMs]. Above Ptime packets can reorder.
	JitterMs float64 `json:"jitter_ms"`
	// LatePct is the share of RTP packets (in percent) that arrive LateMs
	// later still, on top of jitter: reordering when LateMs > Ptime.
	LatePct float64 `json:"late_pct"`
	// LateMs is the extra delay of a late packet.
	LateMs float64 `json:"late_ms"`
	// CallDuration is the media duration of each answered call
	// (DefaultCallDuration).
	CallDuration time.Duration `json:"call_duration_ns"`
	// Ptime is the RTP packetisation interval (DefaultPtime), a whole number
	// of milliseconds from 10 to 60.
	Ptime time.Duration `json:"ptime_ns"`
	// Codec is CodecPCMU (default), CodecPCMA or CodecMix.
	Codec string `json:"codec"`
	// Mix lists the scenarios to cycle through (default AllScenarios()).
	Mix []Scenario `json:"mix"`
	// SIPPort is the port every SIP endpoint listens on (DefaultSIPPort).
	SIPPort uint16 `json:"sip_port"`
	// AltSIPPort, when set, replaces SIPPort for every second cycle through
	// Mix, so a capture holds SIP on a port no dissector assumes (e.g. 5080)
	// and detection must go by content.
	AltSIPPort uint16 `json:"alt_sip_port,omitempty"`
	// Transport is TransportUDP (default), TransportTCP (one SIP message
	// per segment unless TCPSegmentSize says otherwise, one connection per
	// endpoint pair, opened with a handshake), TransportWS (TCP as for
	// TransportTCP plus an HTTP Upgrade, then WebSocket text frames; SIP
	// port DefaultWSPort) or TransportSCTP (one DATA chunk per message, one
	// association per endpoint pair, no handshake).
	Transport string `json:"transport"`

	// The fields below are omitted from JSON when zero, so the truths of
	// captures made before they existed keep their bytes.

	// IPv6 gives every SIP and RTP endpoint an IPv6 address in the
	// documentation prefix 2001:db8::/32 instead of IPv4 in 10.0.0.0/8.
	IPv6 bool `json:"ipv6,omitempty"`
	// Encap is how frames are encapsulated, one of AllEncaps (EncapNone).
	Encap string `json:"encap,omitempty"`
	// FragmentMTU is the IP MTU of EncapFragments (DefaultFragmentMTU),
	// MinFragmentMTU to MaxFragmentMTU; only EncapFragments may set it.
	FragmentMTU int `json:"fragment_mtu,omitempty"`
	// TCPSegmentSize, for TransportTCP and TransportWS, splits every write
	// (a SIP message, a WebSocket frame, the HTTP handshake) into segments
	// of at most this many payload bytes (0: one segment per write).
	TCPSegmentSize int `json:"tcp_segment_size,omitempty"`
	// TCPReorderPct is the share of SIP messages (in percent) sent in two or
	// more segments whose capture order swaps two adjacent segments.
	TCPReorderPct float64 `json:"tcp_reorder_pct,omitempty"`
	// TCPRetransmitPct is the share of SIP messages (in percent) one segment
	// of which is captured twice, identical bytes, the copy just after the
	// message is complete.
	TCPRetransmitPct float64 `json:"tcp_retransmit_pct,omitempty"`
	// WSFragment, for TransportWS, sends every SIP message as two or three
	// WebSocket frames (a text frame and continuations) instead of one.
	WSFragment bool `json:"ws_fragment,omitempty"`

	// Start is when the first call starts (default 2026-01-01 10:00 UTC),
	// so that captures made one after another can follow each other in
	// time (a benchmark store of many days).
	Start time.Time `json:"start,omitzero"`
	// CPS, when set, starts calls exactly 1/CPS seconds apart instead of
	// 200 to 500 ms apart at random: call i starts at Start + i/CPS.
	CPS float64 `json:"cps,omitempty"`
	// SIPOnly leaves the media out of the capture, as a SIP-only tap or a
	// HEP agent forwarding SIP would: calls still offer and answer SDP,
	// but no RTP (or UDPTL) is captured and answered calls hang up
	// CallDuration after the ACK. Large benchmark captures use it.
	SIPOnly bool `json:"sip_only,omitempty"`
}

func (c Config) withDefaults() Config {
	if c.BurstLen == 0 {
		c.BurstLen = DefaultBurstLen
	}
	if c.CallDuration == 0 {
		c.CallDuration = DefaultCallDuration
	}
	if c.Ptime == 0 {
		c.Ptime = DefaultPtime
	}
	if c.Codec == "" {
		c.Codec = CodecPCMU
	}
	if len(c.Mix) == 0 {
		c.Mix = AllScenarios()
	}
	if c.Transport == "" {
		c.Transport = TransportUDP
	}
	if c.SIPPort == 0 {
		c.SIPPort = DefaultSIPPort
		if c.Transport == TransportWS {
			c.SIPPort = DefaultWSPort
		}
	}
	if c.Encap == EncapFragments && c.FragmentMTU == 0 {
		c.FragmentMTU = DefaultFragmentMTU
	}
	return c
}

// Validate reports the first invalid field, after defaults are applied.
func (c Config) Validate() error {
	c = c.withDefaults()
	// The range checks are written as !(in range) so that NaN fails them.
	switch {
	case c.Calls < 1 || c.Calls > MaxCalls:
		return fmt.Errorf("%w: Calls %d not in [1, %d]", ErrInvalidConfig, c.Calls, MaxCalls)
	case !(c.CPS >= 0 && c.CPS <= MaxCPS):
		return fmt.Errorf("%w: CPS %v not in [0, %d]", ErrInvalidConfig, c.CPS, MaxCPS)
	case !c.Start.IsZero() && (c.Start.Year() < 1970 || c.Start.Year() > 2100):
		return fmt.Errorf("%w: Start %v not in the years 1970 to 2100 (pcap time stamps)", ErrInvalidConfig, c.Start)
	case !(c.LossPct >= 0 && c.LossPct <= MaxLossPct):
		return fmt.Errorf("%w: LossPct %v not in [0, %d]", ErrInvalidConfig, c.LossPct, MaxLossPct)
	case c.BurstLen < 1:
		return fmt.Errorf("%w: BurstLen %d is negative (0 means the default, 1)", ErrInvalidConfig, c.BurstLen)
	case !(c.JitterMs >= 0 && c.JitterMs <= MaxJitterMs):
		return fmt.Errorf("%w: JitterMs %v not in [0, %d]", ErrInvalidConfig, c.JitterMs, MaxJitterMs)
	case !(c.LatePct >= 0 && c.LatePct <= 100):
		return fmt.Errorf("%w: LatePct %v not in [0, 100]", ErrInvalidConfig, c.LatePct)
	case !(c.LateMs >= 0 && c.LateMs <= MaxLateMs):
		return fmt.Errorf("%w: LateMs %v not in [0, %d]", ErrInvalidConfig, c.LateMs, MaxLateMs)
	case c.CallDuration < 0 || c.CallDuration > MaxCallDuration:
		return fmt.Errorf("%w: CallDuration %v not in [0, %v]", ErrInvalidConfig, c.CallDuration, MaxCallDuration)
	case c.Ptime < 10*time.Millisecond || c.Ptime > 60*time.Millisecond || c.Ptime%time.Millisecond != 0:
		return fmt.Errorf("%w: Ptime %v must be whole milliseconds in [10ms, 60ms]", ErrInvalidConfig, c.Ptime)
	case c.CallDuration < 2*c.Ptime:
		return fmt.Errorf("%w: CallDuration %v shorter than two Ptime", ErrInvalidConfig, c.CallDuration)
	case c.Codec != CodecPCMU && c.Codec != CodecPCMA && c.Codec != CodecMix:
		return fmt.Errorf("%w: Codec %q not one of %s, %s, %s", ErrInvalidConfig, c.Codec, CodecPCMU, CodecPCMA, CodecMix)
	case c.AltSIPPort != 0 && c.AltSIPPort == c.SIPPort:
		return fmt.Errorf("%w: AltSIPPort %d equals SIPPort", ErrInvalidConfig, c.AltSIPPort)
	case !slices.Contains([]string{TransportUDP, TransportTCP, TransportWS, TransportSCTP}, c.Transport):
		return fmt.Errorf("%w: Transport %q not one of %s, %s, %s, %s", ErrInvalidConfig, c.Transport,
			TransportUDP, TransportTCP, TransportWS, TransportSCTP)
	}
	if err := c.validateWire(); err != nil {
		return err
	}
	for i, s := range c.Mix {
		if !knownScenario(s) {
			return fmt.Errorf("%w: Mix[%d] %q is not a scenario", ErrInvalidConfig, i, s)
		}
	}
	return nil
}

// validateWire checks the encapsulation and transport options, which only
// make sense in some combinations.
func (c Config) validateWire() error {
	stream := c.Transport == TransportTCP || c.Transport == TransportWS
	switch {
	case !slices.Contains(AllEncaps(), c.Encap):
		return fmt.Errorf("%w: Encap %q not one of %q", ErrInvalidConfig, c.Encap, AllEncaps())
	case (c.Encap == EncapIPIP || c.Encap == Encap4in6) && c.IPv6:
		return fmt.Errorf("%w: Encap %q carries IPv4 calls, but IPv6 is set", ErrInvalidConfig, c.Encap)
	case c.Encap == Encap6in4 && !c.IPv6:
		return fmt.Errorf("%w: Encap %q carries IPv6 calls: set IPv6", ErrInvalidConfig, c.Encap)
	case (c.Encap == EncapFragments || c.Encap == EncapHEP) && c.Transport != TransportUDP:
		return fmt.Errorf("%w: Encap %q needs Transport %s, not %q", ErrInvalidConfig, c.Encap, TransportUDP, c.Transport)
	case c.FragmentMTU != 0 && c.Encap != EncapFragments:
		return fmt.Errorf("%w: FragmentMTU is set but Encap is %q, not %q", ErrInvalidConfig, c.Encap, EncapFragments)
	case c.FragmentMTU != 0 && (c.FragmentMTU < MinFragmentMTU || c.FragmentMTU > MaxFragmentMTU):
		return fmt.Errorf("%w: FragmentMTU %d not in [%d, %d]", ErrInvalidConfig, c.FragmentMTU, MinFragmentMTU, MaxFragmentMTU)
	case c.TCPSegmentSize < 0 || c.TCPSegmentSize > MaxSegmentSize:
		return fmt.Errorf("%w: TCPSegmentSize %d not in [0, %d]", ErrInvalidConfig, c.TCPSegmentSize, MaxSegmentSize)
	case !(c.TCPReorderPct >= 0 && c.TCPReorderPct <= 100):
		return fmt.Errorf("%w: TCPReorderPct %v not in [0, 100]", ErrInvalidConfig, c.TCPReorderPct)
	case !(c.TCPRetransmitPct >= 0 && c.TCPRetransmitPct <= 100):
		return fmt.Errorf("%w: TCPRetransmitPct %v not in [0, 100]", ErrInvalidConfig, c.TCPRetransmitPct)
	case !stream && (c.TCPSegmentSize != 0 || c.TCPReorderPct != 0 || c.TCPRetransmitPct != 0):
		return fmt.Errorf("%w: TCPSegmentSize, TCPReorderPct and TCPRetransmitPct need Transport %s or %s, not %q",
			ErrInvalidConfig, TransportTCP, TransportWS, c.Transport)
	case c.WSFragment && c.Transport != TransportWS:
		return fmt.Errorf("%w: WSFragment needs Transport %s, not %q", ErrInvalidConfig, TransportWS, c.Transport)
	}
	return nil
}

func knownScenario(s Scenario) bool {
	return slices.Contains(AllScenarios(), s) || s == ScenarioT38
}
