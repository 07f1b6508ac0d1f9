package diagnose

import (
	"fmt"
	"strings"
	"time"

	"github.com/sipscope/sipscope/correlate"
	"github.com/sipscope/sipscope/quality"
)

// Sentence says in one or two plain-English sentences what happened to a
// call: who, what, where and when, then how its audio fared. streams may
// hold other calls' streams; only the call's own count.
func Sentence(c correlate.Call, streams []quality.Stream) string {
	a := analyze(&c, streams)
	return a.sentence()
}

// Diagnosis is everything diagnose says about one call.
type Diagnosis struct {
	Findings []Finding
	Sentence string
	MOS      float64 // CallMOS
}

// Diagnose is Findings, Sentence and CallMOS at once.
func Diagnose(c correlate.Call, streams []quality.Stream) Diagnosis {
	a := analyze(&c, streams)
	return Diagnosis{Findings: a.findings(), Sentence: a.sentence(), MOS: a.mos()}
}

// Apply diagnoses every call with the streams bound to it, writing MOS,
// Findings and Diagnosis into the records: the one step a pipeline runs on
// its calls before they are reported or stored.
func Apply(calls []correlate.Call, streams []quality.Stream) {
	byCall := make(map[string][]quality.Stream, len(calls))
	for _, s := range streams {
		if s.CallID != "" {
			byCall[s.CallID] = append(byCall[s.CallID], s)
		}
	}
	for i := range calls {
		d := Diagnose(calls[i], byCall[calls[i].CallID])
		calls[i].MOS = d.MOS
		calls[i].Findings = Codes(d.Findings)
		calls[i].Diagnosis = d.Sentence
	}
}

func (a *analysis) caller() string {
	return party(a.call.FromUser, a.call.SrcIP.Unmap().String(), "the caller")
}
func (a *analysis) callee() string {
	return party(a.call.ToUser, a.call.DstIP.Unmap().String(), "the callee")
}

// party names one end: "bob at 10.0.0.2", "10.0.0.2" or the fallback.
func party(user, ip, fallback string) string {
	if ip == "invalid IP" {
		ip = ""
	}
	switch {
	case user != "" && ip != "":
		return user + " at " + ip
	case user != "":
		return user
	case ip != "":
		return ip
	}
	return fallback
}

// at is a capture time in Unix ns as a time, zero for 0 (not seen).
func at(ns int64) time.Time {
	if ns == 0 {
		return time.Time{}
	}
	return time.Unix(0, ns).UTC()
}

// after is the time from a to b as "0.9 s", "" when either is unknown.
func after(a, b time.Time) string {
	if a.IsZero() || b.IsZero() || b.Before(a) {
		return ""
	}
	return seconds(b.Sub(a))
}

func msWords(ms float64) string {
	return seconds(time.Duration(ms * float64(time.Millisecond)))
}

// q850Words is " (Q.850 cause 21, Call rejected)" or "".
func q850Words(cause int) string {
	if cause == 0 {
		return ""
	}
	if t := Q850Text(cause); t != "" {
		return fmt.Sprintf(" (Q.850 cause %d, %s)", cause, t)
	}
	return fmt.Sprintf(" (Q.850 cause %d)", cause)
}

// mosLabel rates a MOS as G.107 Annex B's satisfaction bands do (R 90,
// 80, 70 are MOS 4.34, 4.03, 3.60).
func mosLabel(mos float64) string {
	switch {
	case mos >= 4.34:
		return "excellent"
	case mos >= 4.03:
		return "good"
	case mos >= 3.60:
		return "fair"
	case mos > 1:
		return "poor"
	}
	return "no audio"
}

func (a *analysis) sentence() string {
	first := a.outcomeSentence()
	if a.call.Partial {
		first = "Seen mid-call (its INVITE was not captured): " + lowerFirst(first)
	}
	second := a.mediaSentence()
	if second == "" && len(a.call.Malformed) > 0 {
		second = "Its SIP was malformed: " + strings.ReplaceAll(strings.Join(a.call.Malformed, ", "), "_", " ") + "."
	}
	if second == "" {
		return first
	}
	return first + " " + second
}

func lowerFirst(s string) string {
	if s == "" || strings.HasPrefix(s, "RTP") || strings.HasPrefix(s, "SIP") {
		return s
	}
	return strings.ToLower(s[:1]) + s[1:]
}

func (a *analysis) outcomeSentence() string {
	c := a.call
	code := c.FinalCode
	when := after(at(c.AttemptNs), at(c.FinalNs))
	afterInvite := ""
	if when != "" {
		afterInvite = " " + when + " after the INVITE"
	}
	q := q850Words(c.Q850Cause)
	switch c.EndReason {
	case correlate.EndBusy:
		return fmt.Sprintf("%s answered %s%s%s.", a.callee(), statusWords(code), afterInvite, q)
	case correlate.EndRejected:
		s := fmt.Sprintf("%s rejected the call from %s with %s%s%s.", a.callee(), a.caller(), statusWords(code), afterInvite, q)
		if code == 488 || code == 606 {
			s += " The media offered"
			if f := c.OfferFormats; f != "" {
				s += " (RTP payload types " + f + ")"
			}
			s += " were not acceptable."
		}
		return s
	case correlate.EndAuthFailed:
		if code == 401 || code == 407 {
			return fmt.Sprintf("%s challenged %s with %s and no retry with credentials followed.", a.callee(), a.caller(), statusWords(code))
		}
		if c.AttemptNs > c.InviteNs && when != "" {
			afterInvite = " " + when + " after the INVITE with credentials"
		}
		return fmt.Sprintf("%s refused the credentials %s sent: %s%s.", a.callee(), a.caller(), statusWords(code), afterInvite)
	case correlate.EndNoAnswer:
		ring := ""
		if c.RingMs > 0 {
			ring = " for " + msWords(c.RingMs)
		}
		return fmt.Sprintf("%s rang%s without answering; the call ended %s%s.", a.callee(), ring, statusWords(code), q)
	case correlate.EndTimeout:
		return fmt.Sprintf("%s sent CANCEL, but the INVITE to %s ended %s%s.", a.caller(), a.callee(), statusWords(code), afterInvite)
	case correlate.EndNoFinal:
		return fmt.Sprintf("No final response came from %s to the INVITE of %s; the call timed out.", a.callee(), a.caller())
	case correlate.EndCancelled:
		if c.RingingNs != 0 {
			ring := ""
			if c.RingMs > 0 {
				ring = " for " + msWords(c.RingMs)
			}
			return fmt.Sprintf("%s hung up (CANCEL) while %s rang%s.", a.caller(), a.callee(), ring)
		}
		return fmt.Sprintf("%s cancelled the call to %s before it rang.", a.caller(), a.callee())
	case correlate.EndCaptureEnded:
		state := "before any final response"
		if c.RingingNs != 0 {
			state = "while it rang, before any final response"
		}
		if w := after(at(c.InviteNs), at(c.CaptureEndNs)); w != "" {
			return fmt.Sprintf("The capture ended %s after the INVITE of %s to %s, %s.", w, a.caller(), a.callee(), state)
		}
		return fmt.Sprintf("The capture ended during the call of %s to %s, %s.", a.caller(), a.callee(), state)
	case correlate.EndInProgress:
		if c.RingingNs != 0 {
			return fmt.Sprintf("%s is ringing %s.", a.caller(), a.callee())
		}
		return fmt.Sprintf("%s is calling %s.", a.caller(), a.callee())
	}
	// Answered.
	s := fmt.Sprintf("%s called %s", a.caller(), a.callee())
	if c.Partial {
		s = fmt.Sprintf("The call between %s and %s was up", a.caller(), a.callee())
	}
	if c.AnswerMs > 0 {
		s += ", answered after " + msWords(c.AnswerMs)
	}
	talk := ""
	if c.DurationMs > 0 {
		talk = " after " + msWords(c.DurationMs) + " of talk"
	}
	switch c.EndReason {
	case correlate.EndCallerBye:
		s += "; the caller hung up" + talk + q
	case correlate.EndCalleeBye:
		s += "; the callee hung up" + talk + q
	case correlate.EndBye:
		s += "; a BYE ended it" + q
	default:
		s += "; no BYE was seen"
	}
	return s + "."
}

// mediaSentence is the second sentence: what the audio did.
func (a *analysis) mediaSentence() string {
	c := a.call
	switch c.State {
	case correlate.StateFailed, correlate.StateCancelled:
		if n := a.flows[0].packets + a.flows[1].packets + a.unknown; n > 0 {
			return fmt.Sprintf("It carried %d RTP packets of early media.", n)
		}
		return ""
	case correlate.StateNoFinal:
		return ""
	}
	if c.CallerMedia.T38 || c.CalleeMedia.T38 || c.Fax == correlate.FaxT38 {
		if a.streams == 0 {
			return "It switched to T.38 fax."
		}
	}
	if a.noMedia {
		return "Both sides offered audio but no RTP was captured."
	}
	if a.oneWay >= 0 {
		d := a.oneWay
		from, to := "the caller", "the callee"
		if d == 1 {
			from, to = to, from
		}
		return fmt.Sprintf("No audio went from %s to %s while the other direction carried RTP for %s; MOS 1.00 (no audio).",
			from, to, seconds(a.flows[1-d].duration()))
	}
	if a.streams == 0 {
		return ""
	}
	// The direction with problems that sounded worst (lowest MOS).
	worst, bad := -1, ""
	for d := range 2 {
		f := &a.flows[d]
		if f.packets == 0 {
			continue
		}
		var issues []string
		if p := f.lossPct(); p >= HighLossPct {
			issues = append(issues, fmt.Sprintf("lost %.1f %% (burst ratio %.2f)", p, f.burstR))
		}
		if f.meanJitterMs >= HighJitterMs {
			issues = append(issues, fmt.Sprintf("had a mean jitter of %.1f ms", f.meanJitterMs))
		}
		if f.late > 0 && 100*float64(f.late) >= LatePct*float64(f.packets) {
			issues = append(issues, fmt.Sprintf("%d packets too late for the jitter buffer", f.late))
		}
		if len(issues) > 0 && (worst < 0 || f.mos < a.flows[worst].mos) {
			worst, bad = d, strings.Join(issues, ", ")
		}
	}
	mos := a.mos()
	if worst >= 0 {
		f := &a.flows[worst]
		from, to := "caller", "callee"
		if worst == 1 {
			from, to = to, from
		}
		s := fmt.Sprintf("Audio from %s (%s) to %s %s; MOS %.2f (%s).", f.from.Unmap(), from, f.to.Unmap(), bad, f.mos, mosLabel(f.mos))
		if o := &a.flows[1-worst]; o.packets > 0 {
			s += fmt.Sprintf(" The other direction lost %.1f %%, MOS %.2f.", o.lossPct(), o.mos)
		}
		return s
	}
	if mos == 0 {
		return ""
	}
	switch {
	case a.flows[0].packets > 0 && a.flows[1].packets > 0:
		return fmt.Sprintf("Audio flowed both ways; MOS %.2f (%s).", mos, mosLabel(mos))
	case a.flows[0].packets > 0:
		return fmt.Sprintf("Audio flowed from the caller to the callee only; MOS %.2f (%s).", mos, mosLabel(mos))
	case a.flows[1].packets > 0:
		return fmt.Sprintf("Audio flowed from the callee to the caller only; MOS %.2f (%s).", mos, mosLabel(mos))
	}
	return fmt.Sprintf("RTP of unknown direction was captured; MOS %.2f (%s).", mos, mosLabel(mos))
}
