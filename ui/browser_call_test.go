package ui_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"
	"github.com/gopacket/gopacket/pcapgo"

	"github.com/sipscope/sipscope/api"
	"github.com/sipscope/sipscope/correlate"
	"github.com/sipscope/sipscope/pipeline"
	"github.com/sipscope/sipscope/quality"
	"github.com/sipscope/sipscope/ui"
)

// Calls of the real captures in testdata/captures (see MANIFEST.tsv).
const (
	// sngrep__aaa.pcap: an INVITE sent three times, a CANCEL sent eleven
	// times, ended 408 (the call record counts 12 retransmissions).
	aaaTimeoutID = "105090259-446faf7a@192.168.1.2"
	// heplify__rtp_rtcp_sip_ipv4_udp.pcap: answered, no BYE, G.711A both
	// ways between 200.57.7.204 and a media address of the caller
	// (200.57.7.196) that never signals, with RTCP.
	heplifyAnsweredID = "12013223@200.57.7.195"
	longCallID        = "long-500@192.0.2.50"
)

// longCall is a 500-message call: an answered call that then sends
// INFO/200 pairs for minutes, every tenth INFO retransmitted once.
func longCall() callFixture {
	a, b := "192.0.2.50:5060", "192.0.2.51:5060"
	steps := []step{
		{0, a, b, "INVITE", 0, "", 1},
		{10 * time.Millisecond, b, a, "INVITE", 180, "Ringing", 1},
		{time.Second, b, a, "INVITE", 200, "OK", 1},
		{time.Second + 5*time.Millisecond, a, b, "ACK", 0, "", 1},
	}
	at := 2 * time.Second
	for cseq := uint32(2); len(steps) < 498; cseq++ {
		steps = append(steps, step{at, a, b, "INFO", 0, "", cseq})
		if cseq%10 == 0 {
			steps = append(steps, step{at + 500*time.Millisecond, a, b, "INFO", 0, "", cseq})
		}
		steps = append(steps, step{at + 600*time.Millisecond, b, a, "INFO", 200, "OK", cseq})
		at += time.Second
	}
	steps = steps[:498]
	steps = append(steps, step{at, a, b, "BYE", 0, "", 9999}, step{at + 3*time.Millisecond, b, a, "BYE", 200, "OK", 9999})
	f := makeCall(longCallID, "long", "talker", correlate.StateAnswered, 200, t0.Add(3*time.Hour), "udp", steps)
	f.call.EndReason, f.call.ByeBy, f.call.Finished = correlate.EndCallerBye, correlate.SideCaller, true
	return f
}

const oneWayID = "one-way-1@192.0.2.60"

// oneWayCall is answered, but RTP flowed from the caller only.
func oneWayCall() callFixture {
	a, b := "192.0.2.60:5060", "192.0.2.61:5060"
	f := makeCall(oneWayID, "speaker", "deaf", correlate.StateAnswered, 200, t0.Add(4*time.Hour), "udp", []step{
		{0, a, b, "INVITE", 0, "", 1},
		{time.Second, b, a, "INVITE", 200, "OK", 1},
		{time.Second + 5*time.Millisecond, a, b, "ACK", 0, "", 1},
		{20 * time.Second, a, b, "BYE", 0, "", 2},
		{20*time.Second + 3*time.Millisecond, b, a, "BYE", 200, "OK", 2},
	})
	f.call.EndReason, f.call.ByeBy, f.call.Finished = correlate.EndCallerBye, correlate.SideCaller, true
	f.call.AnswerMs, f.call.DurationMs = 1000, 19000
	f.streams = []quality.Stream{{SSRC: 0x1234, Src: netip.MustParseAddrPort("192.0.2.60:30000"), Dst: netip.MustParseAddrPort("192.0.2.61:40000"),
		Payload: "g711U", PayloadType: 0, Start: t0.Add(4*time.Hour + time.Second), End: t0.Add(4*time.Hour + 20*time.Second),
		Packets: 950, Expected: 950, MOS: 4.4, CallID: oneWayID}}
	return f
}

// callShot writes a screenshot of the page at 1280x800 (full page) to
// shotDir, in the light theme and, with dark set, also in the dark one.
func callShot(t *testing.T, b *browser, name string, dark bool) {
	t.Helper()
	dir := shotDir(t)
	themes := []string{"light"}
	if dark {
		themes = append(themes, "dark")
	}
	media := func(theme string) chromedp.Action[chromedp.Void] {
		return chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
			_, err := cdp.Call(ctx, tg, emulation.SetEmulatedMedia, emulation.SetEmulatedMediaParams{
				Features: []*emulation.MediaFeature{{Name: "prefers-color-scheme", Value: theme}}})
			return err
		})
	}
	for _, theme := range themes {
		ctx, cancel := context.WithTimeout(b.ctx, 20*time.Second)
		err := chromedp.Do(ctx, chromedp.EmulateViewport(1280, 800), media(theme))
		var png []byte
		if err == nil {
			png, err = chromedp.Run(ctx, chromedp.FullScreenshot(100))
		}
		cancel()
		if err != nil {
			t.Fatalf("screenshot: %v", err)
		}
		if err := os.WriteFile(filepath.Join(dir, name+"-"+theme+".png"), png, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	b.do(t, chromedp.EmulateViewport(1440, 1000), media("light"))
}

// openCall goes to a call and waits until its ladder has n arrows. From
// another call of the page that is a change of the hash, as a click on a
// link is; after a login, reload first so that the page asks for the role
// again.
func openCall(t *testing.T, b *browser, base, id string, n int) {
	t.Helper()
	b.do(t, chromedp.Navigate(base+"/#/call/"+url.PathEscape(id)))
	b.waitFor(t, fmt.Sprintf(`document.getElementById('call-title').textContent === %s && document.querySelectorAll('#ladder .sip-arrow').length === %d`, js(id), n))
}

// TestCallView drives the call view in headless Chromium over the real
// API and the embedded store, seeded from real captures imported through
// the pipeline and from fixtures where a shape is needed exactly (B2BUA
// legs, DTMF, 500 messages).
func TestCallView(t *testing.T) {
	long := longCall()
	calls := append(fixtureCalls(), long, oneWayCall())
	st := openStore(t, calls)
	for _, name := range []string{"sngrep__aaa.pcap", "heplify__rtp_rtcp_sip_ipv4_udp.pcap"} {
		if _, err := pipeline.ImportFile(t.Context(), st, filepath.Join("..", "testdata", "captures", name)); err != nil {
			t.Fatalf("import %s: %v", name, err)
		}
	}
	srv := httptest.NewServer(api.New(api.Config{UI: ui.Handler()}, st, nil).Handler())
	t.Cleanup(srv.Close)
	b := startBrowser(t)

	t.Run("a failed call opens with its diagnosis first and its final response selected", func(t *testing.T) {
		openCall(t, b, srv.URL, aaaTimeoutID, 18)
		b.waitFor(t, `document.getElementById('message-title').textContent.includes('408 Request Timeout')`)
		diag := eval[string](t, b, `document.getElementById('call-diagnosis').textContent`)
		if !strings.Contains(diag, "408 Request Timeout") || !strings.Contains(diag, "CANCEL") {
			t.Errorf("diagnosis %q does not say the CANCEL ended in a 408", diag)
		}
		// The sentence is the first thing of the header, before the Call-ID.
		if !eval[bool](t, b, `(d => !d.hidden && (d.compareDocumentPosition(document.getElementById('call-title')) & Node.DOCUMENT_POSITION_FOLLOWING) !== 0)(document.getElementById('call-diagnosis'))`) {
			t.Errorf("the diagnosis is not shown before the Call-ID")
		}
		// The selected arrow is the 408 to the INVITE (not the one to the CANCEL).
		sel := eval[[]string](t, b, `[...document.querySelectorAll('#ladder .sip-arrow.selected')].map(g => g.dataset.index + ' ' + g.querySelector('.label').textContent)`)
		jsonEqual(t, "selected", sel, []string{"7 408 Request Timeout"})
		if d := eval[string](t, b, `document.getElementById('message-detail').textContent`); !strings.Contains(d, "CSeq: 1 INVITE") {
			t.Errorf("the message panel does not show the final response to the INVITE:\n%s", d)
		}
		jsonEqual(t, "header", eval[[]string](t, b, `['state', 'final', 'end-reason', 'pdd', 'retransmissions'].map(id => document.getElementById(id).textContent)`),
			[]string{"Failed", "Final 408 Request Timeout", "Ended Timed out", "PDD —", "Retransmissions 12"})
		// A call never answered has no answer or talk time to show.
		if n := eval[int](t, b, `document.querySelectorAll('#answer, #talk').length`); n != 0 {
			t.Errorf("a failed call shows %d answer/talk timings", n)
		}
		// Every text of the flow is at least 11 px.
		if small := eval[[]string](t, b, `[...document.querySelectorAll('#ladder svg text')].filter(e => parseFloat(getComputedStyle(e).fontSize) < 11).map(e => e.textContent)`); len(small) > 0 {
			t.Errorf("flow texts below 11 px: %q", small)
		}
		callShot(t, b, "call-failed", true)
	})

	t.Run("retransmissions are drawn dashed and counted", func(t *testing.T) {
		jsonEqual(t, "counts on the first sends", eval[[]string](t, b, `[...document.querySelectorAll('#ladder .retrans-count')].map(e => e.closest('.sip-arrow').dataset.index + ' ' + e.textContent)`),
			[]string{"0 ×3", "4 ×11"})
		jsonEqual(t, "copies", eval[[]string](t, b, `[...document.querySelectorAll('#ladder .sip-arrow.retrans')].map(g => g.dataset.index + ' ' + g.querySelector('.retrans-ordinal').textContent)`),
			[]string{"1 2/3", "2 3/3", "5 2/11", "6 3/11", "9 4/11", "10 5/11", "11 6/11", "12 7/11", "13 8/11", "14 9/11", "15 10/11", "16 11/11"})
		// As many dashed arrows as the call record counts retransmissions.
		dashed := eval[int](t, b, `[...document.querySelectorAll('#ladder .sip-arrow line')].filter(l => getComputedStyle(l).strokeDasharray !== 'none').length`)
		if want := eval[int](t, b, `+document.querySelector('#retransmissions b').textContent`); dashed != want || dashed != 12 {
			t.Errorf("%d dashed arrows, the header counts %d retransmissions, want 12", dashed, want)
		}
		if s := eval[string](t, b, `getComputedStyle(document.querySelector('#ladder .sip-arrow[data-index="0"] line')).strokeDasharray`); s != "none" {
			t.Errorf("the first INVITE is drawn dashed (%s)", s)
		}
	})

	t.Run("arrows are reachable by keyboard and named for screen readers", func(t *testing.T) {
		// The 500-message call opened at its top; the flow follows the
		// keyboard to its end, the page stays where it is.
		openCall(t, b, srv.URL, longCallID, 500)
		b.do(t, chromedp.Evaluate[chromedp.Void](`window.scrollTo(0, 0); document.getElementById('ladder').focus({preventScroll: true})`))
		b.do(t, chromedp.KeyEvent(kb.End))
		b.waitFor(t, `document.activeElement.dataset.index === '499'`)
		jsonEqual(t, "flow scrolled, page not", eval[[]bool](t, b, `(() => {
			const l = document.getElementById('ladder'), box = l.getBoundingClientRect(), r = document.activeElement.getBoundingClientRect();
			return [l.scrollTop > 0, window.scrollY === 0, r.top >= box.top && r.bottom <= box.bottom];
		})()`), []bool{true, true, true})
		openCall(t, b, srv.URL, aaaTimeoutID, 18)
		if r := eval[string](t, b, `document.querySelector('#ladder svg').getAttribute('role')`); r != "list" {
			t.Errorf("the ladder's role is %q, want list", r)
		}
		jsonEqual(t, "names", eval[[]string](t, b, `[0, 1, 7].map(i => (g => g.getAttribute('role') + ': ' + g.getAttribute('aria-label'))(document.querySelector('#ladder .sip-arrow[data-index="' + i + '"]')))`),
			[]string{
				"listitem: 09:40:49.188993 INVITE (SDP) from 192.168.1.2:5060 to 200.68.120.81:5060, sent 3 times",
				"listitem: 09:40:49.696866 INVITE (SDP) from 192.168.1.2:5060 to 200.68.120.81:5060, retransmission 2 of 3",
				"listitem: 09:41:25.961798 408 Request Timeout from 200.68.120.81:5060 to 192.168.1.2:5060",
			})
		b.do(t, chromedp.Focus(chromedp.ID("ladder")))
		b.do(t, chromedp.KeyEvent(kb.ArrowDown)) // from the preselected 408
		b.waitFor(t, `document.activeElement && document.activeElement.dataset && document.activeElement.dataset.index === '8'`)
		b.waitFor(t, `document.getElementById('message-title').textContent.includes('ACK')`)
		b.do(t, chromedp.KeyEvent("k"))
		b.waitFor(t, `document.activeElement.dataset.index === '7' && document.activeElement.getAttribute('tabindex') === '0'`)
	})

	t.Run("columns are hosts labelled with the agent they announced", func(t *testing.T) {
		jsonEqual(t, "columns", eval[[]string](t, b, `[...document.querySelectorAll('#ladder .hosts text')].map(e => e.textContent)`),
			[]string{"192.168.1.2:5060", "Nero SIPPS IP Phone Version 2…", "200.68.120.81:5060", "Sip EXpress router (0.8.12 (i…"})
	})

	t.Run("RTP streams are bands between their endpoints with direction, RTCP and the late packets apart", func(t *testing.T) {
		openCall(t, b, srv.URL, heplifyAnsweredID, 5)
		// The caller's media address never signals: it gets a column of its own.
		jsonEqual(t, "columns", eval[[]string](t, b, `[...document.querySelectorAll('#ladder .host-label')].map(e => e.textContent)`),
			[]string{"200.57.7.195:5060", "200.57.7.204:5061", "200.57.7.196"})
		rows := eval[[]string](t, b, `[...document.querySelectorAll('#ladder .rtp-row')].map(g => g.dataset.ssrc + ' ' + g.querySelector('.rtp-label').textContent)`)
		jsonEqual(t, "RTP rows", rows, []string{
			"0xD2BD4E3E RTP callee→caller · g711A · 548 pkts · loss 0.0 % · MOS 4.33",
			"0x58F33DEA RTP caller→callee · g711A · 891 pkts · loss 0.0 % · MOS 4.40",
		})
		// Each band lies between the columns of its stream's endpoints and
		// runs down from its row.
		geo := eval[[]bool](t, b, `(() => {
			const col = {};
			document.querySelectorAll('#ladder .host-label').forEach(e => { col[e.textContent] = +e.getAttribute('x'); });
			const lo = Math.min(col['200.57.7.204:5061'], col['200.57.7.196']), hi = Math.max(col['200.57.7.204:5061'], col['200.57.7.196']);
			return [...document.querySelectorAll('#ladder rect.rtp-band')].map(r => {
				const x = +r.getAttribute('x'), w = +r.getAttribute('width'), h = +r.getAttribute('height');
				const row = document.querySelector('#ladder .rtp-row[data-ssrc="' + r.dataset.ssrc + '"] .ts');
				return x >= lo && x + w <= hi && h > 20 && Math.abs(+r.getAttribute('y') - (+row.getAttribute('y') - 15)) < 12;
			});
		})()`)
		jsonEqual(t, "bands between their columns", geo, []bool{true, true})
		jsonEqual(t, "RTCP markers", eval[[]string](t, b, `[...document.querySelectorAll('#ladder .rtcp-mark')].map(g => g.dataset.ssrc + ' ' + g.querySelector('text').textContent)`),
			[]string{"0xD2BD4E3E RTCP ×48", "0x58F33DEA RTCP ×38"})
		jsonEqual(t, "streams table directions", eval[[]string](t, b, `[...document.querySelectorAll('#streams tbody tr')].map(r => r.cells[3].textContent + ' ' + r.cells[0].textContent)`),
			[]string{"0xD2BD4E3E callee→caller", "0x58F33DEA caller→callee"})
		// RTCP-reported loss and jitter beside the measured ones.
		jsonEqual(t, "loss and jitter cells", eval[[]string](t, b, `[...document.querySelectorAll('#streams tbody tr')].map(r => r.cells[7].textContent + ' | ' + r.cells[9].textContent)`),
			[]string{"0.0 %RTCP 0.0 % | 2.52RTCP 0.0", "0.0 %RTCP 0.0 % | 0.10RTCP 1155.5"})
		// Charts: caller→callee first, one loss axis for both.
		jsonEqual(t, "charts", eval[[]string](t, b, `[...document.querySelectorAll('#quality-charts svg.mos-chart')].map(c => c.dataset.direction + ' ' + c.dataset.ssrc + ' ' + c.dataset.lossMax)`),
			[]string{"caller 0x58F33DEA 5", "callee 0xD2BD4E3E 5"})
		// 0xD2BD4E3E lost nothing but had 4 packets too late for the jitter
		// buffer: late bars, no loss bar (the old chart showed them as loss).
		late := eval[[]int](t, b, `(c => [c.querySelectorAll('.loss-bar').length, c.querySelectorAll('.late-bar').length])(document.querySelector('#quality-charts svg[data-ssrc="0xD2BD4E3E"]'))`)
		if len(late) != 2 || late[0] != 0 || late[1] == 0 {
			t.Errorf("chart of 0xD2BD4E3E has %v loss and late bars, want no loss bar and some late bars", late)
		}
		caption := eval[string](t, b, `document.querySelector('#quality-charts .chart-box:nth-child(2) .chart-caption').textContent`)
		if !strings.Contains(caption, "callee→caller") || !strings.Contains(caption, "late 0.7 %") || !strings.Contains(caption, "RTCP") {
			t.Errorf("caption %q lacks the direction, the late share or the RTCP figures", caption)
		}
		// Every text of the charts is at least 11 px as drawn.
		if small := eval[[]string](t, b, `[...document.querySelectorAll('#quality-charts svg text')].filter(e => e.getBoundingClientRect().height > 0 && parseFloat(getComputedStyle(e).fontSize) * (e.ownerSVGElement.getBoundingClientRect().width / e.ownerSVGElement.viewBox.baseVal.width) < 10.99).map(e => e.textContent)`); len(small) > 0 {
			t.Errorf("chart texts below 11 px: %q", small)
		}
		if talk := eval[string](t, b, `document.getElementById('talk').textContent`); talk != "Talk no BYE seen" {
			t.Errorf("talk time of a call without BYE: %q", talk)
		}
		callShot(t, b, "call-rtp", true)
	})

	t.Run("audio that went one way only is flagged on its band", func(t *testing.T) {
		openCall(t, b, srv.URL, oneWayID, 5)
		if n := eval[int](t, b, `document.querySelectorAll('#ladder rect.rtp-band.one-way.dir-caller').length`); n != 1 {
			t.Errorf("%d one-way caller→callee bands, want 1", n)
		}
		if txt := eval[string](t, b, `document.querySelector('#ladder .rtp-row').textContent`); !strings.Contains(txt, "caller→callee") || !strings.Contains(txt, "one-way") {
			t.Errorf("the stream's row says %q", txt)
		}
		// Only the direction that carried audio gets a player.
		jsonEqual(t, "players", eval[[]string](t, b, `[...document.querySelectorAll('#audio-players figure')].map(f => f.dataset.direction)`), []string{"caller"})
	})

	t.Run("a B2BUA call shows both legs in one flow with a colour per leg", func(t *testing.T) {
		openCall(t, b, srv.URL, answeredID, 16)
		jsonEqual(t, "arrows per leg", eval[[]int](t, b, `[0, 1].map(l => document.querySelectorAll('#ladder .sip-arrow[data-leg="' + l + '"]').length)`), []int{10, 6})
		colours := eval[[]string](t, b, `[0, 1].map(l => getComputedStyle(document.querySelector('#ladder .sip-arrow[data-leg="' + l + '"] .leg-stripe')).fill)`)
		if len(colours) != 2 || colours[0] == colours[1] || colours[0] == "" {
			t.Errorf("leg stripe colours %q are not two colours", colours)
		}
		jsonEqual(t, "legend", eval[[]string](t, b, `[...document.querySelectorAll('#ladder-legs .leg-chip')].map(c => c.textContent)`),
			[]string{"A" + answeredID + " (this call)", "B" + legBID + " 4930111 → 4940222"})
		// The SBC's two ports are one host column.
		hosts := eval[[]string](t, b, `[...document.querySelectorAll('#ladder .host-label')].map(e => e.textContent + ' ' + e.nextElementSibling.textContent)`)
		jsonEqual(t, "columns", hosts, []string{"192.0.2.1:5060 ", "192.0.2.2:5060 ", "192.0.2.3 :5062 :5080", "203.0.113.9:5060 "})
		// Merged by time: leg B's INVITE (50 ms) comes after leg A's 180s.
		jsonEqual(t, "first legs in order", eval[[]string](t, b, `[...document.querySelectorAll('#ladder .sip-arrow')].slice(0, 7).map(g => g.dataset.leg)`),
			[]string{"0", "0", "0", "0", "0", "1", "1"})
		// The DTMF digits of the answered leg's stream sit on its band.
		jsonEqual(t, "DTMF on the band", eval[[]string](t, b, `[...document.querySelectorAll('#ladder .dtmf-band-mark text')].map(e => e.textContent)`), []string{"1", "#"})
		if n := eval[int](t, b, `document.querySelectorAll('#download-pcap-legs:not([hidden])').length`); n != 1 {
			t.Errorf("no PCAP with legs offered for a call with legs")
		}
		callShot(t, b, "call-legs", true)
		// Without the other legs: this call's ten messages.
		b.click(t, `#show-legs`)
		b.waitFor(t, `document.querySelectorAll('#ladder .sip-arrow').length === 10 && document.getElementById('ladder-legs').hidden`)
		b.click(t, `#show-legs`)
		b.waitFor(t, `document.querySelectorAll('#ladder .sip-arrow').length === 16`)
	})

	t.Run("a 500-message ladder is drawn in one pass", func(t *testing.T) {
		openCall(t, b, srv.URL, longCallID, 500)
		ms := eval[float64](t, b, `+document.getElementById('ladder').dataset.drawMs`)
		// Drawn again a few times: on a shared machine one figure says
		// more about the neighbours than about the drawing.
		shown := eval[float64](t, b, `+document.getElementById('ladder').dataset.shownMs`)
		t.Logf("ladder of 500 messages first built in %.1f ms, shown (with style and layout) in %.1f ms (performance.now() in the page, headless Chromium)", ms, shown)
		// Drawn again several times: on a shared machine one figure says
		// more about the neighbours than about the drawing. Each phase's
		// median and range: planning rows and columns, building the SVG,
		// inserting it, style and layout.
		for _, line := range eval[[]string](t, b, `(() => {
			const n = 15;
			const total = [];
			for (let i = 0; i < n; i++) {
				drawFlow();
				total.push(+document.getElementById('ladder').dataset.shownMs);
			}
			const stat = (a) => { a = a.slice().sort((x, y) => x - y); return 'median ' + a[a.length >> 1].toFixed(1) + ' ms (min ' + a[0].toFixed(1) + ', max ' + a[a.length - 1].toFixed(1) + ')'; };
			return ['ladder:plan', 'ladder:build', 'ladder:insert', 'ladder:layout'].map((k) => k + ' ' + stat(performance.getEntriesByName(k).slice(-n).map((e) => e.duration)))
				.concat(['redrawn and laid out ' + n + ' times: ' + stat(total)]);
		})()`) {
			t.Log(line)
		}
		if n := eval[int](t, b, `document.querySelectorAll('#ladder .sip-arrow').length`); n != 500 {
			t.Errorf("%d arrows after redrawing, want 500", n)
		}
		// Every tenth INFO was sent twice.
		want := 0
		for i, m := range long.msgs {
			if i > 0 && m.Method == "INFO" && m.StatusCode == 0 && long.msgs[i-1].CSeq == m.CSeq && long.msgs[i-1].StatusCode == 0 {
				want++
			}
		}
		if n := eval[int](t, b, `document.querySelectorAll('#ladder .sip-arrow.retrans').length`); n != want || want == 0 {
			t.Errorf("%d retransmitted INFOs marked, want %d", n, want)
		}
	})

	t.Run("an admin gets PCAP, text and audio per direction", func(t *testing.T) {
		openCall(t, b, srv.URL, heplifyAnsweredID, 5)
		b.waitFor(t, `!document.getElementById('audio-panel').hidden && !document.getElementById('download-pcap').hidden`)
		enc := eval[string](t, b, `encodeURIComponent(`+js(heplifyAnsweredID)+`)`)
		jsonEqual(t, "players", eval[[]string](t, b, `[...document.querySelectorAll('#audio-players audio')].map(a => a.closest('figure').querySelector('figcaption').textContent + ' ' + a.getAttribute('src') + ' ' + a.getAttribute('preload'))`),
			[]string{
				"caller→callee /api/v1/calls/" + enc + "/audio?direction=caller none",
				"callee→caller /api/v1/calls/" + enc + "/audio?direction=callee none",
			})
		if href := eval[string](t, b, `document.getElementById('download-audio-both').getAttribute('href')`); href != "/api/v1/calls/"+enc+"/audio?direction=both" {
			t.Errorf("stereo link %q", href)
		}
		href := eval[string](t, b, `document.getElementById('download-text').getAttribute('href')`)
		resp, err := http.Get(srv.URL + href)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/plain") || !bytes.Contains(body, []byte("INVITE")) {
			t.Errorf("text export %s: %d %s %.80q", href, resp.StatusCode, resp.Header.Get("Content-Type"), body)
		}
	})

	// From here on the store has users: the server stops running open.
	// The page leaves first, or its status poll would meet a 401.
	b.do(t, chromedp.Navigate("about:blank"))
	seedRoles(t, srv.URL)

	t.Run("a viewer sees the text export but no PCAP or audio", func(t *testing.T) {
		login(t, b, srv.URL, "viewer")
		b.do(t, chromedp.Navigate("about:blank"))
		openCall(t, b, srv.URL, heplifyAnsweredID, 5)
		b.waitFor(t, `document.querySelectorAll('#streams tbody tr').length === 2`)
		jsonEqual(t, "shown", eval[[]bool](t, b, `['download-pcap', 'download-pcap-legs', 'audio-panel', 'download-text'].map(id => !document.getElementById(id).hidden)`),
			[]bool{false, false, false, true})
		if n := eval[int](t, b, `document.querySelectorAll('#call-view audio').length`); n != 0 {
			t.Errorf("%d audio players for a viewer", n)
		}
		if status, _ := download(t, b, srv.URL, eval[string](t, b, `document.getElementById('download-pcap').getAttribute('href')`)); status != http.StatusForbidden {
			t.Errorf("a viewer's PCAP request answered %d, want 403", status)
		}
		callShot(t, b, "call-viewer", false)
	})

	t.Run("an operator gets the PCAP, and the link answers with the call's frames", func(t *testing.T) {
		login(t, b, srv.URL, "operator")
		b.do(t, chromedp.Navigate("about:blank"))
		openCall(t, b, srv.URL, aaaTimeoutID, 18)
		b.waitFor(t, `!document.getElementById('download-pcap').hidden`)
		if n := eval[int](t, b, `document.querySelectorAll('#call-view audio').length`); n != 0 {
			t.Errorf("%d audio players for a call without RTP", n)
		}
		status, body := download(t, b, srv.URL, eval[string](t, b, `document.getElementById('download-pcap').getAttribute('href')`))
		if status != http.StatusOK {
			t.Fatalf("PCAP: %d", status)
		}
		r, err := pcapgo.NewReader(bytes.NewReader(body))
		if err != nil {
			t.Fatalf("not a pcap: %v", err)
		}
		n := 0
		for {
			if _, _, err := r.ReadPacketData(); err != nil {
				break
			}
			n++
		}
		if n != 18 {
			t.Errorf("%d frames in the call's PCAP, want its 18 SIP messages", n)
		}
		openCall(t, b, srv.URL, heplifyAnsweredID, 5)
		b.waitFor(t, `document.querySelectorAll('#audio-players audio').length === 2`)
	})

	t.Run("the failed, RTP and B2BUA calls pass axe in both themes", func(t *testing.T) {
		for _, c := range []struct {
			id string
			n  int
		}{{aaaTimeoutID, 18}, {heplifyAnsweredID, 5}, {answeredID, 16}} {
			openCall(t, b, srv.URL, c.id, c.n)
			runAxeInBothThemes(b.ctx, t)
		}
	})

	if errs := b.pageErrors(); len(errs) > 0 {
		t.Errorf("the page reported errors:\n%s", strings.Join(errs, "\n"))
	}
}

const rolePassword = "call-view-secret"

// seedRoles adds an admin through the API while the server still runs
// open (from then on it does not), and as that admin a viewer and an
// operator, the way the admin page does.
func seedRoles(t *testing.T, base string) {
	t.Helper()
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	client := &http.Client{Jar: jar}
	send := func(path, body string, want int) {
		t.Helper()
		req, err := http.NewRequest(http.MethodPost, base+path, strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Content-Type", "application/json")
		u, _ := url.Parse(base)
		for _, c := range jar.Cookies(u) {
			if c.Name == api.CSRFCookie {
				req.Header.Set(api.CSRFHeader, c.Value)
			}
		}
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != want {
			t.Fatalf("POST %s %s: %d, want %d", path, body, resp.StatusCode, want)
		}
	}
	user := func(role string) string {
		return fmt.Sprintf(`{"name":%q,"role":%q,"password":%q}`, role, role, rolePassword)
	}
	send("/api/v1/users", user(api.RoleAdmin), http.StatusCreated)
	send("/api/v1/login", fmt.Sprintf(`{"user":%q,"password":%q}`, api.RoleAdmin, rolePassword), http.StatusOK)
	for _, role := range []string{api.RoleViewer, api.RoleOperator} {
		send("/api/v1/users", user(role), http.StatusCreated)
	}
}

// login logs in as user through the API and hands the session to the
// browser, as the login form would (the page itself would first ask the
// API and log its 401s).
func login(t *testing.T, b *browser, base, user string) {
	t.Helper()
	resp, err := http.Post(base+"/api/v1/login", "application/json",
		strings.NewReader(fmt.Sprintf(`{"user":%q,"password":%q}`, user, rolePassword)))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("login as %s: %d", user, resp.StatusCode)
	}
	ctx, cancel := context.WithTimeout(b.ctx, 20*time.Second)
	defer cancel()
	for _, c := range resp.Cookies() {
		httpOnly := c.HttpOnly
		if _, err := chromedp.Call(ctx, network.SetCookie, network.SetCookieParams{
			Name: c.Name, Value: c.Value, URL: base, Path: "/", HTTPOnly: &httpOnly}); err != nil {
			t.Fatalf("set cookie %s: %v", c.Name, err)
		}
	}
}

// download fetches a link of the page with the page's session cookie.
func download(t *testing.T, b *browser, base, href string) (int, []byte) {
	t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 20*time.Second)
	defer cancel()
	res, err := chromedp.Call(ctx, network.GetCookies, network.GetCookiesParams{URLs: []string{base}})
	if err != nil {
		t.Fatal(err)
	}
	cookies := res.Cookies
	req, err := http.NewRequest(http.MethodGet, base+href, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range cookies {
		req.AddCookie(&http.Cookie{Name: c.Name, Value: c.Value})
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, body
}
