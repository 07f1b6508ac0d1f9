package correlate

import (
	"fmt"
	"net/netip"
	"strconv"
	"testing"
	"time"

	"github.com/sipscope/sipscope/decode/sip"
)

// traffic generates many answered calls (INVITE/180/200/ACK/BYE/200, SDP in
// the INVITE and the 200) as pre-parsed message views: each of the six
// messages is parsed once from real text, and per call only the Call-ID,
// the numbers and the SDP body are pointed elsewhere. That keeps a million
// calls fast while the correlator sees what the parser would give it.
type traffic struct {
	views    [6]sip.Message
	raw      [6][]byte
	offsets  [6]time.Duration // of each message after the call's INVITE
	fromCall [6]bool          // sent by the caller
	ids      [6][]byte        // per-message Call-ID buffers
	from     [6][]byte
	to       [6][]byte
	offers   [][]byte
	answers  [][]byte
	caller   netip.AddrPort
	callee   netip.AddrPort
}

const trafficPool = 30000 // distinct SDP endpoints per side

// newTraffic builds the six views; reason adds a Q.850 Reason header to
// the BYE (which the correlator must copy, one allocation per call).
func newTraffic(t testing.TB, reason bool) *traffic {
	tr := &traffic{
		offsets:  [6]time.Duration{0, 50 * time.Millisecond, 2 * time.Second, 2010 * time.Millisecond, 10 * time.Second, 10010 * time.Millisecond},
		fromCall: [6]bool{true, false, false, true, true, false},
		caller:   netip.MustParseAddrPort("10.1.0.1:5060"),
		callee:   netip.MustParseAddrPort("10.2.0.1:5060"),
	}
	script := []sipMsg{
		{start: "INVITE", cseq: "1 INVITE", headers: "User-Agent: loadgen/1.0\r\n", sdp: sdpBody("10.1.0.1", 10000)},
		{start: "SIP/2.0 180 Ringing", cseq: "1 INVITE"},
		{start: "SIP/2.0 200 OK", cseq: "1 INVITE", sdp: sdpBody("10.2.0.1", 20000)},
		{start: "ACK", cseq: "1 ACK", toTag: "b1"},
		{start: "BYE", cseq: "2 BYE", toTag: "b1"},
		{start: "SIP/2.0 200 OK", cseq: "2 BYE"},
	}
	if reason {
		script[4].headers = "Reason: Q.850;cause=16\r\n"
	}
	caller := party{"4930100000000", tr.caller, "a1"}
	callee := party{"4940200000000", tr.callee, "b1"}
	for k, e := range script {
		tr.raw[k] = buildMsg("template@load", caller, callee, e)
		if err := tr.views[k].Unmarshal(tr.raw[k]); err != nil {
			t.Fatalf("template %d: %v", k, err)
		}
		tr.ids[k] = make([]byte, 0, 32)
		tr.from[k] = make([]byte, 0, 16)
		tr.to[k] = make([]byte, 0, 16)
	}
	for p := 0; p < trafficPool; p++ {
		port := 1024 + 2*p
		tr.offers = append(tr.offers, []byte(sdpBody("10.1.0.1", port)))
		tr.answers = append(tr.answers, []byte(sdpBody("10.2.0.1", port)))
	}
	return tr
}

// message points view k at call i and returns it with its addresses.
func (tr *traffic) message(i, k int) (m *sip.Message, src, dst netip.AddrPort) {
	m = &tr.views[k]
	tr.ids[k] = append(strconv.AppendInt(append(tr.ids[k][:0], 'c'), int64(i), 10), "@load"...)
	m.CallID = tr.ids[k]
	// Distinct numbers per call, so leg matching has real work to do.
	tr.from[k] = strconv.AppendInt(append(tr.from[k][:0], "49301"...), int64(i), 10)
	tr.to[k] = strconv.AppendInt(append(tr.to[k][:0], "49402"...), int64(i), 10)
	if k <= 2 || k == 5 {
		m.FromUser, m.ToUser = tr.from[k], tr.to[k]
	}
	switch k {
	case 0:
		m.Body = tr.offers[i%trafficPool]
	case 2:
		m.Body = tr.answers[i%trafficPool]
	}
	if tr.fromCall[k] {
		return m, tr.caller, tr.callee
	}
	return m, tr.callee, tr.caller
}

// tick is 1 ms of traffic at 1000 new calls per second: message k of call
// tickNo - offset(k). It calls f for each message that exists.
func (tr *traffic) tick(tickNo, calls int, f func(i int, m *sip.Message, src, dst netip.AddrPort)) {
	for k := 5; k >= 0; k-- {
		i := tickNo - int(tr.offsets[k]/time.Millisecond)
		if i < 0 || i >= calls {
			continue
		}
		m, src, dst := tr.message(i, k)
		f(i, m, src, dst)
	}
}

func (tr *traffic) ticks() int { return int(tr.offsets[5]/time.Millisecond) + 1 }

func describeHeap(b uint64) string { return fmt.Sprintf("%.1f MB", float64(b)/(1<<20)) }
