package pipeline

import (
	"fmt"

	"github.com/sipscope/sipscope/decode/rtp"
	"github.com/sipscope/sipscope/decode/sip"
	"github.com/sipscope/sipscope/frame"
	"github.com/sipscope/sipscope/storage"
)

// StoreRTP is how much of a call's media the pipeline keeps as captured
// frames (config store_rtp). A call's SIP frames are kept in every mode but
// StoreNothing.
type StoreRTP uint8

const (
	// StoreRTPFull keeps every RTP and RTCP frame whole (the default).
	StoreRTPFull StoreRTP = iota
	// StoreRTPHeaders keeps RTP frames up to the end of the RTP header and
	// its CSRCs (the payload is left out, the original length kept) and
	// RTCP whole: enough for Wireshark's stream analysis, not for audio.
	StoreRTPHeaders
	// StoreRTPNone keeps no media, only the SIP frames.
	StoreRTPNone
)

// ParseStoreRTP reads a store_rtp value: full, headers or none.
func ParseStoreRTP(s string) (StoreRTP, error) {
	switch s {
	case "", "full":
		return StoreRTPFull, nil
	case "headers":
		return StoreRTPHeaders, nil
	case "none":
		return StoreRTPNone, nil
	}
	return 0, fmt.Errorf("%w: store_rtp %q: want full, headers or none", ErrBadOption, s)
}

func (m StoreRTP) String() string {
	switch m {
	case StoreRTPHeaders:
		return "headers"
	case StoreRTPNone:
		return "none"
	}
	return "full"
}

// DefaultFrameArenaBytes bounds the frame bytes one batch holds: at the
// default live flush (1 s) it is the full media of about 2,500 G.711
// calls (25 kB/s each) at once.
const DefaultFrameArenaBytes = 64 << 20

// frameArena collects the frames of one batch in one buffer: a kept frame
// costs a copy into it and no allocation once the buffer has grown to the
// batch's size. Beyond limit frames are dropped and counted.
type frameArena struct {
	mode    StoreRTP
	limit   int
	buf     []byte
	pkts    []storage.Packet
	kept    int
	dropped int
	// cur is the frame being handled (nil outside HandleFrame); seq is its
	// number in this run.
	cur *frame.Frame
	seq uint64
}

// SetStoreFrames makes the pipeline keep the captured frames of calls in
// mode, at most limit bytes per batch (0: DefaultFrameArenaBytes); the
// store writer takes them with TakeFrames or AppendLiveBatch.
func (p *Pipeline) SetStoreFrames(mode StoreRTP, limit int) {
	if limit <= 0 {
		limit = DefaultFrameArenaBytes
	}
	p.frames = &frameArena{mode: mode, limit: limit}
}

// FrameCounts is how many frames were kept for storage and how many were
// dropped because a batch's arena was full.
func (p *Pipeline) FrameCounts() (kept, dropped int) {
	if p.frames == nil {
		return 0, 0
	}
	return p.frames.kept, p.frames.dropped
}

// offsetIn returns where b starts inside data, or -1 when b is not a part
// of data (a reassembled IP datagram, an unmasked WebSocket message): such
// a payload was not carried whole by the frame.
func offsetIn(data, b []byte) int {
	if len(b) == 0 || cap(data) < cap(b) {
		return -1
	}
	off := cap(data) - cap(b)
	if off+len(b) > len(data) || &data[off] != &b[0] {
		return -1
	}
	return off
}

// keep copies the first n bytes of the current frame into the arena.
func (a *frameArena) keep(n int, callID, kind string) {
	f := a.cur
	if len(a.buf)+n > a.limit {
		a.dropped++
		return
	}
	if cap(a.buf)-len(a.buf) < n {
		// Double, as append would not for a large slice (it adds a
		// quarter): each growth is a fresh block the kernel faults in
		// page by page, and an import's arena grows from 1 MB to half its
		// bound in every new pipeline. The frames kept so far keep
		// pointing into the old block until their batch is written.
		grown := make([]byte, len(a.buf), min(max(2*cap(a.buf), 1<<20, len(a.buf)+n), a.limit))
		copy(grown, a.buf)
		a.buf = grown
	}
	start := len(a.buf)
	a.buf = append(a.buf, f.Data[:n]...)
	orig := f.OrigLen
	if orig < len(f.Data) {
		orig = len(f.Data)
	}
	a.pkts = append(a.pkts, storage.Packet{
		CallID: callID, TS: f.TS, Seq: a.seq, Kind: kind, LinkType: uint16(f.LinkType),
		OrigLen: uint32(min(orig, 1<<31)), Data: a.buf[start:len(a.buf):len(a.buf)], Node: f.Node,
	})
	a.kept++
}

// full tells whether the arena is past half its bound: an import writes
// then, so that no frame (at most a snap length) is ever dropped.
func (a *frameArena) full() bool { return a != nil && len(a.buf) >= a.limit/2 }

// keepSIP keeps the frame that carried a SIP message of a call whole.
// Registrations and keep-alives are not calls: their frames are not kept.
func (p *Pipeline) keepSIP(payload []byte) {
	a := p.frames
	if a == nil || a.cur == nil || a.cur.LinkType == frame.LinkHEP || len(p.msg.CallID) == 0 {
		return
	}
	switch sip.ParseMethod(p.msg.CSeqMethod) {
	case sip.MethodRegister, sip.MethodOptions:
		return
	}
	if offsetIn(a.cur.Data, payload) < 0 {
		return // not carried whole by this frame: the PCAP rebuilds it
	}
	a.keep(len(a.cur.Data), string(p.msg.CallID), storage.PacketSIP)
}

// keepRTP keeps an RTP frame of a call: whole, or cut after the RTP header
// and CSRCs.
func (p *Pipeline) keepRTP(callID string, h *rtp.Header, payload []byte) {
	a := p.frames
	if a == nil || a.cur == nil || a.mode == StoreRTPNone || callID == "" || a.cur.LinkType == frame.LinkHEP {
		return
	}
	off := offsetIn(a.cur.Data, payload)
	if off < 0 {
		return
	}
	n := len(a.cur.Data)
	if a.mode == StoreRTPHeaders {
		n = min(n, off+rtp.HeaderLen+4*int(h.CSRCCount))
	}
	a.keep(n, callID, storage.PacketRTP)
}

// keepRTCP keeps an RTCP frame of a call whole (RTCP is all headers).
func (p *Pipeline) keepRTCP(callID string, payload []byte) {
	a := p.frames
	if a == nil || a.cur == nil || a.mode == StoreRTPNone || callID == "" || a.cur.LinkType == frame.LinkHEP {
		return
	}
	if offsetIn(a.cur.Data, payload) < 0 {
		return
	}
	a.keep(len(a.cur.Data), callID, storage.PacketRTCP)
}

// TakeFrames returns the frames kept since the last call and leaves
// their memory to them: the arena starts a new buffer.
func (p *Pipeline) TakeFrames() []storage.Packet {
	a := p.frames
	if a == nil {
		return nil
	}
	out := a.pkts
	a.pkts, a.buf = nil, nil
	return out
}

// appendFrames appends the frames kept since the last call to dst: the
// records are copied, so the arena keeps its record slice, but their bytes
// now belong to dst and the arena starts a new buffer.
func (p *Pipeline) appendFrames(dst []storage.Packet) []storage.Packet {
	a := p.frames
	if a == nil || len(a.pkts) == 0 {
		return dst
	}
	dst = append(dst, a.pkts...)
	clear(a.pkts)
	a.pkts, a.buf = a.pkts[:0], nil
	return dst
}

// pendingFrames is the frames kept and not yet taken.
func (p *Pipeline) pendingFrames() []storage.Packet {
	if p.frames == nil {
		return nil
	}
	return p.frames.pkts
}

// frameSet is a batch's frames and the arena memory they point into.
type frameSet struct {
	pkts []storage.Packet
	buf  []byte
}

// detachFrames takes the frames kept since the last call, with their
// memory, and continues into spare (the memory of an earlier detached set,
// written since, or empty): an import writes one batch while the next one
// fills.
func (p *Pipeline) detachFrames(spare frameSet) frameSet {
	a := p.frames
	if a == nil {
		return frameSet{}
	}
	out := frameSet{pkts: a.pkts, buf: a.buf}
	clear(spare.pkts)
	a.pkts, a.buf = spare.pkts[:0], spare.buf[:0]
	return out
}

// reuseFrames forgets the frames kept since the last call and reuses their
// memory: the caller has written them (pendingFrames) synchronously.
func (p *Pipeline) reuseFrames() {
	if a := p.frames; a != nil {
		clear(a.pkts)
		a.pkts, a.buf = a.pkts[:0], a.buf[:0]
	}
}
