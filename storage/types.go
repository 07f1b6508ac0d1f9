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

	// IPPrefix, when valid, selects calls whose caller or callee address
	// is inside it (IPv4 or IPv6 CIDR).
	IPPrefix netip.Prefix
	// FinalClass 1-6 selects final codes from FinalClass*100 to
	// FinalClass*100+99 (4 for "4xx").
	FinalClass int
	// Finding is a diagnosis code the call must have (diagnose.Code*).
	Finding string
	// Duration (talk time) and MOS ranges, inclusive; a zero bound is
	// no bound.
	MinDurationMs, MaxDurationMs float64
	MinMOS, MaxMOS               float64
	// Partial and HasRTP, when set, select calls whose initial INVITE was
	// (not) captured, and calls with (without) RTP: a MOS or a stream.
	Partial, HasRTP *bool
	// UserAgent matches the caller's User-Agent as the user filters do
	// (a case-insensitive substring, or a '*' wildcard over all of it).
	UserAgent string
	// After, when set, starts the page after this call in the order of
	// the start sort (cursor paging): the next page of a list that grows
	// at its head while it is read. Only with Sort start and no Offset;
	// the total stays the filter's.
	After *CallKey
	// Node selects calls with a message captured at this capture point
	// (an interface, or a HEP agent as "hep:ID/NAME"), exactly.
	Node string
	// Sort is the order of the page: SortStart (default), SortDuration,
	// SortMOS or SortPDD; descending unless Ascending.
	Sort      string
	Ascending bool
	// NoTotal skips counting the filter's calls, a second pass over them
	// that grows with the store: ListCalls's Total is then -1 unless the
	// page shows it holds every match (a first page that is not full).
	// For a client that counts apart (CountCalls, the UI's count strip).
	NoTotal bool

	// callStarts, when set, is what call_index holds for CallID, looked
	// up before the query (ListCalls, CountCalls): a literal list of
	// starts uses the calls' sort key on every server, where ClickHouse
	// 18.16 does not for an IN subquery.
	callStarts *[]uint64
}

// Values of CallFilter.Sort.
const (
	SortStart    = "start"
	SortDuration = "duration"
	SortMOS      = "mos"
	SortPDD      = "pdd"
)

// CallCounts are how many calls of a filter are in each state and have
// each final code (0: none yet).
type CallCounts struct {
	Total     int            `json:"total"`
	State     map[string]int `json:"state"`
	FinalCode map[int]int    `json:"final_code"`
}

// CallPage is one page of calls, newest first, with the total that matched.
// CallKey is a call's place in the start order: its start (to the
// microsecond, as stored) and its Call-ID, which breaks ties.
type CallKey struct {
	Start  time.Time
	CallID string
}

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
