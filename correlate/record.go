package correlate

import (
	"net/netip"
	"time"
)

// Call states: the public four-value contract of analyze --json and the API.
const (
	StateAnswered  = "answered"
	StateFailed    = "failed"
	StateCancelled = "cancelled"
	StateNoFinal   = "no_final"
)

// Message is one SIP message as correlate keeps it: everything here is owned
// (copied out of the packet), so it outlives the frame.
type Message struct {
	TS         time.Time
	Src, Dst   netip.AddrPort
	Transport  string // "udp", "tcp", "sctp"
	CallID     string
	IsRequest  bool
	Method     string // request method; for responses, the CSeq method
	StatusCode int    // 0 for requests
	Reason     string // response reason phrase
	CSeq       uint32
	CSeqMethod string
	FromUser   string
	ToUser     string
	Raw        []byte // the whole SIP message, start line to end of body
}

// Call is an INVITE dialog (grouped by Call-ID).
type Call struct {
	CallID    string
	FromUser  string
	ToUser    string
	SrcIP     netip.Addr // where the first INVITE came from
	DstIP     netip.Addr // where it went
	State     string     // one of the State* constants
	FinalCode int        // final response code to the initial INVITE (0 if none)
	Start     time.Time  // first message
	End       time.Time  // last message
	Messages  int
	MOS       float64 // worst direction's MOS-CQ, 0 when the call has no RTP
}

// Registration is a REGISTER exchange grouped by Call-ID.
type Registration struct {
	CallID     string
	AoR        string // To URI without parameters, e.g. "sip:alice@example.com"
	Challenged bool   // a 401/407 was seen
	FinalCode  int    // last final response code (0 if none)
	Start, End time.Time
	Messages   int
	SrcIP      netip.Addr
}
