package api_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/sipscope/sipscope/api"
	"github.com/sipscope/sipscope/correlate"
	"github.com/sipscope/sipscope/diagnose"
	"github.com/sipscope/sipscope/quality"
	"github.com/sipscope/sipscope/storage"
	"github.com/sipscope/sipscope/storage/embedded"
)

// fixture is one call as correlate and quality would hand it to storage.
type fixture struct {
	call    correlate.Call
	msgs    []correlate.Message
	streams []quality.Stream
}

// leg describes one SIP message of a fixture call.
type leg struct {
	at        time.Duration // after the call's first message
	src, dst  string        // "ip:port"
	transport string
	method    string // request method, or the CSeq method of a response
	code      int    // 0 for a request
	reason    string
	cseq      uint32
	sdp       bool
}

// baseTime is microsecond-aligned because storage keeps microseconds.
var baseTime = time.Date(2024, 3, 5, 10, 20, 30, 123456000, time.UTC)

const sdpOffer = "v=0\r\no=- 20518 0 IN IP4 192.0.2.10\r\ns=-\r\nc=IN IP4 192.0.2.10\r\n" +
	"t=0 0\r\nm=audio 49170 RTP/AVP 0 8 101\r\na=rtpmap:0 PCMU/8000\r\na=rtpmap:101 telephone-event/8000\r\n"

// sipText renders a plausible SIP message for a leg, so that Wireshark has
// real SIP to dissect in the exported PCAP.
func sipText(callID, fromUser, toUser string, l leg) []byte {
	var b strings.Builder
	if l.code == 0 {
		fmt.Fprintf(&b, "%s sip:%s@biloxi.example.com SIP/2.0\r\n", l.method, toUser)
	} else {
		fmt.Fprintf(&b, "SIP/2.0 %d %s\r\n", l.code, l.reason)
	}
	via := l.src
	if l.code != 0 {
		via = l.dst
	}
	fmt.Fprintf(&b, "Via: SIP/2.0/%s %s;branch=z9hG4bK%x%s\r\n", strings.ToUpper(l.transport), via, l.cseq, l.method)
	b.WriteString("Max-Forwards: 70\r\n")
	fmt.Fprintf(&b, "From: \"%s\" <sip:%s@atlanta.example.com>;tag=1928301774\r\n", fromUser, fromUser)
	toTag := ""
	if l.code > 100 || (l.code == 0 && l.method != "INVITE" && l.method != "CANCEL") {
		toTag = ";tag=a6c85cf"
	}
	fmt.Fprintf(&b, "To: <sip:%s@biloxi.example.com>%s\r\n", toUser, toTag)
	fmt.Fprintf(&b, "Call-ID: %s\r\n", callID)
	fmt.Fprintf(&b, "CSeq: %d %s\r\n", l.cseq, l.method)
	fmt.Fprintf(&b, "Contact: <sip:%s@%s>\r\n", fromUser, l.src)
	body := ""
	if l.sdp {
		body = sdpOffer
		b.WriteString("Content-Type: application/sdp\r\n")
	}
	fmt.Fprintf(&b, "Content-Length: %d\r\n\r\n%s", len(body), body)
	return []byte(b.String())
}

func buildFixture(callID, fromUser, toUser, state string, finalCode int, start time.Time, mos float64, legs []leg) fixture {
	f := fixture{}
	for _, l := range legs {
		f.msgs = append(f.msgs, correlate.Message{
			TS:         start.Add(l.at),
			Src:        netip.MustParseAddrPort(l.src),
			Dst:        netip.MustParseAddrPort(l.dst),
			Transport:  l.transport,
			CallID:     callID,
			IsRequest:  l.code == 0,
			Method:     l.method,
			StatusCode: l.code,
			Reason:     l.reason,
			CSeq:       l.cseq,
			CSeqMethod: l.method,
			FromUser:   fromUser,
			ToUser:     toUser,
			Raw:        sipText(callID, fromUser, toUser, l),
		})
	}
	first, last := f.msgs[0], f.msgs[len(f.msgs)-1]
	f.call = correlate.Call{
		CallID:    callID,
		FromUser:  fromUser,
		ToUser:    toUser,
		SrcIP:     first.Src.Addr(),
		DstIP:     first.Dst.Addr(),
		State:     state,
		FinalCode: finalCode,
		Start:     first.TS,
		End:       last.TS,
		Messages:  len(f.msgs),
		MOS:       mos,
	}
	return f
}

// Call-IDs chosen to exercise URL escaping: '/' and '+' are legal in a
// Call-ID and must survive the trip through a path segment.
const (
	answeredID  = "a84b4c76e66710/x+y@pc33.atlanta.example.com"
	failedID    = "f81d4fae-7dec-11d0-a765-00a0c91e6bf6@[2001:db8::10]"
	cancelledID = "3848276298220188511@192.0.2.30"
)

// fixtures are three calls: answered over UDP/IPv4 with RTP, failed (486)
// over TCP/IPv6, cancelled over UDP on a non-standard port.
func fixtures() []fixture {
	a, b := "192.0.2.10:5060", "198.51.100.20:5060"
	answered := buildFixture(answeredID, "alice", "bob", correlate.StateAnswered, 200, baseTime, 4.2, []leg{
		{0, a, b, "udp", "INVITE", 0, "", 1, true},
		{12 * time.Millisecond, b, a, "udp", "INVITE", 100, "Trying", 1, false},
		{340 * time.Millisecond, b, a, "udp", "INVITE", 180, "Ringing", 1, false},
		{2*time.Second + 500*time.Millisecond, b, a, "udp", "INVITE", 200, "OK", 1, true},
		{2*time.Second + 512*time.Millisecond, a, b, "udp", "ACK", 0, "", 1, false},
		{14*time.Second + 1*time.Microsecond, a, b, "udp", "BYE", 0, "", 2, false},
		{14*time.Second + 9*time.Millisecond, b, a, "udp", "BYE", 200, "OK", 2, false},
	})
	answered.call.EndReason, answered.call.ByeBy = correlate.EndCallerBye, correlate.SideCaller
	answered.call.PDDMs, answered.call.RingMs, answered.call.AnswerMs, answered.call.DurationMs = 340, 2160, 2500, 11500.001
	answered.call.UserAgent, answered.call.XCallID = "Linphone/5.2", "leg-a@sbc.example.com"
	answered.call.LinkedCallIDs = []string{"leg-a@sbc.example.com"}
	answered.call.Retransmissions, answered.call.ReInvites, answered.call.Hold = 1, 2, true
	answered.call.Q850Cause, answered.call.ReasonHeader = 16, `Q.850;cause=16;text="Normal call clearing"`
	answered.call.LastUpdate, answered.call.Finished = answered.call.End, true
	answered.streams = []quality.Stream{
		{
			SSRC: 0x1A2B3C4D, Src: netip.MustParseAddrPort("192.0.2.10:49170"), Dst: netip.MustParseAddrPort("198.51.100.20:30000"),
			PayloadType: 0, Payload: "g711U", Start: baseTime.Add(2600 * time.Millisecond), End: baseTime.Add(14 * time.Second),
			Packets: 570, Expected: 572, Lost: 2, MinDeltaMs: 19.8, MeanDeltaMs: 20.0, MaxDeltaMs: 41.2,
			MinJitterMs: 0.01, MeanJitterMs: 0.42, MaxJitterMs: 1.37, MOS: 4.2, CallID: answeredID,
			Late: 3, EffectiveLost: 5, JitterBuffer: "adaptive", JitterBufferMs: 42.5, BurstR: 1.4, RTTMs: 96.25, R: 84.125,
			MOSTimeline: []quality.IntervalMOS{
				{StartMs: 0, DurationMs: 5000, Packets: 250, LossPct: 0, BurstR: 1, JitterBufferMs: 40, MOS: 4.35},
				{StartMs: 5000, DurationMs: 5000, Packets: 245, Lost: 2, Late: 3, LossPct: 2, BurstR: 1.4, JitterBufferMs: 45, MOS: 3.7},
				{StartMs: 10000, DurationMs: 5000, Packets: 75, LossPct: 0, BurstR: 1, JitterBufferMs: 41, MOS: 4.3},
			},
			// LastNs, Reporter and HighestSeq are not stored: the view
			// must not show them, or analyze and the API would disagree.
			RTCP: quality.RTCPReport{SSRC: 0x1A2B3C4D, Reports: 9, LastNs: 1, CNAME: "alice@pc33", SenderReports: 5,
				SenderPackets: 572, SenderOctets: 91520, ReceiverReports: 4, Reporter: 0xBEEF, FractionLostPct: 0.390625,
				MaxFractionLostPct: 1.5625, CumulativeLost: 2, HighestSeq: 9999, JitterMs: 0.5, MaxJitterMs: 1.25,
				RTTMs: 95, MeanRTTMs: 96.25, MaxRTTMs: 120.5, RTTSamples: 4,
				XR: quality.XRVoIPMetrics{Reports: 2, LossRatePct: 0.390625, DiscardRatePct: 0.5, RoundTripDelayMs: 97,
					EndSystemDelayMs: 40, RFactor: -1, MOSLQ: 4.1, MOSCQ: -1, JBNominalMs: 40, JBMaxMs: 80}},
			DTMF: []quality.DTMFEvent{
				{Event: 1, Digit: "1", Start: baseTime.Add(6*time.Second + 250*time.Millisecond), DurationMs: 120, Volume: 10, Ended: true, StartSeen: true, Packets: 7},
				{Event: 11, Digit: "#", Start: baseTime.Add(7*time.Second + 1*time.Microsecond), DurationMs: 200.125, Volume: 8, Ended: true, StartSeen: true, Packets: 9},
			},
		},
		{
			SSRC: 0x0000BEEF, Src: netip.MustParseAddrPort("198.51.100.20:30000"), Dst: netip.MustParseAddrPort("192.0.2.10:49170"),
			PayloadType: 0, Payload: "g711U", Start: baseTime.Add(2610 * time.Millisecond), End: baseTime.Add(14 * time.Second),
			Packets: 569, Expected: 569, Lost: 0, MinDeltaMs: 19.9, MeanDeltaMs: 20.0, MaxDeltaMs: 20.4,
			MinJitterMs: 0, MeanJitterMs: 0.11, MaxJitterMs: 0.3, MOS: 4.4, CallID: answeredID,
		},
	}

	c6, s6 := "[2001:db8::10]:49152", "[2001:db8::20]:5060"
	failed := buildFixture(failedID, "carol", "dave", correlate.StateFailed, 486, baseTime.Add(time.Hour), 0, []leg{
		{0, c6, s6, "tcp", "INVITE", 0, "", 10, true},
		{20 * time.Millisecond, s6, c6, "tcp", "INVITE", 100, "Trying", 10, false},
		{1500 * time.Millisecond, s6, c6, "tcp", "INVITE", 486, "Busy Here", 10, false},
		{1520 * time.Millisecond, c6, s6, "tcp", "ACK", 0, "", 10, false},
	})

	failed.call.EndReason, failed.call.Finished = correlate.EndBusy, true
	failed.call.LastUpdate = failed.call.End

	e, p := "192.0.2.30:5060", "203.0.113.5:5080"
	cancelled := buildFixture(cancelledID, "eve", "frank", correlate.StateCancelled, 487, baseTime.Add(2*time.Hour), 0, []leg{
		{0, e, p, "udp", "INVITE", 0, "", 1, true},
		{30 * time.Millisecond, p, e, "udp", "INVITE", 100, "Trying", 1, false},
		{200 * time.Millisecond, p, e, "udp", "INVITE", 180, "Ringing", 1, false},
		{3 * time.Second, e, p, "udp", "CANCEL", 0, "", 1, false},
		{3*time.Second + 25*time.Millisecond, p, e, "udp", "CANCEL", 200, "OK", 1, false},
		{3*time.Second + 26*time.Millisecond, p, e, "udp", "INVITE", 487, "Request Terminated", 1, false},
		{3*time.Second + 40*time.Millisecond, e, p, "udp", "ACK", 0, "", 1, false},
	})
	cancelled.call.EndReason, cancelled.call.PDDMs, cancelled.call.RingMs = correlate.EndCancelled, 200, 2826
	cancelled.call.Forked = true
	fs := []fixture{answered, failed, cancelled}
	// What the pipeline's diagnose step writes into each record; the MOS
	// stays the fixture's.
	for i := range fs {
		d := diagnose.Diagnose(fs[i].call, fs[i].streams)
		fs[i].call.Findings, fs[i].call.Diagnosis = diagnose.Codes(d.Findings), d.Sentence
	}
	return fs
}

// openStore starts the real embedded store in a temporary directory and
// writes the fixtures to it. chDB allows one session per process, so tests
// using it must not run in parallel; Cleanup closes it for the next test.
func openStore(t testing.TB, fs []fixture) *embedded.Store {
	t.Helper()
	ctx := context.Background()
	st, err := embedded.Open(ctx, t.TempDir())
	if err != nil {
		t.Fatalf("embedded.Open: %v", err)
	}
	t.Cleanup(func() {
		if err := st.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	var b storage.Batch
	for _, f := range fs {
		b.Calls = append(b.Calls, f.call)
		b.Messages = append(b.Messages, f.msgs...)
		b.Streams = append(b.Streams, f.streams...)
	}
	if err := st.Write(ctx, b); err != nil {
		t.Fatalf("Write: %v", err)
	}
	return st
}

// testLogger sends the server's logs to the test log, so a failing test
// shows what the server said.
func testLogger(t *testing.T) *slog.Logger {
	return slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Helper()
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// startServer serves store over real HTTP on a loopback port.
func startServer(t *testing.T, store api.Store) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(api.New(api.Config{}, store, testLogger(t)).Handler())
	t.Cleanup(srv.Close)
	return srv
}

// get fetches path and returns status, headers and body.
func get(t *testing.T, srv *httptest.Server, path string) (int, http.Header, []byte) {
	t.Helper()
	resp, err := srv.Client().Get(srv.URL + path)
	if err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("GET %s: read body: %v", path, err)
	}
	return resp.StatusCode, resp.Header, body
}

// getJSON fetches path, requires the status and decodes the body into v.
func getJSON(t *testing.T, srv *httptest.Server, path string, wantStatus int, v any) {
	t.Helper()
	status, h, body := get(t, srv, path)
	if status != wantStatus {
		t.Fatalf("GET %s: status %d, want %d; body %s", path, status, wantStatus, body)
	}
	if ct := h.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Fatalf("GET %s: Content-Type %q, want application/json", path, ct)
	}
	if err := json.Unmarshal(body, v); err != nil {
		t.Fatalf("GET %s: decode %s: %v", path, body, err)
	}
}
