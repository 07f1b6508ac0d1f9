package storage

import (
	"net/netip"
	"time"

	"github.com/sipscope/sipscope/correlate"
	"github.com/sipscope/sipscope/quality"
)

// Batch is what the pipeline hands to storage: records that are new or
// updated since the last batch. A later record for the same call replaces the
// earlier one.
type Batch struct {
	Calls         []correlate.Call
	Registrations []correlate.Registration
	Messages      []correlate.Message
	Streams       []quality.Stream
	// Packets are the captured frames of calls (store_rtp): SIP over UDP
	// and the RTP/RTCP of bound streams. Their Data may share one buffer.
	Packets []Packet
}

// CallFilter selects calls for listing. Zero values mean "any".
type CallFilter struct {
	From, To  time.Time  // call start within [From, To)
	FromUser  string     // substring match
	ToUser    string     // substring match
	CallID    string     // exact
	IP        netip.Addr // caller or callee IP
	State     string
	EndReason string // exact, one of the correlate.End* values
	FinalCode int
	Query     string // free text: substring of Call-ID, from or to user
	Limit     int    // default 50, max 1000
	Offset    int
}

// CallPage is one page of calls, newest first, with the total that matched.
type CallPage struct {
	Calls []correlate.Call
	Total int
}

// CallDetail is one call with its SIP messages in capture order and its RTP streams.
type CallDetail struct {
	Call     correlate.Call
	Messages []correlate.Message
	Streams  []quality.Stream
}
