package correlate

import (
	"net/netip"
	"time"

	"github.com/sipscope/sipscope/decode/sdp"
)

// Call states: the public four-value contract of analyze --json and the API.
const (
	StateAnswered  = "answered"
	StateFailed    = "failed"
	StateCancelled = "cancelled"
	StateNoFinal   = "no_final"
)

// End reasons: why a call ended, in the words an operator uses. State says
// what the INVITE got; EndReason says who or what ended the call.
const (
	// Answered calls.
	EndCallerBye = "caller_bye" // the caller sent BYE
	EndCalleeBye = "callee_bye" // the callee sent BYE
	EndNoBye     = "no_bye"     // no BYE seen: still up, timed out (MaxCallAge) or the capture ended

	// Calls that were not answered.
	EndBusy      = "busy"      // 486 or 600
	EndNoAnswer  = "no_answer" // 408, 480 or 487 after an 18x, without a CANCEL from the caller
	EndCancelled = "cancelled" // the caller sent CANCEL before any final response, and the INVITE got 487 or nothing
	// EndTimeout: the caller sent CANCEL, the CANCEL got no answer and the
	// INVITE ended 408 (Call.CancelSeen notes the CANCEL). A final other
	// than 487 or 408 after a CANCEL crossed it: the end reason is that
	// final's, with CancelSeen set.
	EndTimeout    = "timeout"
	EndRejected   = "rejected"    // any other 3xx-6xx final response (see FinalCode)
	EndAuthFailed = "auth_failed" // 401/407 not followed by success, or 403 to an INVITE with credentials
	EndInProgress = "in_progress" // no final response yet, and not timed out
	EndNoFinal    = "no_final"    // no final response before the dialog timed out or was evicted
	// EndCaptureEnded: the capture file ended before any final response
	// (offline analysis, after Correlator.EndOfCapture); a live call in the
	// same situation is in_progress.
	EndCaptureEnded = "capture_ended"
	// EndBye: a BYE ended an answered call whose sides are unknown, because
	// no message of its INVITE transaction was captured (a partial dialog).
	EndBye = "bye"
)

// Sides of a call, for Call.ByeBy.
const (
	SideCaller = "caller" // the side that sent the initial INVITE
	SideCallee = "callee"
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
	// Node is the capture point that saw the message: an interface, or
	// "hep:<id>/<name>" for a HEP agent; empty for capture files.
	Node string
}

// Call is an INVITE dialog (grouped by Call-ID). Timings are in
// milliseconds with microsecond resolution and are 0 when the events that
// bound them were not seen; retransmissions never move them (the first
// copy of each message counts).
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
	Messages  int        // every SIP message of the Call-ID, retransmissions included
	MOS       float64    // worst direction's MOS-CQ, 0 when the call has no RTP

	EndReason    string // one of the End* constants
	ByeBy        string // SideCaller or SideCallee for answered calls that saw a BYE, else ""
	Q850Cause    int    // cause from a "Q.850;cause=N" Reason header, 0 if none
	ReasonHeader string // the first Reason header of a BYE, CANCEL or final INVITE response

	// PDDMs is the post-dial delay as RFC 6076 §4.2 measures the session
	// request delay: from the INVITE attempt that was not challenged (the
	// retry with credentials after a 401/407, else the first INVITE) to
	// the first 18x. SetupMs is the same end measured from the very first
	// INVITE, challenge round trips included (pdd_ms before RFC 6076).
	PDDMs      float64
	SetupMs    float64
	RingMs     float64 // first 18x → final response
	AnswerMs   float64 // setup time: first INVITE → 200
	DurationMs float64 // talk time: 200 → BYE

	Retransmissions int  // retransmitted requests and responses (also counted in Messages)
	ReInvites       int  // in-dialog INVITEs, retransmissions not counted
	Hold            bool // a re-INVITE or UPDATE offered sendonly, inactive or 0.0.0.0
	Forked          bool // responses to one INVITE carried several To tags
	UserAgent       string
	// XCallID is the first B2BUA correlation header (Config.LegHeaders) of
	// the initial INVITE; LinkedCallIDs are the other legs of the same
	// call, found through it or by numbers and time (Config.LegWindow).
	XCallID       string
	LinkedCallIDs []string

	// InfoDTMF are the digits sent in SIP INFO (application/dtmf-relay or
	// application/dtmf), in order; RFC 4733 events are on the RTP streams.
	InfoDTMF   string
	LastUpdate time.Time // capture time of the latest change to this record
	Finished   bool      // the call ended (BYE answered, final failure, timeout or eviction)

	// Partial is set when the dialog's initial INVITE was not captured (the
	// capture began mid-call, or lost it): its state is inferred from what
	// was seen, and its timings from the INVITE are 0.
	Partial bool
	// CancelSeen is set when the caller sent CANCEL before any final
	// response, whatever the INVITE got afterwards.
	CancelSeen bool
	// CallerMedia and CalleeMedia are the audio each side's latest SDP
	// described; Announced is false when that side sent none. Like the
	// moments below they serve diagnosis and are not stored.
	CallerMedia, CalleeMedia SDPMedia

	// When the moments that decided the call were captured, in Unix
	// nanoseconds of the capture clock (0 when not seen): the first
	// initial INVITE, the INVITE attempt that was not challenged, the
	// first 18x, the final response to that attempt, the first BYE, and
	// the end of the capture file (EndOfCapture; 0 for live calls).
	// Integers rather than time.Time: every dialog and every record in a
	// batch carries them. Records read back from storage leave them 0.
	InviteNs, AttemptNs, RingingNs, FinalNs, ByeNs, CaptureEndNs int64
	// OfferFormats are the payload types of the audio the caller offered
	// last, as its m= line wrote them ("0 8 101"): what a 488 refused.
	OfferFormats string

	// Malformed lists what was broken in the call's SIP messages (the
	// Malformed* reasons, in that order), nil when nothing was.
	Malformed []string

	// Findings and Diagnosis are what diagnose made of the call and its
	// streams (machine codes and one or two plain sentences); correlate
	// leaves them empty, the pipeline fills them before the record leaves.
	Findings  []string
	Diagnosis string

	// Fax is how the call carried fax: FaxT38 when an SDP moved it to
	// m=image udptl t38, FaxG711Passthrough when a cheap hint (an X-Fax
	// header, a=silenceSupp:off, V.152 vbd=yes) says fax rode in G.711,
	// "" otherwise.
	Fax string

	// Nodes are the capture points (Frame.Node: an interface, a HEP agent)
	// that carried the call's messages, first seen first, at most four;
	// nil for a call read from a file, which has no node name.
	Nodes []string
}

// Values of Call.Fax.
const (
	FaxT38             = "t38"
	FaxG711Passthrough = "g711_passthrough"
)

// SDPMedia is the first RTP audio section of one side's latest session
// description, and whether any of its sections moved to T.38 fax.
type SDPMedia struct {
	Addr      netip.AddrPort // where that side wants RTP
	Direction sdp.Direction  // of that m= line (session level, else sendrecv)
	Announced bool           // an RTP m= line with a port other than 0
	T38       bool           // an m=image udptl t38 section with a port
}

// Sends reports whether this side's description lets it send audio.
func (m SDPMedia) Sends() bool {
	return m.Announced && (m.Direction == sdp.SendRecv || m.Direction == sdp.SendOnly) && !m.Addr.Addr().IsUnspecified()
}

// Receives reports whether this side's description asks for audio.
func (m SDPMedia) Receives() bool {
	return m.Announced && (m.Direction == sdp.SendRecv || m.Direction == sdp.RecvOnly) && !m.Addr.Addr().IsUnspecified()
}

// Registration is a REGISTER exchange grouped by Call-ID. A live correlator
// ends the exchange RegistrationLinger after its last message; a refresh
// that comes later with the same Call-ID starts a new record (same Call-ID,
// new Start).
type Registration struct {
	CallID     string
	AoR        string // To URI without parameters, e.g. "sip:alice@example.com"
	Challenged bool   // a 401/407 was seen
	// FinalCode is the last final response code to a REGISTER (0 if none):
	// a 401 after an earlier 200 leaves 401 here, SucceededAt keeps the 200.
	FinalCode  int
	Start, End time.Time
	Messages   int
	SrcIP      netip.Addr

	Contact     string    // URI of the latest REGISTER's Contact ("*" to remove all bindings)
	Expires     int       // seconds granted by the last 2xx, else requested by the last REGISTER; -1 unknown
	UserAgent   string    // of the latest REGISTER
	Attempts    int       // REGISTER transactions, retransmissions not counted
	SucceededAt time.Time // the last 2xx, zero if none
	Failed      bool      // the last final response is a failure, or the exchange ended without one
}

// MediaBinding is what the correlator knows about an RTP or RTCP flow.
// CallID is "" when no SDP explains the flow (unbound media).
type MediaBinding struct {
	CallID string
	// FromCaller tells the direction: true for caller → callee.
	FromCaller bool
	// NAT is set when only one end of the flow was announced in SDP: the
	// other end is a translated address learned from the traffic itself.
	NAT bool
}
