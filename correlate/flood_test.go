package correlate

import (
	"fmt"
	"net/netip"
	"runtime"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/sipscope/sipscope/decode"
	"github.com/sipscope/sipscope/decode/sip"
)

func TestMaxRegistrationsEvictsTheRegistrationIdleLongest(t *testing.T) {
	cfg := liveConfig()
	cfg.MaxRegistrations = 2
	c := New(cfg)
	register := func(id string, at time.Duration) {
		play(t, c, id, base+int64(at), alice, bob, []sipMsg{{start: "REGISTER", cseq: "1 REGISTER", headers: "Contact: <sip:alice@10.0.0.1>\r\n"}})
	}
	// A call among the registrations: registrations must not evict it.
	play(t, c, "call@test", base, alice, bob, []sipMsg{inv(0, 1)})
	register("r1@test", 1*sec)
	register("r2@test", 2*sec)
	// r1 retransmits, so r2 is now the registration idle longest.
	play(t, c, "r1@test", base+int64(3*sec), alice, bob, []sipMsg{{start: "REGISTER", cseq: "1 REGISTER", headers: "Contact: <sip:alice@10.0.0.1>\r\n"}})
	register("r3@test", 4*sec)
	register("r4@test", 5*sec)

	s := c.Stats()
	if s.RegistrationsEvicted != 2 || s.Evicted != 0 || s.Held != 3 {
		t.Errorf("stats %+v: want 2 registrations evicted, the call and 2 registrations held", s)
	}
	var held []string
	for d := c.rhead; d != nil; d = d.reg.rnext {
		held = append(held, d.callID)
	}
	if want := []string{"r3@test", "r4@test"}; !slices.Equal(held, want) || c.nregs != 2 {
		t.Errorf("registrations held %q (count %d), want %q", held, c.nregs, want)
	}
	var evicted []string
	for _, r := range c.UpdatedRegistrations() {
		if r.Failed { // ended without a response: evicted
			evicted = append(evicted, r.CallID)
		}
	}
	slices.Sort(evicted)
	if want := []string{"r1@test", "r2@test"}; !slices.Equal(evicted, want) {
		t.Errorf("registrations handed out finished %q, want %q", evicted, want)
	}
	if len(c.Calls()) != 1 {
		t.Error("the call was dropped to make room for registrations")
	}
	// Expire drops the rest; the list must come out empty and consistent.
	c.Expire(base + int64(time.Hour))
	if c.rhead != nil || c.rtail != nil || c.nregs != 0 {
		t.Errorf("after Expire: registrations list head %v tail %v count %d", c.rhead, c.rtail, c.nregs)
	}
}

// inviteFlood builds distinct unanswered INVITEs as a scanner or a
// misrouted trunk sends them: a new Call-ID, new numbers and a new media
// endpoint in the SDP each time, none ever answered.
type inviteFlood struct {
	view         sip.Message
	id, from, to []byte
	body         []byte
}

func newInviteFlood(t testing.TB) *inviteFlood {
	raw := buildMsg("template@flood", party{"4930100000000", netip.MustParseAddrPort("10.1.0.1:5060"), "a1"},
		party{"4940200000000", netip.MustParseAddrPort("10.2.0.1:5060"), "b1"},
		sipMsg{start: "INVITE", cseq: "1 INVITE", headers: "User-Agent: friendly-scanner\r\n", sdp: sdpBody("10.1.0.1", 10000)})
	f := &inviteFlood{}
	if err := f.view.Unmarshal(raw); err != nil {
		t.Fatal(err)
	}
	return f
}

// message points the view at INVITE i.
func (f *inviteFlood) message(i int) *sip.Message {
	m := &f.view
	f.id = append(strconv.AppendInt(append(f.id[:0], "flood-"...), int64(i), 10), "@198.51.100.7"...)
	f.from = strconv.AppendInt(append(f.from[:0], "49301"...), int64(i), 10)
	f.to = strconv.AppendInt(append(f.to[:0], "49402"...), int64(i), 10)
	ip := fmt.Sprintf("10.%d.%d.%d", 1+i>>16&0xff, i>>8&0xff, i&0xff)
	f.body = fmt.Appendf(f.body[:0], "v=0\r\no=- 1 1 IN IP4 %s\r\ns=-\r\nc=IN IP4 %s\r\nt=0 0\r\nm=audio %d RTP/AVP 8 101\r\na=rtpmap:8 PCMA/8000\r\n", ip, ip, 10000+2*(i%20000))
	m.CallID, m.FromUser, m.ToUser, m.Body = f.id, f.from, f.to, f.body
	return m
}

// TestAnUnansweredInviteFloodStaysWithinItsHeapBound sends distinct
// unanswered INVITEs at 40,000 per second of capture time through a live
// correlator with the default limits, drained as the live pipeline drains
// it (Expire and Updates every second), until the dialog table has been
// full for a while, and prints the peak live heap. The bound is what the
// default MaxDialogs was chosen for: 600 MB of live heap, which the
// garbage collector's headroom makes 1.2 GB of RSS, under 2 GB.
func TestAnUnansweredInviteFloodStaysWithinItsHeapBound(t *testing.T) {
	const (
		rate     = 40_000 // INVITEs per second of capture time
		heapCap  = 600 << 20
		perDlgKB = 1.8 // the figure the Config comments quote; checked below
	)
	cfg := DefaultConfig()
	cfg.Retain = false
	total := cfg.MaxDialogs + cfg.MaxDialogs/4 // the table full for the last fifth
	fl := newInviteFlood(t)
	src, dst := netip.MustParseAddrPort("198.51.100.7:5060"), netip.MustParseAddrPort("10.2.0.1:5060")

	var before runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	c := New(cfg) // what New sizes from the limits counts too
	var peak uint64
	var updates []Call
	start := time.Now()
	for i := range total {
		ts := base + int64(i)*int64(time.Second)/rate
		c.HandleSIP(ts, src, dst, decode.TransportUDP, fl.message(i))
		if i%rate == rate-1 {
			c.Expire(ts)
			updates = c.AppendUpdates(updates[:0])
			if i/rate%2 == 1 { // a heap sample every 2 s of capture time
				var ms runtime.MemStats
				runtime.GC()
				runtime.ReadMemStats(&ms)
				peak = max(peak, ms.HeapAlloc-min(ms.HeapAlloc, before.HeapAlloc))
			}
		}
	}
	var ms runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&ms)
	held := ms.HeapAlloc - min(ms.HeapAlloc, before.HeapAlloc)
	peak = max(peak, held)
	s := c.Stats()
	perDialog := float64(held) / float64(s.Held)
	t.Logf("%d unanswered INVITEs in %v: held %d dialogs (MaxDialogs %d), evicted %d, timed out %d; peak live heap %s, %.0f bytes per held dialog",
		total, time.Since(start).Round(time.Millisecond), s.Held, cfg.MaxDialogs, s.Evicted, s.TimedOut, describeHeap(peak), perDialog)
	if s.Held > cfg.MaxDialogs || s.Evicted == 0 {
		t.Errorf("held %d, evicted %d: the flood did not fill the table, or it overflowed", s.Held, s.Evicted)
	}
	if peak >= heapCap {
		t.Errorf("peak live heap %s, bound %s", describeHeap(peak), describeHeap(heapCap))
	}
	if perDialog > 1.5*perDlgKB*1024 {
		t.Errorf("%.0f bytes per held dialog: the defaults were sized for about %.1f KB; re-measure and re-size", perDialog, perDlgKB)
	}
	runtime.KeepAlive(c)
}
