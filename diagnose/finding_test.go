package diagnose

import (
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/sipscope/sipscope/correlate"
	"github.com/sipscope/sipscope/quality"
)

var t0 = time.Date(2026, 1, 1, 10, 0, 0, 0, time.UTC)

// answeredCall is an answered call between alice (10.0.0.1, RTP on 4000)
// and bob (10.0.0.2, RTP on 5000) that talked from t0+2s to t0+32s.
func answeredCall() correlate.Call {
	return correlate.Call{
		CallID: "c1", FromUser: "alice", ToUser: "bob",
		SrcIP: netip.MustParseAddr("10.0.0.1"), DstIP: netip.MustParseAddr("10.0.0.2"),
		State: correlate.StateAnswered, FinalCode: 200, EndReason: correlate.EndCallerBye, ByeBy: correlate.SideCaller,
		AnswerMs: 2000, DurationMs: 30000,
		InviteAt: t0, AttemptAt: t0, FinalAt: t0.Add(2 * time.Second), ByeAt: t0.Add(32 * time.Second),
		CallerMedia: correlate.SDPMedia{Announced: true, Addr: netip.MustParseAddrPort("10.0.0.1:4000"), Direction: "sendrecv"},
		CalleeMedia: correlate.SDPMedia{Announced: true, Addr: netip.MustParseAddrPort("10.0.0.2:5000"), Direction: "sendrecv"},
	}
}

// stream is 30 s of clean G.711 from src to dst, starting at t0+2s.
func stream(src, dst string, mos float64) quality.Stream {
	return quality.Stream{
		CallID: "c1", Src: netip.MustParseAddrPort(src), Dst: netip.MustParseAddrPort(dst),
		Start: t0.Add(2 * time.Second), End: t0.Add(32 * time.Second), Packets: 1500, Expected: 1500, MOS: mos,
	}
}

func TestFindingsOfConstructedCalls(t *testing.T) {
	tests := []struct {
		name     string
		call     func(*correlate.Call)
		streams  []quality.Stream
		findings []string
		mos      float64
		sentence string
	}{
		{"RTP from another address than the caller's SDP is a NAT mismatch of the caller",
			nil,
			[]quality.Stream{stream("192.0.2.7:31000", "10.0.0.2:5000", 4.4), stream("10.0.0.2:5000", "192.0.2.7:31000", 4.3)},
			[]string{"nat_mismatch:caller"}, 4.3, "Audio flowed both ways; MOS 4.30 (good)."},
		{"RTP going on 10 s after the BYE is rtp_after_bye",
			nil,
			func() []quality.Stream {
				s := stream("10.0.0.1:4000", "10.0.0.2:5000", 4.4)
				s.End = t0.Add(42 * time.Second)
				return []quality.Stream{s, stream("10.0.0.2:5000", "10.0.0.1:4000", 4.4)}
			}(),
			[]string{"rtp_after_bye:caller_to_callee"}, 4.4, ""},
		{"a T.38 re-INVITE and retransmissions are noted",
			func(c *correlate.Call) { c.CalleeMedia.T38 = true; c.Retransmissions = 3 },
			[]quality.Stream{stream("10.0.0.1:4000", "10.0.0.2:5000", 4.4), stream("10.0.0.2:5000", "10.0.0.1:4000", 4.4)},
			[]string{"t38_fax", "retransmissions"}, 4.4, ""},
		{"one held direction (sendonly) carrying no RTP is not one-way audio",
			func(c *correlate.Call) { c.CallerMedia.Direction = "sendonly"; c.CalleeMedia.Direction = "recvonly" },
			[]quality.Stream{stream("10.0.0.1:4000", "10.0.0.2:5000", 4.4)},
			[]string{}, 4.4, "Audio flowed from the caller to the callee only; MOS 4.40"},
		{"a silent direction while the other flowed only 1 s is not one-way audio",
			nil,
			func() []quality.Stream {
				s := stream("10.0.0.1:4000", "10.0.0.2:5000", 4.4)
				s.End = s.Start.Add(time.Second)
				return []quality.Stream{s}
			}(),
			[]string{}, 4.4, ""},
		{"a failed call's early media is early media, not the call's MOS",
			func(c *correlate.Call) {
				c.State, c.FinalCode, c.EndReason, c.ByeAt = correlate.StateFailed, 486, correlate.EndBusy, time.Time{}
			},
			[]quality.Stream{stream("10.0.0.2:5000", "10.0.0.1:4000", 3.22)},
			[]string{"busy", "early_media"}, 0, "bob at 10.0.0.2 answered 486 Busy Here 2.0 s after the INVITE. It carried 1500 RTP packets of early media."},
		{"a 488 is a codec mismatch",
			func(c *correlate.Call) {
				c.State, c.FinalCode, c.EndReason, c.ByeAt = correlate.StateFailed, 488, correlate.EndRejected, time.Time{}
				c.CallerMedia = correlate.SDPMedia{}
			},
			nil, []string{"codec_mismatch"}, 0, "bob at 10.0.0.2 rejected the call from alice at 10.0.0.1 with 488 Not Acceptable Here 2.0 s after the INVITE. The media offered were not acceptable."},
		{"a 488 to an offer names the payload types offered",
			func(c *correlate.Call) {
				c.State, c.FinalCode, c.EndReason, c.ByeAt = correlate.StateFailed, 488, correlate.EndRejected, time.Time{}
				c.CallerMedia.Formats, c.CalleeMedia = "18 101", correlate.SDPMedia{}
			},
			nil, []string{"codec_mismatch"}, 0, "The media offered (RTP payload types 18 101) were not acceptable."},
		{"a 404 is rejected with its code",
			func(c *correlate.Call) {
				c.State, c.FinalCode, c.EndReason, c.ByeAt = correlate.StateFailed, 404, correlate.EndRejected, time.Time{}
			},
			nil, []string{"rejected:404"}, 0, "with 404 Not Found"},
		{"a call whose INVITE had a broken Content-Length says so",
			func(c *correlate.Call) {
				c.State, c.FinalCode, c.EndReason, c.ByeAt = correlate.StateFailed, 400, correlate.EndRejected, time.Time{}
				c.Malformed = []string{correlate.MalformedContentLength}
			},
			nil, []string{"rejected:400", "malformed"}, 0,
			"with 400 Bad Request 2.0 s after the INVITE. Its SIP was malformed: bad content length."},
		{"streams of other calls do not count",
			nil,
			[]quality.Stream{func() quality.Stream {
				s := stream("10.0.0.1:4000", "10.0.0.2:5000", 4.4)
				s.CallID = "other"
				return s
			}()},
			[]string{"no_media"}, 0, "Both sides offered audio but no RTP was captured."},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := answeredCall()
			if tt.call != nil {
				tt.call(&c)
			}
			d := Diagnose(c, tt.streams)
			if got := Codes(d.Findings); !slices.Equal(got, tt.findings) {
				t.Errorf("findings %q, want %q", got, tt.findings)
			}
			if d.MOS != tt.mos || CallMOS(c, tt.streams) != tt.mos {
				t.Errorf("MOS %v, want %v", d.MOS, tt.mos)
			}
			if !strings.Contains(d.Sentence, tt.sentence) || d.Sentence != Sentence(c, tt.streams) {
				t.Errorf("sentence %q, want it to contain %q", d.Sentence, tt.sentence)
			}
		})
	}
}

func TestApplyWritesEveryCallsDiagnosis(t *testing.T) {
	calls := []correlate.Call{answeredCall(), answeredCall()}
	calls[1].CallID = "c2"
	streams := []quality.Stream{stream("10.0.0.1:4000", "10.0.0.2:5000", 4.1), stream("10.0.0.2:5000", "10.0.0.1:4000", 4.3)}
	Apply(calls, streams)
	if calls[0].MOS != 4.1 || len(calls[0].Findings) != 0 || !strings.HasPrefix(calls[0].Diagnosis, "alice at 10.0.0.1 called bob at 10.0.0.2") {
		t.Errorf("c1: MOS %v findings %q diagnosis %q", calls[0].MOS, calls[0].Findings, calls[0].Diagnosis)
	}
	if calls[1].MOS != 0 || !slices.Equal(calls[1].Findings, []string{"no_media"}) {
		t.Errorf("c2 (no streams of its own): MOS %v findings %q", calls[1].MOS, calls[1].Findings)
	}
}

func TestTablesNameCodesAndCauses(t *testing.T) {
	for _, tt := range []struct {
		name string
		got  string
		want string
	}{
		{"486 is Busy Here", StatusText(486), "Busy Here"},
		{"183 is Session Progress", StatusText(183), "Session Progress"},
		{"608 (RFC 8688) is Rejected", StatusText(608), "Rejected"},
		{"an unregistered code has no phrase", StatusText(499), ""},
		{"0 has no phrase", StatusText(0), ""},
		{"cause 16 is Normal call clearing", Q850Text(16), "Normal call clearing"},
		{"cause 21 is Call rejected", Q850Text(21), "Call rejected"},
		{"cause 127 is Interworking, unspecified", Q850Text(127), "Interworking, unspecified"},
		{"an undefined cause has no text", Q850Text(15), ""},
	} {
		if tt.got != tt.want {
			t.Errorf("%s: got %q", tt.name, tt.got)
		}
	}
	// Every class of codes is there and every phrase is written out.
	for _, code := range []int{100, 200, 300, 400, 500, 600} {
		if StatusText(code) == "" {
			t.Errorf("%d has no phrase", code)
		}
	}
	if len(q850Causes) < 70 {
		t.Errorf("only %d Q.850 causes", len(q850Causes))
	}
}
