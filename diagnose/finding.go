package diagnose

import (
	"fmt"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/sipscope/sipscope/correlate"
	"github.com/sipscope/sipscope/quality"
)

// Finding codes. A code that concerns one direction or party carries it
// after a colon: "one_way_audio:callee_to_caller", "nat_mismatch:caller",
// "rejected:403".
const (
	CodeBusy               = "busy"                 // 486 or 600
	CodeRejected           = "rejected"             // ":" + the final code
	CodeAuthFailed         = "auth_failed"          // challenge not retried, or credentials refused
	CodeNoAnswer           = "no_answer"            // rang, then 408/480/487 without a CANCEL
	CodeTimeout            = "timeout"              // 408 without ringing, or no final before the timers ran out
	CodeCancelled          = "cancelled"            // the caller sent CANCEL before anything rang
	CodeCancelledAfterRing = "cancelled_after_ring" // the caller sent CANCEL while it rang
	CodeCodecMismatch      = "codec_mismatch"       // 488 or 606: the offer was not acceptable
	CodeOneWayAudio        = "one_way_audio"        // ":" + the direction without RTP
	CodeNoMedia            = "no_media"             // answered, SDP on both sides, no RTP at all
	CodeEarlyMedia         = "early_media"          // RTP on a call that was not answered
	CodeHighLoss           = "high_loss"            // ":" + direction
	CodeHighJitter         = "high_jitter"          // ":" + direction
	CodeLatePackets        = "late_packets"         // ":" + direction
	CodeNATMismatch        = "nat_mismatch"         // ":" + the party whose RTP comes from elsewhere than its SDP
	CodeRTPAfterBye        = "rtp_after_bye"        // ":" + direction
	CodeRetransmissions    = "retransmissions"      // SIP retransmitted at least RetransmissionsMin times
	CodeT38Fax             = "t38_fax"              // an m=image udptl t38 offer or answer
	CodeMalformed          = "malformed"            // a SIP message of the call had a broken header (Call.Malformed)
	CodePartial            = "partial"              // the INVITE was not captured
	CodeCaptureEnded       = "capture_ended"        // the capture ended before a final response
)

// Directions of media, as finding suffixes.
const (
	CallerToCallee = "caller_to_callee"
	CalleeToCaller = "callee_to_caller"
)

// Thresholds behind the findings.
const (
	// OneWayMinFlow is how long the other direction must carry RTP before
	// a silent direction counts as one-way audio rather than a short call.
	OneWayMinFlow = 2 * time.Second
	// HighLossPct is the network loss of a direction, in % of the packets
	// expected, from which it is high: G.711 with concealment loses about
	// a quarter of a MOS point at 3 % random loss (G.113 Bpl 25.1).
	HighLossPct = 3.0
	// HighJitterMs is the mean interarrival jitter (RFC 3550) of a
	// direction from which it is high: more than a typical 20 ms frame.
	HighJitterMs = 20.0
	// LatePct is the share of packets arriving too late for the simulated
	// jitter buffer from which a direction has late_packets.
	LatePct = 1.0
	// RTPAfterByeGrace is how long RTP may go on after the BYE before it
	// is a finding (packets in flight, a slow endpoint).
	RTPAfterByeGrace = 2 * time.Second
	// RetransmissionsMin is how many SIP retransmissions make a finding;
	// one is ordinary on UDP.
	RetransmissionsMin = 2
)

// Finding is one thing diagnose noticed about a call: a machine code and
// the figures behind it in words.
type Finding struct {
	Code   string
	Detail string
}

// Codes lists the codes of findings, in order; never nil.
func Codes(fs []Finding) []string {
	out := make([]string, 0, len(fs))
	for _, f := range fs {
		out = append(out, f.Code)
	}
	return out
}

// flow is what the streams of one direction of a call carried together.
type flow struct {
	streams      int
	packets      int
	expected     int
	lost         int
	late         int
	start, end   time.Time
	mos          float64 // worst stream's
	meanJitterMs float64 // worst stream's
	burstR       float64 // worst stream's
	worstLossPct float64 // worst 5 s interval
	src          netip.Addr
	from, to     netip.Addr // of the stream with the most packets
	most         int
	srcMismatch  bool // packets come from elsewhere than this side's SDP
	afterBye     time.Duration
}

func (f *flow) duration() time.Duration {
	if f.packets == 0 {
		return 0
	}
	return f.end.Sub(f.start)
}

func (f *flow) lossPct() float64 {
	if f.expected <= 0 || f.lost <= 0 {
		return 0
	}
	return 100 * float64(f.lost) / float64(f.expected)
}

// analysis is what Findings, Sentence and CallMOS share.
type analysis struct {
	call     *correlate.Call
	flows    [2]flow // [0] caller → callee, [1] callee → caller
	unknown  int     // packets of streams whose direction could not be told
	streams  int
	oneWay   int // index of the silent direction, -1 if none
	noMedia  bool
	expected [2]bool // SDP negotiated the direction
}

var dirName = [2]string{CallerToCallee, CalleeToCaller}

func sameAddr(a, b netip.Addr) bool { return a.IsValid() && b.IsValid() && a.Unmap() == b.Unmap() }

func sameAddrPort(a, b netip.AddrPort) bool {
	return a.IsValid() && b.IsValid() && a.Port() == b.Port() && sameAddr(a.Addr(), b.Addr())
}

// direction tells which way a stream of the call goes: to the address a
// side announced (RTP is sent where the receiver asked), else from the
// address a side announced (symmetric RTP), else by the signalling
// addresses; -1 when nothing tells.
func direction(c *correlate.Call, s *quality.Stream) int {
	switch {
	case c.CalleeMedia.Announced && sameAddrPort(s.Dst, c.CalleeMedia.Addr):
		return 0
	case c.CallerMedia.Announced && sameAddrPort(s.Dst, c.CallerMedia.Addr):
		return 1
	case c.CallerMedia.Announced && sameAddrPort(s.Src, c.CallerMedia.Addr):
		return 0
	case c.CalleeMedia.Announced && sameAddrPort(s.Src, c.CalleeMedia.Addr):
		return 1
	case sameAddr(s.Src.Addr(), c.SrcIP) || sameAddr(s.Dst.Addr(), c.DstIP):
		return 0
	case sameAddr(s.Src.Addr(), c.DstIP) || sameAddr(s.Dst.Addr(), c.SrcIP):
		return 1
	}
	return -1
}

func analyze(c *correlate.Call, streams []quality.Stream) analysis {
	a := analysis{call: c, oneWay: -1}
	for i := range streams {
		s := &streams[i]
		if s.CallID != c.CallID || c.CallID == "" || s.Payload == "t38" {
			continue // a T.38 stream is fax, not audio: it has figures of its own
		}
		a.streams++
		d := direction(c, s)
		if d < 0 {
			a.unknown += s.Packets
			continue
		}
		f := &a.flows[d]
		if f.streams == 0 || s.Start.Before(f.start) {
			f.start = s.Start
		}
		if s.End.After(f.end) {
			f.end = s.End
		}
		if s.MOS > 0 && (f.mos == 0 || s.MOS < f.mos) {
			f.mos = s.MOS
		}
		f.streams++
		if s.Packets > f.most || f.streams == 1 {
			f.most, f.from, f.to = s.Packets, s.Src.Addr(), s.Dst.Addr()
		}
		f.packets += s.Packets
		f.expected += s.Expected
		f.lost += max(s.Lost, 0)
		f.late += s.Late
		f.meanJitterMs = max(f.meanJitterMs, s.MeanJitterMs)
		f.burstR = max(f.burstR, s.BurstR)
		for _, iv := range s.MOSTimeline {
			f.worstLossPct = max(f.worstLossPct, iv.LossPct)
		}
		// The sender announced where it receives; symmetric RTP comes
		// from there. Another source is a translated address.
		sender := c.CallerMedia
		if d == 1 {
			sender = c.CalleeMedia
		}
		if sender.Announced && !sender.Addr.Addr().IsUnspecified() && !sameAddr(s.Src.Addr(), sender.Addr.Addr()) {
			f.srcMismatch = true
			f.src = s.Src.Addr()
		}
		if c.ByeNs != 0 {
			f.afterBye = max(f.afterBye, s.End.Sub(at(c.ByeNs)))
		}
	}
	if c.State != correlate.StateAnswered {
		return a
	}
	a.expected[0] = c.CallerMedia.Sends() && c.CalleeMedia.Receives()
	a.expected[1] = c.CalleeMedia.Sends() && c.CallerMedia.Receives()
	if !a.expected[0] && !a.expected[1] {
		return a
	}
	if a.streams == 0 {
		// A call that moved to T.38 sends UDPTL, not RTP.
		a.noMedia = !c.CallerMedia.T38 && !c.CalleeMedia.T38
		return a
	}
	for d := range 2 {
		other := &a.flows[1-d]
		if a.expected[d] && a.flows[d].packets == 0 && a.unknown == 0 && other.duration() >= OneWayMinFlow {
			a.oneWay = d
		}
	}
	return a
}

// CallMOS is the MOS a call is shown with. An answered call's is its worst
// direction's, and 1.0 (no audio) when SDP negotiated a direction that
// carried no RTP while the other flowed for OneWayMinFlow or more: the
// good direction's MOS would hide that one party heard nothing. A call
// that was not answered has no MOS of its own: its early media are not the
// call's (0). A call without RTP has 0; a call still in progress, or whose
// outcome the capture did not show, has its worst direction's.
func CallMOS(c correlate.Call, streams []quality.Stream) float64 {
	a := analyze(&c, streams)
	return a.mos()
}

func (a *analysis) mos() float64 {
	switch a.call.State {
	case correlate.StateFailed, correlate.StateCancelled:
		return 0
	}
	if a.oneWay >= 0 {
		return 1.0
	}
	worst := 0.0
	for _, f := range a.flows {
		if f.mos > 0 && (worst == 0 || f.mos < worst) {
			worst = f.mos
		}
	}
	return worst
}

// Findings lists what is worth telling about a call, the outcome first,
// then media, then the capture itself. streams may hold other calls'
// streams: only those bound to the call (CallID) count.
func Findings(c correlate.Call, streams []quality.Stream) []Finding {
	a := analyze(&c, streams)
	return a.findings()
}

func (a *analysis) findings() []Finding {
	c := a.call
	var out []Finding
	add := func(code, detail string) { out = append(out, Finding{Code: code, Detail: detail}) }
	code := c.FinalCode
	switch c.EndReason {
	case correlate.EndBusy:
		add(CodeBusy, statusWords(code))
	case correlate.EndAuthFailed:
		add(CodeAuthFailed, statusWords(code))
	case correlate.EndNoAnswer:
		add(CodeNoAnswer, statusWords(code))
	case correlate.EndTimeout, correlate.EndNoFinal:
		add(CodeTimeout, statusWords(code))
	case correlate.EndCancelled:
		if c.RingingNs != 0 {
			add(CodeCancelledAfterRing, "")
		} else {
			add(CodeCancelled, "")
		}
	case correlate.EndCaptureEnded:
		add(CodeCaptureEnded, "")
	case correlate.EndRejected:
		switch code {
		case 488, 606:
			detail := statusWords(code)
			if c.OfferFormats != "" {
				detail += " to an offer of RTP payload types " + c.OfferFormats
			}
			add(CodeCodecMismatch, detail)
		case 408:
			add(CodeTimeout, statusWords(code))
		default:
			add(CodeRejected+":"+strconv.Itoa(code), statusWords(code))
		}
	}
	if c.CancelSeen && c.EndReason != correlate.EndCancelled {
		add(CodeCancelled, "the caller sent CANCEL, but the INVITE ended "+strconv.Itoa(code))
	}
	if a.noMedia {
		add(CodeNoMedia, "")
	}
	if a.oneWay >= 0 {
		add(CodeOneWayAudio+":"+dirName[a.oneWay], fmt.Sprintf("the other direction carried RTP for %s", seconds(a.flows[1-a.oneWay].duration())))
	}
	if c.State == correlate.StateFailed || c.State == correlate.StateCancelled {
		if n := a.flows[0].packets + a.flows[1].packets + a.unknown; n > 0 {
			add(CodeEarlyMedia, fmt.Sprintf("%d RTP packets before the call failed", n))
		}
	} else {
		for d := range 2 {
			f := &a.flows[d]
			if f.packets == 0 {
				continue
			}
			if p := f.lossPct(); p >= HighLossPct {
				add(CodeHighLoss+":"+dirName[d], fmt.Sprintf("%.1f %% lost, burst ratio %.2f, worst 5 s %.1f %%", p, f.burstR, f.worstLossPct))
			}
			if f.meanJitterMs >= HighJitterMs {
				add(CodeHighJitter+":"+dirName[d], fmt.Sprintf("mean jitter %.1f ms", f.meanJitterMs))
			}
			if f.late > 0 && 100*float64(f.late) >= LatePct*float64(f.packets) {
				add(CodeLatePackets+":"+dirName[d], fmt.Sprintf("%d packets too late for the jitter buffer", f.late))
			}
			if f.afterBye > RTPAfterByeGrace {
				add(CodeRTPAfterBye+":"+dirName[d], fmt.Sprintf("RTP went on %s after the BYE", seconds(f.afterBye)))
			}
		}
	}
	for d := range 2 {
		if f := &a.flows[d]; f.srcMismatch {
			party := "caller"
			sdp := c.CallerMedia.Addr
			if d == 1 {
				party, sdp = "callee", c.CalleeMedia.Addr
			}
			add(CodeNATMismatch+":"+party, fmt.Sprintf("SDP said %s, RTP came from %s", sdp.Addr().Unmap(), f.src.Unmap()))
		}
	}
	if c.CallerMedia.T38 || c.CalleeMedia.T38 || c.Fax == correlate.FaxT38 {
		add(CodeT38Fax, "")
	}
	if len(c.Malformed) > 0 {
		add(CodeMalformed, strings.Join(c.Malformed, ", "))
	}
	if c.Retransmissions >= RetransmissionsMin {
		add(CodeRetransmissions, fmt.Sprintf("%d SIP retransmissions", c.Retransmissions))
	}
	if c.Partial {
		add(CodePartial, "")
	}
	return out
}

// statusWords is "486 Busy Here", or "" for no code.
func statusWords(code int) string {
	if code == 0 {
		return ""
	}
	if t := StatusText(code); t != "" {
		return strconv.Itoa(code) + " " + t
	}
	return strconv.Itoa(code)
}

// seconds renders a duration for a sentence: "43 ms", "0.9 s",
// "4 min 5 s", "5.2 h", "3 days" (captures whose clock jumps exist).
func seconds(d time.Duration) string {
	switch {
	case d < 100*time.Millisecond:
		return strconv.FormatInt(d.Round(time.Millisecond).Milliseconds(), 10) + " ms"
	case d < time.Minute:
		return strconv.FormatFloat(d.Seconds(), 'f', 1, 64) + " s"
	case d < time.Hour:
		d = d.Round(time.Second)
		return fmt.Sprintf("%d min %d s", int(d.Minutes()), int(d.Seconds())%60)
	case d < 48*time.Hour:
		return strconv.FormatFloat(d.Hours(), 'f', 1, 64) + " h"
	}
	return strconv.FormatFloat(d.Hours()/24, 'f', 0, 64) + " days"
}
