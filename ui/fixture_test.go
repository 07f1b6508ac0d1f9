package ui_test

import (
	"context"
	"fmt"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/sipscope/sipscope/correlate"
	"github.com/sipscope/sipscope/diagnose"
	"github.com/sipscope/sipscope/quality"
	"github.com/sipscope/sipscope/storage"
	"github.com/sipscope/sipscope/storage/embedded"
)

var t0 = time.Date(2025, 1, 14, 9, 30, 0, 250000000, time.UTC)

// step is one SIP message of a fixture call.
type step struct {
	at       time.Duration
	src, dst string
	method   string // or the CSeq method of a response
	code     int
	reason   string
	cseq     uint32
}

type callFixture struct {
	call    correlate.Call
	msgs    []correlate.Message
	streams []quality.Stream
}

func makeCall(id, from, to, state string, final int, start time.Time, transport string, steps []step) callFixture {
	var f callFixture
	for _, s := range steps {
		var raw strings.Builder
		if s.code == 0 {
			fmt.Fprintf(&raw, "%s sip:%s@example.net SIP/2.0\r\n", s.method, to)
		} else {
			fmt.Fprintf(&raw, "SIP/2.0 %d %s\r\n", s.code, s.reason)
		}
		fmt.Fprintf(&raw, "Via: SIP/2.0/%s %s;branch=z9hG4bK-%d-%s\r\n", strings.ToUpper(transport), s.src, s.cseq, s.method)
		fmt.Fprintf(&raw, "From: <sip:%s@example.org>;tag=98asjd8\r\nTo: <sip:%s@example.net>\r\n", from, to)
		fmt.Fprintf(&raw, "Call-ID: %s\r\nCSeq: %d %s\r\nContent-Length: 0\r\n\r\n", id, s.cseq, s.method)
		f.msgs = append(f.msgs, correlate.Message{
			TS: start.Add(s.at), Src: netip.MustParseAddrPort(s.src), Dst: netip.MustParseAddrPort(s.dst),
			Transport: transport, CallID: id, IsRequest: s.code == 0, Method: s.method,
			StatusCode: s.code, Reason: s.reason, CSeq: s.cseq, CSeqMethod: s.method,
			FromUser: from, ToUser: to, Raw: []byte(raw.String()),
		})
	}
	f.call = correlate.Call{
		CallID: id, FromUser: from, ToUser: to, State: state, FinalCode: final,
		SrcIP: f.msgs[0].Src.Addr(), DstIP: f.msgs[0].Dst.Addr(),
		Start: f.msgs[0].TS, End: f.msgs[len(f.msgs)-1].TS, Messages: len(f.msgs),
	}
	return f
}

const (
	answeredID = "9f2c/a+b@host-a.example.org"
	legBID     = "leg-b/7+x@sbc.example.net"
	failedID   = "77aa-failed@[2001:db8::a]"
	hostileID  = "hostile-1@198.51.100.66"
)

// fixtureCalls: an answered call through a proxy (three columns) with RTP,
// a failed IPv6 call, a call whose users and SIP text are HTML that must
// stay text, and the answered call's other leg behind an SBC.
func fixtureCalls() []callFixture {
	ua, proxy, ub := "192.0.2.1:5060", "192.0.2.2:5060", "192.0.2.3:5062"
	answered := makeCall(answeredID, "alice", "bob", correlate.StateAnswered, 200, t0, "udp", []step{
		{0, ua, proxy, "INVITE", 0, "", 1},
		{5 * time.Millisecond, proxy, ua, "INVITE", 100, "Trying", 1},
		{8 * time.Millisecond, proxy, ub, "INVITE", 0, "", 1},
		{20 * time.Millisecond, ub, proxy, "INVITE", 180, "Ringing", 1},
		{21 * time.Millisecond, proxy, ua, "INVITE", 180, "Ringing", 1},
		{3 * time.Second, ub, proxy, "INVITE", 200, "OK", 1},
		{3*time.Second + 1*time.Millisecond, proxy, ua, "INVITE", 200, "OK", 1},
		{3*time.Second + 123*time.Millisecond, ua, proxy, "ACK", 0, "", 1},
		{65 * time.Second, ua, proxy, "BYE", 0, "", 2},
		{65*time.Second + 4*time.Millisecond, proxy, ua, "BYE", 200, "OK", 2},
	})
	answered.call.MOS = 3.4
	answered.call.EndReason, answered.call.ByeBy, answered.call.Finished = correlate.EndCallerBye, correlate.SideCaller, true
	answered.call.PDDMs, answered.call.RingMs, answered.call.AnswerMs, answered.call.DurationMs = 20, 2980, 3000, 62000
	answered.call.Q850Cause, answered.call.ReasonHeader = 16, `Q.850;cause=16;text="Normal call clearing"`
	answered.call.UserAgent, answered.call.LinkedCallIDs = "Zoiper rv2.10", []string{legBID}
	answered.streams = []quality.Stream{
		{SSRC: 0xDEADBEEF, Src: netip.MustParseAddrPort("192.0.2.1:40000"), Dst: netip.MustParseAddrPort("192.0.2.3:50000"),
			Payload: "g711A", PayloadType: 8, Start: t0.Add(3 * time.Second), End: t0.Add(65 * time.Second),
			Packets: 3000, Expected: 3100, Lost: 100, MinDeltaMs: 10, MeanDeltaMs: 20.5, MaxDeltaMs: 120.25,
			MinJitterMs: 0.1, MeanJitterMs: 4.5, MaxJitterMs: 30.75, MOS: 3.4, CallID: answeredID,
			Late: 12, EffectiveLost: 112, JitterBuffer: "adaptive", JitterBufferMs: 62.5, BurstR: 1.8, RTTMs: 96.4, R: 60.3,
			RTCP: quality.RTCPReport{SSRC: 0xDEADBEEF, Reports: 8, ReceiverReports: 8, RTTMs: 90.5, MeanRTTMs: 96.4,
				MaxRTTMs: 130, RTTSamples: 6, FractionLostPct: 3.125},
			// Ten-second intervals: good, fair, poor with heavy loss, a
			// hold where nothing was due, then good again.
			MOSTimeline: []quality.IntervalMOS{
				{StartMs: 0, DurationMs: 10000, Packets: 500, LossPct: 0, BurstR: 1, JitterBufferMs: 40, MOS: 4.3},
				{StartMs: 10000, DurationMs: 10000, Packets: 495, Lost: 3, Late: 2, LossPct: 1.5, BurstR: 1.2, JitterBufferMs: 60, MOS: 3.8},
				{StartMs: 20000, DurationMs: 10000, Packets: 460, Lost: 30, Late: 10, LossPct: 8, BurstR: 2.6, JitterBufferMs: 95, MOS: 2.9},
				{StartMs: 30000, DurationMs: 10000},
				{StartMs: 40000, DurationMs: 10000, Packets: 499, Lost: 1, LossPct: 0.2, BurstR: 1, JitterBufferMs: 50, MOS: 4.1},
				{StartMs: 50000, DurationMs: 10000, Packets: 500, LossPct: 0, BurstR: 1, JitterBufferMs: 45, MOS: 4.35},
			},
			DTMF: []quality.DTMFEvent{
				{Event: 1, Digit: "1", Start: t0.Add(20500 * time.Millisecond), DurationMs: 120, Volume: 10, Ended: true, StartSeen: true, Packets: 7},
				{Event: 11, Digit: "#", Start: t0.Add(21250 * time.Millisecond), DurationMs: 160, Volume: 10, Ended: true, StartSeen: true, Packets: 8},
			}},
		{SSRC: 0x00000042, Src: netip.MustParseAddrPort("192.0.2.3:50000"), Dst: netip.MustParseAddrPort("192.0.2.1:40000"),
			Payload: "g711A", PayloadType: 8, Start: t0.Add(3*time.Second + 10*time.Millisecond), End: t0.Add(65 * time.Second),
			Packets: 3100, Expected: 3100, Lost: 0, MinDeltaMs: 19, MeanDeltaMs: 20, MaxDeltaMs: 21,
			MinJitterMs: 0, MeanJitterMs: 0.2, MaxJitterMs: 0.5, MOS: 4.41, CallID: answeredID,
			JitterBuffer: "fixed-50ms", JitterBufferMs: 50, BurstR: 1, R: 93.2},
	}

	// The same call's other leg behind the SBC (192.0.2.3), linked by X-CID.
	sbc, carrier := "192.0.2.3:5080", "203.0.113.9:5060"
	legB := makeCall(legBID, "4930111", "4940222", correlate.StateAnswered, 200, t0.Add(50*time.Millisecond), "udp", []step{
		{0, sbc, carrier, "INVITE", 0, "", 1},
		{30 * time.Millisecond, carrier, sbc, "INVITE", 180, "Ringing", 1},
		{2900 * time.Millisecond, carrier, sbc, "INVITE", 200, "OK", 1},
		{2910 * time.Millisecond, sbc, carrier, "ACK", 0, "", 1},
		{64900 * time.Millisecond, sbc, carrier, "BYE", 0, "", 2},
		{64950 * time.Millisecond, carrier, sbc, "BYE", 200, "OK", 2},
	})
	legB.call.EndReason, legB.call.ByeBy, legB.call.Finished = correlate.EndCallerBye, correlate.SideCaller, true
	legB.call.PDDMs, legB.call.RingMs, legB.call.AnswerMs, legB.call.DurationMs = 30, 2870, 2900, 62000
	legB.call.XCallID, legB.call.LinkedCallIDs = answeredID, []string{answeredID}

	c, s := "[2001:db8::a]:5060", "[2001:db8::b]:5060"
	failed := makeCall(failedID, "carol", "dave", correlate.StateFailed, 486, t0.Add(time.Hour), "tcp", []step{
		{0, c, s, "INVITE", 0, "", 7},
		{1500 * time.Millisecond, s, c, "INVITE", 486, "Busy Here", 7},
		{1510 * time.Millisecond, c, s, "ACK", 0, "", 7},
	})
	failed.call.EndReason, failed.call.Finished = correlate.EndBusy, true

	hostile := makeCall(hostileID, `<img src=x onerror="window.pwned=1">`, `<script>window.pwned=2</script>`,
		correlate.StateNoFinal, 0, t0.Add(2*time.Hour), "udp", []step{
			{0, "198.51.100.66:5060", "198.51.100.67:5060", "INVITE", 0, "", 1},
		})
	hostile.msgs[0].Raw = append(hostile.msgs[0].Raw, []byte(`<svg onload="window.pwned=3"></svg>`)...)
	hostile.call.EndReason = correlate.EndInProgress
	hostile.call.UserAgent = `<img src=x onerror="window.pwned=4">`
	hostile.call.ReasonHeader = `<script>window.pwned=5</script>`
	hostile.call.LinkedCallIDs = []string{`javascript:window.pwned=6`}
	return []callFixture{answered, failed, hostile, legB}
}

func openStore(t *testing.T, calls []callFixture) *embedded.Store {
	t.Helper()
	ctx := context.Background()
	st, err := embedded.Open(ctx, t.TempDir())
	if err != nil {
		t.Fatalf("embedded.Open: %v", err)
	}
	t.Cleanup(func() { _ = st.Close() })
	var b storage.Batch
	for _, c := range calls {
		b.Calls = append(b.Calls, c.call)
		b.Messages = append(b.Messages, c.msgs...)
		b.Streams = append(b.Streams, c.streams...)
	}
	diagnose.Apply(b.Calls, b.Streams) // as import and live mode do before writing
	if err := st.Write(ctx, b); err != nil {
		t.Fatalf("Write: %v", err)
	}
	return st
}
