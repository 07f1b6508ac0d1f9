package correlate

import (
	"hash/maphash"
	"net/netip"
	"slices"
	"time"

	"github.com/sipscope/sipscope/decode"
	"github.com/sipscope/sipscope/decode/sip"
)

// dialogKind is what a Call-ID turned out to be, decided by its first message.
type dialogKind uint8

const (
	kindOther dialogKind = iota // OPTIONS, MESSAGE, SUBSCRIBE...: counted, not listed
	kindCall
	kindRegistration
)

// kindOf decides from the first message of a Call-ID what it is.
func kindOf(m *sip.Message, meth, cseqMeth method) dialogKind {
	if !m.IsRequest {
		meth = cseqMeth
	}
	switch meth {
	case methodInvite, methodCancel, methodPrack, methodBye, methodUpdate:
		return kindCall
	case methodRegister:
		return kindRegistration
	}
	return kindOther
}

// side is which end of a call sent a message.
type side uint8

const (
	sideUnknown side = iota
	sideCaller
	sideCallee
)

// dialog is everything held for one Call-ID. Times are Unix nanoseconds of
// the capture clock; 0 means "not seen".
type dialog struct {
	// What every message touches comes first, so that a message costs as
	// few cache lines of a dialog that went cold as possible.
	callID string
	hash   uint64 // of callID, the key in the dialog table

	first, last int64 // first and latest message
	updated     int64 // latest change, for Call.LastUpdate
	messages    int   // Call.Messages, counted here beside the other hot fields

	// prev/next link the idle list (least recently active first), which
	// Expire walks and eviction takes from; dprev/dnext link the list of
	// records changed since the last Updates.
	prev, next   *dialog
	dprev, dnext *dialog

	kind     dialogKind
	finished bool
	dirty    bool
	removed  bool
	// clock is the index in Correlator.clockList of the source that
	// carried its latest message (an index fits where a pointer would
	// grow every dialog).
	clock uint16
	// nodeSet indexes Correlator.nodeSets: the capture points that
	// carried the dialog's messages.
	nodeSet      uint16
	nodesDropped bool // a capture point was left out (Stats.CallNodesDropped)

	// Call state.
	hasCallerTag bool
	answered     bool
	proceeding   bool // a provisional response arrived
	cancelSeen   bool // the caller sent CANCEL before any final response
	partiesKnown bool // numbers and addresses came from the INVITE transaction
	established  bool // a partial dialog showed it was answered (BYE, re-INVITE, 2xx to UPDATE)
	malformed    malformedBits
	authSent     bool // the latest INVITE attempt carried credentials
	byeSide      side
	hasToTag     bool
	hasLegKey    bool
	inviteCSeq   uint32 // CSeq of the latest initial INVITE
	callerTag    uint64 // hash of the caller's From tag
	toTag        uint64 // first To tag of a 1xx/2xx to the latest attempt
	inviteTS     int64  // first initial INVITE
	attemptTS    int64  // first copy of the latest initial INVITE attempt
	reInviteCSeq uint32 // CSeq of a re-INVITE seen in a partial dialog
	provTS       int64  // first 18x to the initial INVITE
	finalTS      int64  // first final response to the latest attempt
	answerTS     int64  // first 2xx to the initial INVITE
	byeTS        int64  // first BYE

	txns txnTable

	seq      uint64     // creation order: the tie-break of output order
	legKey   uint64     // key of this call in c.legs
	media    []mediaRef // endpoints this dialog bound in c.media
	mediaBuf [2]mediaRef
	reg      *regState // registrations only

	call callState
}

// regState is a registration dialog's record and what follows it.
type regState struct {
	Registration
	reqExpires int // expiry the latest REGISTER asked for, -1 if none
	// rprev/rnext link the registrations' own idle list, which
	// MaxRegistrations eviction takes from. They live here, not in
	// dialog, so calls do not pay for them.
	rprev, rnext *dialog
}

// Stats counts what the correlator saw, dropped and decided.
type Stats struct {
	Messages        int // SIP messages handled
	CallIDs         int // dialogs started (a Call-ID that returns after its dialog was dropped counts again)
	Held            int // dialogs in memory now
	Retransmissions int // retransmitted or duplicated requests and responses
	TimedOut        int // dialogs ended by a timer (Config.*Timeout, MaxCallAge, Linger)
	// CallNodesDropped counts capture points of a call beyond
	// maxCallNodes, left out of Call.Nodes (its messages keep their node).
	CallNodesDropped int
	// ClockSourcesShared counts messages of sources beyond maxSourceClocks
	// that had to share one clock.
	ClockSourcesShared int
	Evicted            int // dialogs dropped to stay within MaxDialogs
	EvictedActive      int // of those, dialogs that had not finished yet
	// RegistrationsEvicted counts registrations dropped to stay within
	// MaxRegistrations (those dropped by MaxDialogs are in Evicted).
	RegistrationsEvicted int
	Late                 int // messages of a dropped dialog that came after it, ignored
	UpdatesDropped       int // finished records dropped because nobody called Updates
	MediaDropped         int // media endpoints not remembered because MaxMedia was reached
	NATBindings          int // media sources learned from RTP rather than SDP
	BadSDP               int // SDP bodies that did not parse
	Malformed            int // messages kept although a header was broken (Call.Malformed)
	// Other counts transactions of Call-IDs that are neither calls nor
	// registrations (OPTIONS, MESSAGE, SUBSCRIBE, NOTIFY, ...) per method.
	Other map[string]int
}

// Correlator groups SIP messages into calls and registrations. It is not
// safe for concurrent use: one goroutine feeds it.
type Correlator struct {
	cfg         Config
	defaultLegs bool
	seed        maphash.Seed

	dialogs    dialogTable
	head, tail *dialog // idle list
	rhead      *dialog // registrations' idle list (regState.rprev/rnext)
	rtail      *dialog
	nregs      int     // registrations held
	dhead      *dialog // changed since the last Updates/UpdatedRegistrations
	dtail      *dialog
	ndirty     [3]int // dialogs on the changed list, per kind
	seq        uint64
	now        int64 // latest capture time seen
	// faxSwitches counts endpoint switches to and from T.38 (FaxSwitches).
	faxSwitches uint64
	// clocks are the sources' capture clocks by node (clock.go); src is
	// the current source's, arrival the receiver time of the current frame.
	clocks    map[string]uint16
	clockList []*sourceClock
	src       *sourceClock
	srcIndex  uint16
	srcShared bool // the source has no clock of its own (maxSourceClocks)
	arrival   int64
	// nodeSets are the sets of capture points calls were carried by
	// (clock.go); the first is the empty set.
	nodeSets   []nodeSet
	nodeSetIDs map[nodeSetKey]uint16
	// captureEnded is set by EndOfCapture: the file has no more frames.
	captureEnded bool
	captureEnd   int64 // the last frame's time, given to EndOfCapture

	media endpoints
	xcids map[string]*dialog // leg header value → the latest call carrying it
	legs  map[uint64]legEntry

	tombs tombstones

	calls records[Call]         // calls that left the dialog table
	regs  records[Registration] // registrations that left it

	msgs   []Message
	node   string    // capture point of the current messages (SetNode)
	strbuf []byte    // scratch for the strings a new call keeps
	spare  []*dialog // dropped dialogs kept for reuse (maxSpareDialogs)
	stats  Stats
	other  [numMethods]int
	sdp    sdpScratch
}

// held is a record that left the dialog table, with its creation order.
type held[T any] struct {
	rec  T
	seq  uint64
	emit bool // changed since Updates last handed it out
}

// records keeps the calls (or registrations) whose dialogs are gone.
type records[T any] struct {
	pending []held[T] // dropped before Updates handed them out (Retain off)
	retain  []held[T] // Retain on: every dropped record
	retainN int       // retained records Updates has already looked at
}

// New returns a Correlator; cfg must be valid (see Config.Validate).
func New(cfg Config) *Correlator {
	c := &Correlator{
		cfg:         cfg,
		defaultLegs: cfg.usesDefaultLegHeaders(),
		seed:        maphash.MakeSeed(),
		dialogs:     newDialogTable(),
		media:       newEndpoints(),
		xcids:       make(map[string]*dialog),
		legs:        make(map[uint64]legEntry),
		tombs:       newTombstones(cfg.MaxDialogs, int64(max(cfg.Linger, cfg.RegistrationLinger))),
		clocks:      make(map[string]uint16),
		nodeSets:    []nodeSet{{}},
		nodeSetIDs:  make(map[nodeSetKey]uint16),
	}
	c.SetNode("")
	return c
}

// Stats returns the counters so far.
func (c *Correlator) Stats() Stats {
	s := c.stats
	s.Held = c.dialogs.len()
	s.Other = make(map[string]int)
	for i, n := range c.other {
		if n > 0 {
			s.Other[method(i).String()] = n
		}
	}
	return s
}

// HandleSIP takes one parsed SIP message seen at ts (Unix ns) from src to dst.
// m's slices may point into a packet buffer: what is kept is copied. A
// message of a dialog already known does not allocate unless KeepMessages
// is set or it carries something new to keep (a Reason header, new SDP
// endpoints).
func (c *Correlator) HandleSIP(ts int64, src, dst netip.AddrPort, tr decode.Transport, m *sip.Message) {
	c.stats.Messages++
	if ts > c.now {
		c.now = ts
	}
	c.tick(ts)
	if c.cfg.KeepMessages {
		msg := newMessage(time.Unix(0, ts).UTC(), src, dst, tr, m)
		msg.Node = c.node
		c.msgs = append(c.msgs, msg)
	}
	var meth method
	if m.IsRequest {
		meth = parseMethod(m.Method)
	}
	cseqMeth := parseMethod(m.CSeqMethod)

	h := maphash.Bytes(c.seed, m.CallID)
	d := c.dialogs.get(h, m.CallID)
	if d == nil {
		if c.tombs.has(h, ts) && !startsDialog(m, meth) {
			c.stats.Late++
			return
		}
		d = c.newDialog(ts, h, src, m, meth, kindOf(m, meth, cseqMeth))
	} else {
		c.touch(d)
	}
	d.clock = c.srcIndex // the source that carries the call now keeps its time
	c.noteNode(d)
	if ts > d.last {
		d.last = ts
	}
	if ts > d.updated {
		d.updated = ts
	}
	if bad := malformedOf(m); bad != 0 {
		c.stats.Malformed++
		d.malformed |= bad
	}
	_, retrans := d.txns.observe(c.seed, m, meth, cseqMeth)
	if retrans {
		c.stats.Retransmissions++
	}
	switch d.kind {
	case kindCall:
		c.handleCall(d, ts, src, dst, m, meth, cseqMeth, retrans)
	case kindRegistration:
		c.handleRegister(d, ts, m, meth, cseqMeth, retrans)
	default:
		c.handleOther(d, m, meth, retrans)
	}
	c.markDirty(d)
}

// startsDialog tells whether a message may begin a new dialog for a Call-ID
// whose previous dialog was dropped: an out-of-dialog request (a REGISTER
// refresh, a new INVITE, an OPTIONS ping) may; responses and in-dialog
// requests are late copies of the old one.
func startsDialog(m *sip.Message, meth method) bool {
	return m.IsRequest && len(m.ToTag) == 0 && meth != methodAck && meth != methodCancel
}

func (c *Correlator) newDialog(ts int64, h uint64, src netip.AddrPort, m *sip.Message, meth method, kind dialogKind) *dialog {
	if c.dialogs.len() >= c.cfg.MaxDialogs {
		c.evictOldest()
	}
	if kind == kindRegistration && c.nregs >= c.cfg.MaxRegistrations {
		c.evictOldestRegistration()
	}
	c.stats.CallIDs++
	c.seq++
	d := c.allocDialog()
	d.hash, d.kind, d.seq, d.first, d.last, d.updated = h, kind, c.seq, ts, ts, ts
	if kind == kindCall && m.IsRequest && meth == methodInvite && len(m.ToTag) == 0 {
		// The initial INVITE: callRequest keeps its numbers and User-Agent
		// next. One string holds them with the Call-ID, so a new call costs
		// one copy instead of four.
		b := append(append(append(append(c.strbuf[:0], m.CallID...), m.FromUser...), m.ToUser...), m.UserAgent...)
		c.strbuf = b[:0]
		all := string(b)
		n, f, t := len(m.CallID), len(m.FromUser), len(m.ToUser)
		d.callID = all[:n]
		d.call.FromUser, d.call.ToUser = all[n:n+f], all[n+f:n+f+t]
		if len(m.UserAgent) > 0 {
			d.call.UserAgent = all[n+f+t:]
		}
	} else {
		d.callID = string(m.CallID)
	}
	c.dialogs.add(d)
	c.pushTail(d)
	start := time.Unix(0, ts).UTC()
	switch kind {
	case kindCall:
		d.call.CallID, d.call.Start = d.callID, start
	case kindRegistration:
		d.reg = &regState{Registration: Registration{CallID: d.callID, Start: start, SrcIP: src.Addr(), Expires: -1}, reqExpires: -1}
		c.pushRegTail(d)
	}
	return d
}

func (c *Correlator) handleOther(d *dialog, m *sip.Message, meth method, retrans bool) {
	if retrans {
		return
	}
	if m.IsRequest {
		if meth != methodAck {
			c.other[meth]++
		}
		d.finished = false
		return
	}
	if m.StatusCode >= 200 {
		d.finished = true
	}
}

func newMessage(at time.Time, src, dst netip.AddrPort, tr decode.Transport, m *sip.Message) Message {
	msg := Message{
		TS:         at,
		Src:        src,
		Dst:        dst,
		Transport:  tr.String(),
		CallID:     string(m.CallID),
		IsRequest:  m.IsRequest,
		StatusCode: m.StatusCode,
		Reason:     string(m.Reason),
		CSeq:       m.CSeq,
		CSeqMethod: string(m.CSeqMethod),
		FromUser:   string(m.FromUser),
		ToUser:     string(m.ToUser),
		Raw:        slices.Clone(m.Raw),
	}
	if m.IsRequest {
		msg.Method = string(m.Method)
	} else {
		msg.Method = msg.CSeqMethod
	}
	return msg
}

// SetNode names the capture point of the messages handled from now on
// (kept on retained messages). The pipeline calls it when the source of
// its frames changes; the string is shared, not copied.
func (c *Correlator) SetNode(node string) {
	c.node = node
	c.srcIndex = c.clockOf(node)
	c.src = c.clockList[c.srcIndex]
	c.srcShared = c.src.node != node
}

// TakeMessages returns the messages retained since the last call and forgets them.
func (c *Correlator) TakeMessages() []Message {
	out := c.msgs
	c.msgs = nil
	return out
}

// ReuseMessages hands back a slice TakeMessages returned, once its
// messages are no longer used (written to the store): its elements are
// cleared and the messages retained from now on are appended to it
// instead of to a slice grown anew from nothing after every batch. It
// does nothing while messages are retained.
func (c *Correlator) ReuseMessages(buf []Message) {
	if len(c.msgs) > 0 || cap(buf) <= cap(c.msgs) {
		return
	}
	clear(buf)
	c.msgs = buf[:0]
}

// PendingMessages is how many retained messages TakeMessages would return.
func (c *Correlator) PendingMessages() int { return len(c.msgs) }
