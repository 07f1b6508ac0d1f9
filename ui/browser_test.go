package ui_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
	"github.com/gopacket/gopacket/pcapgo"

	"github.com/sipscope/sipscope/api"
	"github.com/sipscope/sipscope/ui"
)

var screenshotDir = flag.String("screenshots", "", "write screenshots of the UI to this directory")

// browser is a headless Chromium tab plus what the page reported as broken.
type browser struct {
	ctx    context.Context
	mu     sync.Mutex
	errors []string
}

// chromium is the one headless Chromium the package's tests share:
// starting it costs seconds on a busy machine, a fresh browser context
// (a tab with its own cookies, storage and cache) costs milliseconds.
var chromium struct {
	once   sync.Once
	ctx    context.Context // the browser's first tab, never used for a test
	cancel []context.CancelFunc
	err    error
}

func TestMain(m *testing.M) {
	flag.Parse()
	code := m.Run()
	for _, cancel := range slices.Backward(chromium.cancel) {
		cancel()
	}
	os.Exit(code)
}

func startChromium() (context.Context, error) {
	chromium.once.Do(func() {
		var path string
		for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
			if p, err := exec.LookPath(name); err == nil {
				path = p
				break
			}
		}
		if path == "" {
			chromium.err = errors.New("the UI test needs Chromium (apt-get install chromium)")
			return
		}
		opts := append(chromedp.DefaultExecAllocatorOptions[:],
			chromedp.ExecPath(path),
			chromedp.NoSandbox,
			chromedp.WindowSize(1440, 1000),
			chromedp.Flag("disable-gpu", true),
		)
		allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
		ctx, cancel := chromedp.NewContext(allocCtx)
		chromium.cancel = []context.CancelFunc{cancelAlloc, cancel}
		if err := chromedp.Do(ctx); err != nil {
			chromium.err = fmt.Errorf("start Chromium: %w", err)
			return
		}
		chromium.ctx = ctx
	})
	return chromium.ctx, chromium.err
}

// startBrowser opens a tab of the shared Chromium in a browser context of
// its own, so that no test sees another's session, preferences or cache;
// the context goes with the test.
func startBrowser(t *testing.T) *browser {
	t.Helper()
	root, err := startChromium()
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := chromedp.NewContext(root, chromedp.WithNewBrowserContext())
	t.Cleanup(cancel)
	if err := chromedp.Do(ctx, chromedp.EmulateViewport(1440, 1000)); err != nil {
		t.Fatalf("open a browser context: %v", err)
	}
	b := &browser{ctx: ctx}
	exceptions := chromedp.Events(ctx, runtime.ExceptionThrown)
	entries := chromedp.Events(ctx, log.EntryAdded)
	go func() {
		for ev, err := range exceptions {
			if err != nil {
				return
			}
			b.report("exception: " + ev.ExceptionDetails.Text + " " + describe(ev.ExceptionDetails.Exception))
		}
	}()
	go func() {
		for ev, err := range entries {
			if err != nil {
				return
			}
			// The deliberate lookup of an unknown call logs a 404; that
			// is the page working, not breaking.
			if ev.Entry.Level == log.EntryLevelError && !strings.Contains(ev.Entry.URL, "no-such-call") {
				b.report("console: " + ev.Entry.Text + " " + ev.Entry.URL)
			}
		}
	}()
	return b
}

func describe(o *runtime.RemoteObject) string {
	if o == nil {
		return ""
	}
	return o.Description
}

func (b *browser) report(s string) {
	b.mu.Lock()
	b.errors = append(b.errors, s)
	b.mu.Unlock()
}

func (b *browser) pageErrors() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return slices.Clone(b.errors)
}

// do runs the steps one after the other. A step whose element the page
// replaced between finding it and acting on it (a list re-rendered by a
// response that arrived meanwhile) is found again and retried: the
// element was gone before any input reached it, so nothing happens twice.
func (b *browser) do(t *testing.T, steps ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 20*time.Second)
	defer cancel()
	for _, step := range steps {
		for attempt := 1; ; attempt++ {
			err := chromedp.Do(ctx, step)
			if err == nil {
				break
			}
			if !staleNode(err) || attempt == 5 {
				t.Fatalf("browser: %v", err)
			}
		}
	}
}

// click clicks the element sel finds, once it is there and rendered, in
// one step in the page: a synthetic mouse click is aimed at coordinates
// measured a moment earlier, and a row, strip or badge drawn meanwhile
// can move the target from under it (the list tests missed a click about
// one run in five). The element takes the focus, as under a mouse, and
// its own click() (a bubbling click event for SVG, which has none) runs
// its handlers as a user's click does.
func (b *browser) click(t *testing.T, sel string) {
	t.Helper()
	js := `((e) => { if (!e || e.getClientRects().length === 0 || e.disabled) return false; e.focus({ preventScroll: true }); if (typeof e.click === 'function') e.click(); else e.dispatchEvent(new MouseEvent('click', { bubbles: true, cancelable: true, view: window })); return true; })(document.querySelector(` + jsString(sel) + `))`
	ctx, cancel := context.WithTimeout(b.ctx, 20*time.Second)
	defer cancel()
	if _, err := chromedp.Run(ctx, chromedp.Poll[bool](js, chromedp.WithPollingTimeout(15*time.Second))); err != nil {
		t.Fatalf("click %s: %v", sel, err)
	}
}

// jsString is s as a JavaScript string literal.
func jsString(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

// staleNode tells whether err is Chromium's answer for a node that left
// the document after it was looked up.
func staleNode(err error) bool {
	s := err.Error()
	return strings.Contains(s, "Could not find node with given id") || strings.Contains(s, "No node with given id found")
}

// waitFor polls a JavaScript condition until it holds.
// A navigation that completes while a poll runs destroys the poll's
// JavaScript context; that is the page moving on, so the poll is retried.
func (b *browser) waitFor(t *testing.T, cond string) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(b.ctx, 20*time.Second)
		_, err := chromedp.Run(ctx, chromedp.Poll[bool](cond, chromedp.WithPollingTimeout(time.Until(deadline))))
		cancel()
		if err == nil {
			return
		}
		if !strings.Contains(err.Error(), "Cannot find context") || time.Now().After(deadline) {
			t.Fatalf("waiting for %s: %v", cond, err)
		}
	}
}

func eval[T any](t *testing.T, b *browser, expr string) T {
	t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 20*time.Second)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](expr))
	if err != nil {
		t.Fatalf("evaluate %s: %v", expr, err)
	}
	return v
}

func (b *browser) screenshot(t *testing.T, name string) {
	t.Helper()
	dir := shotDir(t)
	ctx, cancel := context.WithTimeout(b.ctx, 20*time.Second)
	defer cancel()
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatalf("screenshot: %v", err)
	}
	if err := os.WriteFile(filepath.Join(dir, name), png, 0o644); err != nil {
		t.Fatal(err)
	}
}

// shotDir is where a test writes its screenshots: SIPSCOPE_SCREENSHOTS
// or -screenshots when given, else the test's artifact directory, which
// go test -artifacts -outputdir DIR keeps (make unit does, so CI keeps
// every view's pictures in both themes).
func shotDir(t *testing.T) string {
	if dir := os.Getenv("SIPSCOPE_SCREENSHOTS"); dir != "" {
		return dir
	}
	if *screenshotDir != "" {
		return *screenshotDir
	}
	return t.ArtifactDir()
}

// js renders a Go string as a JavaScript string literal.
func js(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

func jsonEqual[T any](t *testing.T, what string, got, want T) {
	t.Helper()
	g, _ := json.Marshal(got)
	w, _ := json.Marshal(want)
	if !bytes.Equal(g, w) {
		t.Errorf("%s:\n got %s\nwant %s", what, g, w)
	}
}

const rowIDs = `[...document.querySelectorAll('#call-table tr.call-row')].map(r => r.dataset.callId)`

// allRows is the condition "every fixture call is listed".
const allRows = rowIDs + `.length === 4`

// TestUIInBrowser drives the real UI in headless Chromium against the real
// API over the real embedded store.
func TestUIInBrowser(t *testing.T) {
	calls := fixtureCalls()
	st := openStore(t, calls)
	srv := httptest.NewServer(api.New(api.Config{UI: ui.Handler()}, st, nil).Handler())
	t.Cleanup(srv.Close)
	b := startBrowser(t)
	answered := calls[0]

	t.Run("the call list shows every call newest first with its columns", func(t *testing.T) {
		b.do(t, chromedp.Navigate(srv.URL+"/"))
		b.waitFor(t, allRows)
		jsonEqual(t, "row order", eval[[]string](t, b, rowIDs), []string{hostileID, failedID, legBID, answeredID})
		cells := eval[[]string](t, b, `[...document.querySelector('tr.call-row[data-call-id=`+js(answeredID)+`]').cells].map(c => c.textContent)`)
		jsonEqual(t, "answered row", cells, []string{"2025-01-14 09:30:00", "alice", "bob", "Answered", "200", "Caller hung up", "20 ms", "1m 05s", "10", "3.40"})
		cells = eval[[]string](t, b, `[...document.querySelector('tr.call-row[data-call-id=`+js(failedID)+`]').cells].map(c => c.textContent)`)
		jsonEqual(t, "failed row", cells, []string{"2025-01-14 10:30:00", "carol", "dave", "Failed", "486", "Busy", "—", "1.510 s", "3", "—"})
		cells = eval[[]string](t, b, `[...document.querySelector('tr.call-row[data-call-id=`+js(hostileID)+`]').cells].map(c => c.textContent)`)
		if cells[5] != "In progress" {
			t.Errorf("hostile row ended %q, want In progress", cells[5])
		}
		b.screenshot(t, "call-list.png")
	})

	t.Run("HTML inside SIP data is shown as text and never runs", func(t *testing.T) {
		if n := eval[int](t, b, `document.querySelectorAll('#call-table img, #call-table script').length`); n != 0 {
			t.Errorf("%d elements injected into the call table", n)
		}
		row := eval[string](t, b, `document.querySelector('tr.call-row[data-call-id=`+js(hostileID)+`]').textContent`)
		if !strings.Contains(row, `<img src=x onerror="window.pwned=1">`) {
			t.Errorf("hostile row text %q does not show the user literally", row)
		}
	})

	t.Run("typing in the search box narrows the list", func(t *testing.T) {
		b.do(t, chromedp.SendKeys(chromedp.ID("search"), "ALIC"))
		b.waitFor(t, `(r => r.length === 1 && r[0] === `+js(answeredID)+`)(`+rowIDs+`)`)
		if h := eval[string](t, b, `location.hash`); h != "#/?q=ALIC" {
			t.Errorf("hash %q, want #/?q=ALIC", h)
		}
		b.click(t, `#reset-filters`)
		b.waitFor(t, allRows)
	})

	t.Run("the state filter keeps only calls in that state", func(t *testing.T) {
		b.do(t, chromedp.Evaluate[chromedp.Void](`(s => { s.value = 'failed'; s.dispatchEvent(new Event('change')); })(document.getElementById('state-filter'))`))
		b.waitFor(t, `(r => r.length === 1 && r[0] === `+js(failedID)+`)(`+rowIDs+`)`)
		b.click(t, `#reset-filters`)
		b.waitFor(t, allRows)
	})

	t.Run("the end reason filter keeps only calls that ended that way", func(t *testing.T) {
		b.do(t, chromedp.Evaluate[chromedp.Void](`(s => { s.value = 'busy'; s.dispatchEvent(new Event('change')); })(document.getElementById('end-reason-filter'))`))
		b.waitFor(t, `(r => r.length === 1 && r[0] === `+js(failedID)+`)(`+rowIDs+`)`)
		if h := eval[string](t, b, `location.hash`); h != "#/?end_reason=busy" {
			t.Errorf("hash %q, want #/?end_reason=busy", h)
		}
		b.do(t, chromedp.Evaluate[chromedp.Void](`(s => { s.value = 'caller_bye'; s.dispatchEvent(new Event('change')); })(document.getElementById('end-reason-filter'))`))
		b.waitFor(t, `(r => r.length === 2 && r[0] === `+js(legBID)+` && r[1] === `+js(answeredID)+`)(`+rowIDs+`)`)
		b.click(t, `#reset-filters`)
		b.waitFor(t, allRows)
	})

	t.Run("the time range filter keeps calls starting inside it", func(t *testing.T) {
		b.do(t, chromedp.Evaluate[chromedp.Void](`(() => {
			document.getElementById('from-filter').value = '2025-01-14T10:00';
			const to = document.getElementById('to-filter');
			to.value = '2025-01-14T11:00:00';
			to.dispatchEvent(new Event('change'));
		})()`))
		b.waitFor(t, `(r => r.length === 1 && r[0] === `+js(failedID)+`)(`+rowIDs+`)`)
		if h := eval[string](t, b, `location.hash`); !strings.Contains(h, "from=2025-01-14T10%3A00%3A00Z") {
			t.Errorf("hash %q lacks the from time as RFC 3339", h)
		}
		b.click(t, `#reset-filters`)
		b.waitFor(t, allRows)
	})

	t.Run("clicking a row draws the call's ladder", func(t *testing.T) {
		b.click(t, `tr.call-row[data-call-id="`+answeredID+`"]`)
		// The flow opens with the other leg's six messages merged in;
		// this test reads the call's own ten (the choice is remembered,
		// so the other leg opens alone further down).
		b.waitFor(t, `document.querySelectorAll('#ladder svg .sip-arrow').length === 16`)
		b.click(t, `#show-legs`)
		b.waitFor(t, `document.querySelectorAll('#ladder svg .sip-arrow').length === 10`)
		if h := eval[string](t, b, `location.hash`); h != "#/call/"+url.PathEscape(answeredID) && h != "#/call/"+eval[string](t, b, `encodeURIComponent(`+js(answeredID)+`)`) {
			t.Errorf("hash %q is not the call's deep link", h)
		}
		jsonEqual(t, "columns", eval[[]string](t, b, `[...document.querySelectorAll('#ladder .host-label')].map(e => e.textContent)`),
			[]string{"192.0.2.1:5060", "192.0.2.2:5060", "192.0.2.3:5062"})
		jsonEqual(t, "data-index", eval[[]string](t, b, `[...document.querySelectorAll('#ladder .sip-arrow')].map(e => e.dataset.index)`),
			[]string{"0", "1", "2", "3", "4", "5", "6", "7", "8", "9"})
		jsonEqual(t, "labels", eval[[]string](t, b, `[...document.querySelectorAll('#ladder .sip-arrow .label')].map(e => e.textContent)`),
			[]string{"INVITE", "100 Trying", "INVITE", "180 Ringing", "180 Ringing", "200 OK", "200 OK", "ACK", "BYE", "200 OK"})
		jsonEqual(t, "deltas", eval[[]string](t, b, `[...document.querySelectorAll('#ladder .sip-arrow .delta')].map(e => e.textContent)`),
			[]string{"+0.000 s", "+0.005 s", "+0.003 s", "+0.012 s", "+0.001 s", "+2.979 s", "+0.001 s", "+0.122 s", "+61.877 s", "+0.004 s"})
		jsonEqual(t, "first timestamps", eval[[]string](t, b, `[...document.querySelectorAll('#ladder .sip-arrow .ts')].slice(0, 2).map(e => e.textContent)`),
			[]string{"09:30:00.250000", "09:30:00.255000"})
		jsonEqual(t, "colour classes", eval[[]string](t, b, `[0, 1, 5, 7].map(i => document.querySelector('#ladder .sip-arrow[data-index="' + i + '"]').classList[1])`),
			[]string{"req", "r1xx", "r2xx", "req"})

		// Every arrow must start on its source's column and end on its
		// destination's, whatever the drawing code did.
		var want [][2]string
		for _, m := range answered.msgs {
			want = append(want, [2]string{m.Src.String(), m.Dst.String()})
		}
		got := eval[[][2]string](t, b, `(() => {
			const col = {};
			document.querySelectorAll('#ladder .host-label').forEach(e => { col[e.getAttribute('x')] = e.textContent; });
			return [...document.querySelectorAll('#ladder .sip-arrow')].map(g => {
				const from = g.querySelector('line').getAttribute('x1');
				const tip = g.querySelector('polygon').getAttribute('points').split(' ')[0].split(',')[0];
				return [col[from] || 'x=' + from, col[tip] || 'x=' + tip];
			});
		})()`)
		jsonEqual(t, "arrow endpoints", got, want)
	})

	t.Run("clicking an arrow shows the whole message", func(t *testing.T) {
		b.click(t, `#ladder .sip-arrow[data-index="5"]`)
		raw := strings.ReplaceAll(string(answered.msgs[5].Raw), "\r\n", "\n")
		b.waitFor(t, `document.getElementById('message-detail').textContent.includes(`+js(raw)+`)`)
		if sel := eval[[]string](t, b, `[...document.querySelectorAll('#ladder .sip-arrow.selected')].map(e => e.dataset.index)`); !slices.Equal(sel, []string{"5"}) {
			t.Errorf("selected arrows %q, want [5]", sel)
		}
		// The keyboard moves to the next message.
		b.do(t, chromedp.Evaluate[chromedp.Void](`document.getElementById('ladder').dispatchEvent(new KeyboardEvent('keydown', {key: 'ArrowDown'}))`))
		raw = strings.ReplaceAll(string(answered.msgs[6].Raw), "\r\n", "\n")
		b.waitFor(t, `document.getElementById('message-detail').textContent.includes(`+js(raw)+`)`)
		b.screenshot(t, "call-view.png")
	})

	t.Run("the streams table shows RTP quality", func(t *testing.T) {
		rows := eval[[][]string](t, b, `[...document.querySelectorAll('#streams tbody tr')].map(r => [...r.cells].map(c => c.textContent))`)
		jsonEqual(t, "stream rows", rows, [][]string{
			{"caller→callee", "192.0.2.1:40000", "192.0.2.3:50000", "0xDEADBEEF", "g711A", "3000", "100", "3.2 %RTCP 3.1 %", "120.25", "4.50RTCP 0.0", "30.75",
				"12", "3.6 %", "62.5", "96.4", "60.3", "3.40"},
			{"callee→caller", "192.0.2.3:50000", "192.0.2.1:40000", "0x00000042", "g711A", "3100", "0", "0.0 %", "21.00", "0.20", "0.50",
				"0", "0.0 %", "50.0", "—", "93.2", "4.41"},
		})
		jsonEqual(t, "MOS colours", eval[[]string](t, b, `[...document.querySelectorAll('#streams tbody .mos')].map(e => e.classList[2])`),
			[]string{"mos-poor", "mos-good"})
		if title := eval[string](t, b, `document.querySelector('#streams tbody tr').cells[14].title`); !strings.Contains(title, "mean of 6") {
			t.Errorf("RTT cell title %q does not say how many round trips were measured", title)
		}
	})

	t.Run("the quality section charts MOS per interval and lists the DTMF digits", func(t *testing.T) {
		// Only the stream with a timeline gets a chart.
		b.waitFor(t, `document.querySelectorAll('#quality-charts svg.mos-chart').length === 1`)
		if ssrc := eval[string](t, b, `document.querySelector('#quality-charts svg.mos-chart').dataset.ssrc`); ssrc != "0xDEADBEEF" {
			t.Errorf("chart drawn for %q, want 0xDEADBEEF", ssrc)
		}
		chart := `document.querySelector('#quality-charts svg.mos-chart')`
		// One point per interval that had packets due, placed at the
		// interval's start in seconds from the call's start (the stream
		// began 3 s in); the hold interval breaks the line in two.
		jsonEqual(t, "point times", eval[[]string](t, b, `[...`+chart+`.querySelectorAll('.mos-point')].map(e => e.dataset.start)`),
			[]string{"3.000", "13.000", "23.000", "43.000", "53.000"})
		jsonEqual(t, "point MOS", eval[[]string](t, b, `[...`+chart+`.querySelectorAll('.mos-point')].map(e => e.dataset.mos)`),
			[]string{"4.30", "3.80", "2.90", "4.10", "4.35"})
		jsonEqual(t, "point colours", eval[[]string](t, b, `[...`+chart+`.querySelectorAll('.mos-point')].map(e => e.classList[1])`),
			[]string{"good", "fair", "poor", "good", "good"})
		if n := eval[int](t, b, chart+`.querySelectorAll('polyline.mos-line').length`); n != 2 {
			t.Errorf("%d line segments, want 2 (the hold breaks the line)", n)
		}
		if n := eval[int](t, b, chart+`.querySelectorAll('.loss-bar').length`); n != 3 {
			t.Errorf("%d loss bars, want 3 (intervals with loss)", n)
		}
		// The points sit in their bands: the geometry, not only the classes.
		inBand := eval[[]bool](t, b, `(() => {
			const c = `+chart+`;
			const band = (cls) => { const r = c.querySelector('rect.' + cls); const y = +r.getAttribute('y'); return [y, y + +r.getAttribute('height')]; };
			const within = (p, cls) => { const [a, z] = band(cls); const cy = +p.getAttribute('cy'); return cy >= a && cy <= z; };
			const pts = [...c.querySelectorAll('.mos-point')];
			return [within(pts[0], 'band-good'), within(pts[1], 'band-fair'), within(pts[2], 'band-poor'),
				+pts[0].getAttribute('cx') < +pts[1].getAttribute('cx'), +pts[2].getAttribute('cy') > +pts[1].getAttribute('cy')];
		})()`)
		jsonEqual(t, "points in bands, left to right, lower for worse", inBand, []bool{true, true, true, true, true})
		// The heaviest loss has the tallest bar.
		heights := eval[[]float64](t, b, `[...`+chart+`.querySelectorAll('.loss-bar')].map(e => +e.getAttribute('height'))`)
		if len(heights) == 3 && !(heights[1] > heights[0] && heights[0] > heights[2]) {
			t.Errorf("loss bar heights %v do not follow 1.5 %%, 8 %%, 0.2 %%", heights)
		}
		jsonEqual(t, "DTMF on the chart", eval[[]string](t, b, `[...`+chart+`.querySelectorAll('.dtmf-mark text')].map(e => e.textContent)`),
			[]string{"1", "#"})
		jsonEqual(t, "DTMF digits", eval[[]string](t, b, `[...document.querySelectorAll('#dtmf .dtmf-digit')].map(e => e.textContent)`),
			[]string{"1", "#"})
		jsonEqual(t, "DTMF times", eval[[]string](t, b, `[...document.querySelectorAll('#dtmf .dtmf-time')].map(e => e.textContent)`),
			[]string{"+20.500 s", "+21.250 s"})
		if !eval[bool](t, b, `document.getElementById('quality-empty').hidden && document.getElementById('dtmf-empty').hidden`) {
			t.Errorf("a call with a timeline and DTMF says it has none")
		}
		b.do(t, chromedp.ScrollIntoView(chromedp.ID("quality")))
		b.screenshot(t, "quality.png")
	})

	t.Run("the download link returns the call as PCAP", func(t *testing.T) {
		href := eval[string](t, b, `document.getElementById('download-pcap').getAttribute('href')`)
		resp, err := http.Get(srv.URL + href)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "application/vnd.tcpdump.pcap" {
			t.Fatalf("GET %s: %d %s", href, resp.StatusCode, resp.Header.Get("Content-Type"))
		}
		r, err := pcapgo.NewReader(bytes.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for {
			if _, _, err := r.ReadPacketData(); err != nil {
				break
			}
			n++
		}
		if n != len(answered.msgs) {
			t.Errorf("%d packets, want %d", n, len(answered.msgs))
		}
	})

	t.Run("the call header says how the call ended and links its other leg", func(t *testing.T) {
		text := func(id string) string {
			return eval[string](t, b, `(e => e ? e.querySelector('b').textContent : 'missing')(document.getElementById(`+js(id)+`))`)
		}
		for id, want := range map[string]string{
			"end-reason": "Caller hung up", "bye-by": "caller", "reason": "Q.850 16 Normal call clearing",
			"pdd": "20 ms", "ring": "2.980 s", "answer": "3.000 s", "talk": "1m 02s", "user-agent": "Zoiper rv2.10",
		} {
			if got := text(id); got != want {
				t.Errorf("#%s shows %q, want %q", id, got, want)
			}
		}
		if title := eval[string](t, b, `document.getElementById('reason').title`); title != `Q.850;cause=16;text="Normal call clearing"` {
			t.Errorf("reason title %q", title)
		}
		jsonEqual(t, "legs", eval[[]string](t, b, `[...document.querySelectorAll('#call-legs a.leg-link')].map(a => a.textContent)`), []string{legBID})
		b.click(t, `#call-legs a.leg-link`)
		b.waitFor(t, `document.getElementById('call-title').textContent === `+js(legBID)+` && document.querySelectorAll('#ladder .sip-arrow').length === 6`)
		jsonEqual(t, "the other leg links back", eval[[]string](t, b, `[...document.querySelectorAll('#call-legs a.leg-link')].map(a => a.textContent)`), []string{answeredID})
		b.screenshot(t, "call-legs.png")
	})

	t.Run("a deep link opens a call directly", func(t *testing.T) {
		b.do(t, chromedp.Navigate("about:blank"))
		b.do(t, chromedp.Navigate(srv.URL+"/#/call/"+url.PathEscape(failedID)))
		b.waitFor(t, `document.querySelectorAll('#ladder .sip-arrow').length === 3`)
		jsonEqual(t, "labels", eval[[]string](t, b, `[...document.querySelectorAll('#ladder .sip-arrow .label')].map(e => e.textContent)`),
			[]string{"INVITE", "486 Busy Here", "ACK"})
		// The diagnosis comes first, in words, with its finding codes.
		diag := eval[string](t, b, `(p => p.hidden ? '' : p.textContent + ' | ' + p.title)(document.getElementById('call-diagnosis'))`)
		if !strings.Contains(diag, "486 Busy Here") || !strings.Contains(diag, "| busy") {
			t.Errorf("the failed call's diagnosis line is %q, want the 486 in words and the busy finding", diag)
		}
		if c := eval[string](t, b, `document.querySelector('#ladder .sip-arrow[data-index="1"]').classList[1]`); c != "rerr" {
			t.Errorf("486 arrow class %q, want rerr", c)
		}
		if eval[bool](t, b, `document.getElementById('streams-empty').hidden`) {
			t.Errorf("a call without RTP does not say so")
		}
		// The previous call's charts and digits are gone.
		if n := eval[int](t, b, `document.querySelectorAll('#quality-charts svg, #dtmf li').length`); n != 0 {
			t.Errorf("%d charts or digits left from another call", n)
		}
		if !eval[bool](t, b, `!document.getElementById('quality-empty').hidden && !document.getElementById('dtmf-empty').hidden`) {
			t.Errorf("a call without RTP does not say it has no quality timeline or DTMF")
		}
	})

	t.Run("a hostile message is shown as text in the detail panel", func(t *testing.T) {
		b.do(t, chromedp.Navigate(srv.URL+"/#/call/"+url.PathEscape(hostileID)))
		b.waitFor(t, `document.querySelectorAll('#ladder .sip-arrow').length === 1`)
		b.click(t, `#ladder .sip-arrow[data-index="0"]`)
		b.waitFor(t, `document.getElementById('message-detail').textContent.includes('<svg onload=')`)
		if n := eval[int](t, b, `document.querySelectorAll('#message-detail svg, #message-detail img, #call-summary img, #call-timing img, #call-timing script, #call-legs script').length`); n != 0 {
			t.Errorf("%d elements injected", n)
		}
		if ua := eval[string](t, b, `document.getElementById('user-agent').textContent`); !strings.Contains(ua, `<img src=x onerror="window.pwned=4">`) {
			t.Errorf("hostile user agent shown as %q", ua)
		}
		// A leg link is always an in-page route, whatever the Call-ID says.
		if href := eval[string](t, b, `document.querySelector('#call-legs a').getAttribute('href')`); !strings.HasPrefix(href, "#/call/") {
			t.Errorf("leg link %q", href)
		}

		if eval[bool](t, b, `window.pwned !== undefined`) {
			t.Errorf("injected script ran")
		}
	})

	t.Run("an unknown call shows an error", func(t *testing.T) {
		b.do(t, chromedp.Navigate(srv.URL+"/#/call/no-such-call"))
		b.waitFor(t, `!document.getElementById('error').hidden && document.getElementById('error').textContent.includes('No call')`)
	})

	t.Run("the back link returns to the list", func(t *testing.T) {
		b.click(t, `#back-link`)
		b.waitFor(t, allRows+` && document.getElementById('error').hidden`)
	})

	if errs := b.pageErrors(); len(errs) > 0 {
		t.Errorf("the page reported errors:\n%s", strings.Join(errs, "\n"))
	}
}
