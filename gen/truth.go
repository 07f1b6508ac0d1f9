package gen

import (
	"fmt"
	"net/netip"
	"strconv"
	"time"
)

// Truth is the ground truth of one generated capture: what a perfect analyser
// would report. It marshals to the JSON committed next to each test capture.
type Truth struct {
	Config        Config              `json:"config"` // with defaults applied
	Calls         []CallTruth         `json:"calls"`
	Registrations []RegistrationTruth `json:"registrations"`
	Streams       []StreamTruth       `json:"streams"`
	// FaxStreams are the T.38 (UDPTL) streams of ScenarioT38 calls.
	FaxStreams []FaxTruth `json:"fax_streams,omitempty"`
	Totals     Totals     `json:"totals"`
}

// CallTruth is one INVITE dialog, keyed by Call-ID. Field meanings follow
// correlate.Call.
type CallTruth struct {
	CallID    string     `json:"call_id"`
	Scenario  Scenario   `json:"scenario"`
	FromUser  string     `json:"from_user"`
	ToUser    string     `json:"to_user"`
	SrcIP     netip.Addr `json:"src_ip"` // where the INVITE came from
	DstIP     netip.Addr `json:"dst_ip"`
	SIPPort   uint16     `json:"sip_port"`
	Transport string     `json:"transport"`
	State     string     `json:"state"`         // "answered", "failed", "cancelled", "no_final"
	FinalCode int        `json:"final_code"`    // final response to the INVITE, 0 if none
	Messages  int        `json:"messages"`      // SIP messages with this Call-ID
	Start     Time       `json:"start"`         // first message
	End       Time       `json:"end"`           // last message
	Fax       string     `json:"fax,omitempty"` // "t38" for ScenarioT38
}

// RegistrationTruth is one REGISTER exchange, keyed by Call-ID.
type RegistrationTruth struct {
	CallID     string     `json:"call_id"`
	AoR        string     `json:"aor"`
	SrcIP      netip.Addr `json:"src_ip"`
	SIPPort    uint16     `json:"sip_port"`
	Transport  string     `json:"transport"`
	Challenged bool       `json:"challenged"`
	FinalCode  int        `json:"final_code"`
	Messages   int        `json:"messages"`
	Start      Time       `json:"start"`
	End        Time       `json:"end"`
}

// StreamTruth is one RTP stream (one SSRC, one direction) as tshark -z
// rtp,streams reports it: Packets is what was captured, Lost is
// Expected - Packets with Expected = last seq - first seq + 1 (unwrapped).
type StreamTruth struct {
	SSRC        string         `json:"ssrc"` // "0x%08X", as tshark prints it
	Src         netip.AddrPort `json:"src"`
	Dst         netip.AddrPort `json:"dst"`
	PayloadType uint8          `json:"payload_type"`
	Payload     string         `json:"payload"` // tshark's name: "g711U" or "g711A"
	FirstSeq    uint16         `json:"first_seq"`
	Sent        int            `json:"sent"`     // packets the sender emitted
	Packets     int            `json:"packets"`  // packets in the capture
	Expected    int            `json:"expected"` // equals Sent: first and last are never lost
	Lost        int            `json:"lost"`
	Reordered   int            `json:"reordered"` // captured after a packet with a higher seq
	Start       Time           `json:"start"`     // first captured packet
	End         Time           `json:"end"`       // last captured packet
	CallID      string         `json:"call_id"`
}

// Totals count the whole capture.
type Totals struct {
	Packets     int            `json:"packets"` // frames in the file
	SIPMessages int            `json:"sip_messages"`
	CallIDs     int            `json:"call_ids"`  // distinct Call-IDs, calls and registrations
	Requests    map[string]int `json:"requests"`  // method -> count
	Responses   map[string]int `json:"responses"` // status code, e.g. "200" -> count
	RTPPackets  int            `json:"rtp_packets"`
	RTPStreams  int            `json:"rtp_streams"`
	TCPControl  int            `json:"tcp_control"` // handshake segments without payload
	// Counts of what Config's wire options did; omitted when zero.
	IPFragments    int `json:"ip_fragments,omitempty"`    // frames that are IP fragments
	TCPReordered   int `json:"tcp_reordered,omitempty"`   // SIP messages with two segments swapped
	TCPRetransmits int `json:"tcp_retransmits,omitempty"` // segments captured a second time
	WSHandshakes   int `json:"ws_handshakes,omitempty"`   // HTTP Upgrade exchanges (request and 101)
}

// Time is a timestamp that marshals as RFC 3339 with exactly six fractional
// digits, the resolution of a classic pcap file.
type Time struct{ time.Time }

// timeLayout is RFC 3339 with microseconds.
const timeLayout = "2006-01-02T15:04:05.000000Z07:00"

// MarshalJSON formats t as RFC 3339 with microseconds. It must be
// MarshalJSON, not MarshalText: the embedded time.Time's MarshalJSON would
// otherwise win and drop trailing zeros.
func (t Time) MarshalJSON() ([]byte, error) {
	return []byte(`"` + t.UTC().Format(timeLayout) + `"`), nil
}

// UnmarshalJSON parses RFC 3339 with any fractional precision.
func (t *Time) UnmarshalJSON(b []byte) error {
	s, err := strconv.Unquote(string(b))
	if err != nil {
		return fmt.Errorf("gen: truth time %s: %w", b, err)
	}
	v, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return fmt.Errorf("gen: truth time %s: %w", b, err)
	}
	t.Time = v
	return nil
}
