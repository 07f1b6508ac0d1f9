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

// TestAT38StreamIsNotAudio: a call that went to T.38 and back has the
// t38_fax finding, and its fax stream's loss counts neither in the audio
// figures nor in the call's MOS.
func TestAT38StreamIsNotAudio(t *testing.T) {
	caller, callee := netip.MustParseAddrPort("10.1.0.10:40000"), netip.MustParseAddrPort("10.2.0.10:50000")
	t0 := time.Date(2026, 1, 1, 10, 0, 0, 0, time.UTC)
	c := correlate.Call{CallID: "fax@test", State: correlate.StateAnswered, FinalCode: 200, Fax: correlate.FaxT38,
		SrcIP: caller.Addr(), DstIP: callee.Addr(), Start: t0,
		CallerMedia: correlate.SDPMedia{Announced: true, Addr: caller},
		CalleeMedia: correlate.SDPMedia{Announced: true, Addr: callee}}
	audio := func(src, dst netip.AddrPort) quality.Stream {
		return quality.Stream{CallID: c.CallID, Src: src, Dst: dst, Payload: "g711U", Packets: 500, Expected: 500,
			MOS: 4.3, Start: t0, End: t0.Add(10 * time.Second)}
	}
	fax := quality.Stream{CallID: c.CallID, Src: caller, Dst: callee, Payload: "t38", Packets: 60, Expected: 120, Lost: 60,
		Start: t0.Add(11 * time.Second), End: t0.Add(20 * time.Second)}
	d := Diagnose(c, []quality.Stream{audio(caller, callee), audio(callee, caller), fax})
	codes := []string{}
	for _, f := range d.Findings {
		codes = append(codes, f.Code)
	}
	if !slices.Contains(codes, CodeT38Fax) || slices.ContainsFunc(codes, func(s string) bool { return strings.HasPrefix(s, CodeHighLoss) }) {
		t.Errorf("findings %v: want t38_fax and no high_loss", codes)
	}
	if d.MOS != 4.3 {
		t.Errorf("call MOS %.2f, want the audio's 4.30", d.MOS)
	}
}
