package ui_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/chromedp"
	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"

	"github.com/sipscope/sipscope/alert"
	"github.com/sipscope/sipscope/api"
	"github.com/sipscope/sipscope/gen"
	"github.com/sipscope/sipscope/pipeline"
	"github.com/sipscope/sipscope/storage"
	"github.com/sipscope/sipscope/storage/embedded"
	"github.com/sipscope/sipscope/ui"
)

const viewsPassword = "views-test-password"

// viewsServer is the real API over the real embedded store, seeded from
// captures through the import pipeline, with a viewer and an operator.
type viewsServer struct {
	url    string
	store  *embedded.Store
	events *api.Events
	token  string // the operator's bearer secret, for the test's own API reads
}

// get reads an API resource as the operator.
func (s *viewsServer) get(t *testing.T, path string, v any) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, s.url+"/api/v1"+path, nil)
	req.Header.Set("Authorization", "Bearer "+s.token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %d %s", path, resp.StatusCode, body)
	}
	if err := json.Unmarshal(body, v); err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
}

// viewsScannerSweep writes a SIPVicious-style OPTIONS sweep from
// 203.0.113.9 over 200 extensions of 192.0.2.10, each answered 404, 150 ms
// apart from at: 30 s of capture time, long enough for the scanner rule's
// second check to confirm it.
func viewsScannerSweep(t *testing.T, path string, at time.Time) {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	w := pcapgo.NewWriter(f)
	if err := w.WriteFileHeader(65535, layers.LinkTypeRaw); err != nil {
		t.Fatal(err)
	}
	attacker, pbx := netip.MustParseAddrPort("203.0.113.9:5070"), netip.MustParseAddrPort("192.0.2.10:5060")
	write := func(ts time.Time, src, dst netip.AddrPort, payload string) {
		ip := &layers.IPv4{Version: 4, TTL: 64, Protocol: layers.IPProtocolUDP, SrcIP: src.Addr().AsSlice(), DstIP: dst.Addr().AsSlice()}
		udp := &layers.UDP{SrcPort: layers.UDPPort(src.Port()), DstPort: layers.UDPPort(dst.Port())}
		if err := udp.SetNetworkLayerForChecksum(ip); err != nil {
			t.Fatal(err)
		}
		buf := gopacket.NewSerializeBuffer()
		if err := gopacket.SerializeLayers(buf, gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true}, ip, udp, gopacket.Payload(payload)); err != nil {
			t.Fatal(err)
		}
		b := buf.Bytes()
		if err := w.WritePacket(gopacket.CaptureInfo{Timestamp: ts, CaptureLength: len(b), Length: len(b)}, b); err != nil {
			t.Fatal(err)
		}
	}
	for i := range 200 {
		ts := at.Add(time.Duration(i) * 150 * time.Millisecond)
		user := strconv.Itoa(100 + i)
		write(ts, attacker, pbx, fmt.Sprintf("OPTIONS sip:%s@192.0.2.10 SIP/2.0\r\nVia: SIP/2.0/UDP 203.0.113.9:5070;branch=z9hG4bK-scan%d\r\n"+
			"From: \"sipvicious\"<sip:100@1.1.1.1>;tag=%d\r\nTo: <sip:%s@192.0.2.10>\r\nCall-ID: scan-%d\r\nCSeq: 1 OPTIONS\r\n"+
			"User-Agent: "+viewsHostileScanner+"\r\nContent-Length: 0\r\n\r\n", user, i, i, user, i))
		write(ts.Add(2*time.Millisecond), pbx, attacker, fmt.Sprintf("SIP/2.0 404 Not Found\r\nVia: SIP/2.0/UDP 203.0.113.9:5070;branch=z9hG4bK-scan%d\r\n"+
			"From: \"sipvicious\"<sip:100@1.1.1.1>;tag=%d\r\nTo: <sip:%s@192.0.2.10>;tag=pbx%d\r\nCall-ID: scan-%d\r\nCSeq: 1 OPTIONS\r\n"+
			"Content-Length: 0\r\n\r\n", i, i, user, i, i))
	}
	// A phone whose User-Agent and Contact are HTML registers just after.
	phone, registrar := netip.MustParseAddrPort("198.51.100.66:5060"), netip.MustParseAddrPort("192.0.2.10:5060")
	reg := "REGISTER sip:192.0.2.10 SIP/2.0\r\nVia: SIP/2.0/UDP 198.51.100.66:5060;branch=z9hG4bK-h1\r\n" +
		"From: <sip:mallory@192.0.2.10>;tag=h1\r\nTo: <sip:mallory@192.0.2.10>\r\nCall-ID: hostile-reg-1\r\nCSeq: 1 REGISTER\r\n" +
		"Contact: \"<script>window.pwned=3</script>\" <sip:mallory@198.51.100.66>\r\nExpires: 600\r\n" +
		"User-Agent: " + viewsHostileUA + "\r\nContent-Length: 0\r\n\r\n"
	ok := "SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP 198.51.100.66:5060;branch=z9hG4bK-h1\r\n" +
		"From: <sip:mallory@192.0.2.10>;tag=h1\r\nTo: <sip:mallory@192.0.2.10>;tag=r1\r\nCall-ID: hostile-reg-1\r\nCSeq: 1 REGISTER\r\n" +
		"Contact: <sip:mallory@198.51.100.66>;expires=600\r\nContent-Length: 0\r\n\r\n"
	write(at.Add(time.Minute), phone, registrar, reg)
	write(at.Add(time.Minute+5*time.Millisecond), registrar, phone, ok)
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
}

// SIP text is attacker-controlled: these must reach the page as text.
const (
	viewsHostileScanner = `friendly-scanner<img src=x onerror="window.pwned=1">`
	viewsHostileUA      = `<img src=x onerror="window.pwned=2">`
)

// startViewsServer imports real captures (REGISTERs challenged, accepted
// and refused in sngrep's aaa.pcap; SIPp's RTP-only g711a.pcap; a
// generated capture of 400 scenarios over about two minutes with 2 % RTP
// loss) and a scanner sweep, runs the sweep through the alert engine as
// analyze does and stores what it raised, and serves the API with a live
// event hub.
func startViewsServer(t *testing.T) (*viewsServer, []alert.Alert) {
	t.Helper()
	ctx := context.Background()
	st, err := embedded.Open(ctx, t.TempDir())
	if err != nil {
		t.Fatalf("embedded.Open: %v", err)
	}
	t.Cleanup(func() { _ = st.Close() })

	dir := t.TempDir()
	generated := filepath.Join(dir, "mix.pcap")
	f, err := os.Create(generated)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := gen.Write(f, gen.Config{Calls: 400, Seed: 13, CallDuration: time.Second, LossPct: 2, BurstLen: 2, Codec: gen.CodecMix}); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	sweep := filepath.Join(dir, "scan.pcap")
	viewsScannerSweep(t, sweep, time.Date(2026, 1, 1, 10, 5, 0, 0, time.UTC))
	for _, p := range []string{
		"../testdata/captures/sngrep__aaa.pcap",
		"../testdata/captures/sipp__g711a.pcap",
		generated,
		sweep,
	} {
		if _, err := pipeline.ImportFile(ctx, st, p); err != nil {
			t.Fatalf("import %s: %v", p, err)
		}
	}

	eng, err := alert.New(alert.Config{}.WithDefaults(), alert.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := pipeline.AnalyzeFileContext(ctx, sweep, pipeline.QualityOptions{G711PLC: true}, eng); err != nil {
		t.Fatal(err)
	}
	alerts := eng.Alerts()
	if len(alerts) == 0 {
		t.Fatal("the scanner sweep raised no alert")
	}
	for _, a := range alerts {
		if err := st.WriteAlert(ctx, a); err != nil {
			t.Fatalf("WriteAlert: %v", err)
		}
	}

	hash, err := api.HashPassword(viewsPassword)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range []string{api.RoleViewer, api.RoleOperator} {
		if err := st.PutUser(ctx, storage.User{Name: r, Role: r, PasswordHash: hash}); err != nil {
			t.Fatal(err)
		}
	}
	secret, rec, err := api.NewToken(api.RoleOperator, "views-test")
	if err != nil {
		t.Fatal(err)
	}
	if err := st.PutToken(ctx, rec); err != nil {
		t.Fatal(err)
	}

	events := api.NewEvents(api.EventsConfig{})
	srv := httptest.NewServer(api.New(api.Config{
		UI:     ui.Handler(),
		Events: events,
		// What serve reports while it captures live: the page opens the
		// event stream only then.
		Status: func() any { return map[string]any{"hep_listen": []string{"udp://127.0.0.1:9060"}} },
	}, st, nil).Handler())
	t.Cleanup(srv.Close)
	return &viewsServer{url: srv.URL, store: st, events: events, token: secret}, alerts
}

// login signs the browser in as user (its session and CSRF cookies) from a
// page of the server that runs no script, then leaves it.
func (s *viewsServer) login(t *testing.T, b *browser, user string) {
	t.Helper()
	b.do(t, chromedp.Navigate(s.url+"/ui/favicon.svg"))
	ctx, cancel := context.WithTimeout(b.ctx, 20*time.Second)
	defer cancel()
	status, err := chromedp.Run(ctx, chromedp.Evaluate[int](`fetch('/api/v1/login', {method: 'POST', headers: {'Content-Type': 'application/json'},
		body: JSON.stringify({user: `+js(user)+`, password: `+js(viewsPassword)+`})}).then(r => r.status)`, chromedp.EvalAwaitPromise))
	if err != nil || status != http.StatusOK {
		t.Fatalf("login as %s: %d %v", user, status, err)
	}
	b.do(t, chromedp.Navigate("about:blank"))
}

// viewsShot writes a 1280×800 full-page screenshot to shotDir; dark also
// shows the dark theme.
func viewsShot(t *testing.T, b *browser, name string, dark bool) {
	t.Helper()
	dir := shotDir(t)
	shoot := func(file string) {
		ctx, cancel := context.WithTimeout(b.ctx, 20*time.Second)
		defer cancel()
		png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
		if err != nil {
			t.Fatalf("screenshot: %v", err)
		}
		if err := os.WriteFile(filepath.Join(dir, file), png, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	b.do(t, chromedp.EmulateViewport(1280, 800))
	shoot(name + ".png")
	if dark {
		b.do(t, chromedp.Evaluate[chromedp.Void](`document.documentElement.dataset.theme = 'dark'`))
		shoot(name + "-dark.png")
		b.do(t, chromedp.Evaluate[chromedp.Void](`delete document.documentElement.dataset.theme`))
	}
	b.do(t, chromedp.EmulateViewport(1440, 1000))
}

// viewsNear compares the numbers the page shows with the API's. ClickHouse
// sums in parallel, so two identical queries may differ in the last bit
// of a float: 1e-9 relative is "the same figure".
func viewsNear(t *testing.T, what string, got, want map[string]float64) {
	t.Helper()
	ok := len(got) == len(want)
	for k, w := range want {
		g, found := got[k]
		if !found || math.Abs(g-w) > 1e-9*math.Max(1, math.Abs(w)) {
			ok = false
		}
	}
	if !ok {
		jsonEqual(t, what, got, want)
	}
}

// viewsSmallText lists the text in a view drawn smaller than 11 px.
func viewsSmallText(t *testing.T, b *browser, section string) []string {
	t.Helper()
	return eval[[]string](t, b, `[...document.querySelectorAll('#`+section+` *')]
		.filter(e => e.getClientRects().length && [...e.childNodes].some(n => n.nodeType === 3 && n.textContent.trim()))
		.map(e => [e, parseFloat(getComputedStyle(e).fontSize) * (e instanceof SVGGraphicsElement ? e.getScreenCTM().a : 1)])
		.filter(([e, px]) => px < 10.95)
		.map(([e, px]) => e.tagName + ' ' + px.toFixed(1) + 'px ' + e.textContent.slice(0, 40))`)
}

const regRowIDs = `[...document.querySelectorAll('#reg-table tbody tr')].map(r => r.dataset.callId)`

// TestViewsInBrowser drives the registrations, streams, dashboard and
// alerts views in headless Chromium against the real API over the real
// embedded store.
func TestViewsInBrowser(t *testing.T) {
	s, alerts := startViewsServer(t)
	b := startBrowser(t)
	s.login(t, b, api.RoleOperator)

	t.Run("the registrations list shows every imported REGISTER exchange newest first", func(t *testing.T) {
		var want api.RegistrationListView
		s.get(t, "/registrations?limit=50", &want)
		if want.Total < 3 {
			t.Fatalf("only %d registrations imported", want.Total)
		}
		b.do(t, chromedp.Navigate(s.url+"/#/registrations"))
		b.waitFor(t, regRowIDs+`.length === `+strconv.Itoa(len(want.Registrations)))
		var ids []string
		for _, r := range want.Registrations {
			ids = append(ids, r.CallID)
		}
		jsonEqual(t, "rows", eval[[]string](t, b, regRowIDs), ids)
		first := want.Registrations[0]
		cells := eval[[]string](t, b, `[...document.querySelector('#reg-table tbody tr').cells].map(c => c.textContent)`)
		if cells[1] != first.AoR || cells[3] != first.SrcIP || cells[6] != strconv.Itoa(first.FinalCode) || cells[7] != strconv.Itoa(first.Attempts) {
			t.Errorf("first row %q does not show %+v", cells, first)
		}
		if info := eval[string](t, b, `document.querySelector('#reg-pager .vw-page-info').textContent`); info != fmt.Sprintf("1–%d of %d", len(want.Registrations), want.Total) {
			t.Errorf("pager says %q", info)
		}
		if cur := eval[string](t, b, `document.querySelector('nav a[aria-current=page]').id`); cur != "nav-registrations" {
			t.Errorf("current nav link %q", cur)
		}
		if small := viewsSmallText(t, b, "registrations-view"); len(small) > 0 {
			t.Errorf("text under 11 px: %q", small)
		}
		runAxeInBothThemes(b.ctx, t)
		viewsShot(t, b, "registrations", true)
	})

	t.Run("the result filter keeps only the failed registrations", func(t *testing.T) {
		var want api.RegistrationListView
		s.get(t, "/registrations?result=failed", &want)
		if want.Total == 0 {
			t.Fatal("aaa.pcap's refused REGISTER was not imported as failed")
		}
		b.do(t, chromedp.Evaluate[chromedp.Void](`(s => { s.value = 'failed'; s.dispatchEvent(new Event('change', {bubbles: true})); })(document.getElementById('reg-result'))`))
		b.waitFor(t, regRowIDs+`.length === `+strconv.Itoa(want.Total)+` && location.hash === '#/registrations?result=failed'`)
		if got := eval[[]string](t, b, `[...document.querySelectorAll('#reg-table tbody tr')].map(r => r.cells[5].textContent)`); slices.ContainsFunc(got, func(s string) bool { return s != "Failed" }) {
			t.Errorf("result column %q", got)
		}
		b.click(t, `#reg-filters button[type=reset]`)
		b.waitFor(t, `location.hash === '#/registrations'`)
	})

	t.Run("typing part of an AoR narrows the list", func(t *testing.T) {
		var want api.RegistrationListView
		s.get(t, "/registrations?aor=alice1003", &want)
		if want.Total != 1 {
			t.Fatalf("%d registrations of alice1003, want 1", want.Total)
		}
		b.do(t, chromedp.SendKeys(chromedp.CSS(`#reg-aor`), "alice1003"))
		b.waitFor(t, `(r => r.length === 1 && r[0] === `+js(want.Registrations[0].CallID)+`)(`+regRowIDs+`)`)
		if h := eval[string](t, b, `location.hash`); h != "#/registrations?aor=alice1003" {
			t.Errorf("hash %q", h)
		}
	})

	t.Run("Enter on a row opens the registration with its messages as text", func(t *testing.T) {
		var want api.RegistrationDetailView
		id := eval[string](t, b, `document.querySelector('#reg-table tbody tr').dataset.callId`)
		s.get(t, "/registrations/"+url.PathEscape(id), &want)
		b.do(t, chromedp.Focus(chromedp.CSS(`#reg-table tbody tr`)), chromedp.KeyEvent("\r"))
		b.waitFor(t, `document.querySelectorAll('#reg-messages li').length === `+strconv.Itoa(len(want.Messages)))
		var labels, raws []string
		for _, m := range want.Messages {
			if m.IsRequest {
				labels = append(labels, m.Method)
			} else {
				labels = append(labels, strconv.Itoa(m.StatusCode)+" "+m.Reason)
			}
			raws = append(raws, strings.ReplaceAll(m.Raw, "\r\n", "\n"))
		}
		jsonEqual(t, "labels", eval[[]string](t, b, `[...document.querySelectorAll('#reg-messages .vw-msg-label')].map(e => e.textContent)`), labels)
		jsonEqual(t, "raw text", eval[[]string](t, b, `[...document.querySelectorAll('#reg-messages pre')].map(e => e.textContent)`), raws)
		if want.Messages[1].StatusCode != 401 {
			t.Errorf("alice1003's second message is %d, want the 401 challenge", want.Messages[1].StatusCode)
		}
		if title := eval[string](t, b, `document.getElementById('reg-title').textContent`); title != id {
			t.Errorf("title %q, want %q", title, id)
		}
		if small := viewsSmallText(t, b, "registration-view"); len(small) > 0 {
			t.Errorf("text under 11 px: %q", small)
		}
		runAxeInBothThemes(b.ctx, t)
		viewsShot(t, b, "registration", false)
	})

	t.Run("an RTP-only stream is listed as unbound and opens to its statistics", func(t *testing.T) {
		var want api.StreamListView
		s.get(t, "/streams?unbound=true", &want)
		i := slices.IndexFunc(want.Streams, func(x api.StreamView) bool { return x.Src == "10.1.3.143:5000" })
		if i < 0 {
			t.Fatalf("g711a.pcap's stream is not among the unbound ones: %+v", want.Streams)
		}
		g711 := want.Streams[i]
		b.do(t, chromedp.Navigate(s.url+"/#/streams?unbound=true"))
		b.waitFor(t, `document.querySelectorAll('#stream-table tr.stream-row').length === `+strconv.Itoa(len(want.Streams)))
		row := `document.querySelectorAll('#stream-table tr.stream-row')[` + strconv.Itoa(i) + `]`
		cells := eval[[]string](t, b, `[...`+row+`.cells].map(c => c.textContent)`)
		jsonEqual(t, "row", cells[1:8], []string{g711.Src, g711.Dst, g711.SSRC, g711.Payload, strconv.Itoa(g711.Packets), strconv.Itoa(g711.Lost), "0.0 %"})
		if cells[11] != "unbound" {
			t.Errorf("call column %q, want unbound", cells[11])
		}
		b.do(t, chromedp.Focus(chromedp.CSS(`#stream-table tbody tr:nth-child(`+strconv.Itoa(2*i+1)+`)`)), chromedp.KeyEvent("\r"))
		b.waitFor(t, row+`.querySelector('[aria-expanded]').getAttribute('aria-expanded') === 'true' && !`+row+`.nextElementSibling.hidden`)
		stat := func(field string) string {
			return eval[string](t, b, row+`.nextElementSibling.querySelector('[data-field=`+field+`] dd').textContent`)
		}
		if got := stat("packets"); got != strconv.Itoa(g711.Packets) {
			t.Errorf("packets %q, want %d", got, g711.Packets)
		}
		if got, want := stat("delta_ms"), fmt.Sprintf("%.2f / %.2f / %.2f", g711.MinDeltaMs, g711.MeanDeltaMs, g711.MaxDeltaMs); got != want {
			t.Errorf("delta %q, want %q", got, want)
		}
		if got := stat("mos"); got != fmt.Sprintf("%.2f", g711.MOS) {
			t.Errorf("MOS %q, want %.2f", got, g711.MOS)
		}
		if small := viewsSmallText(t, b, "streams-view"); len(small) > 0 {
			t.Errorf("text under 11 px: %q", small)
		}
		runAxeInBothThemes(b.ctx, t)
		viewsShot(t, b, "streams", true)
	})

	t.Run("a stream bound to a call links to the call", func(t *testing.T) {
		var want api.StreamListView
		s.get(t, "/streams?loss_above=0.5&limit=50", &want)
		if want.Total == 0 || want.Streams[0].CallID == "" {
			t.Fatalf("no lossy bound stream to follow: %+v", want.Streams)
		}
		b.do(t, chromedp.Navigate(s.url+"/#/streams?loss_above=0.5"))
		b.waitFor(t, `document.querySelectorAll('#stream-table tr.stream-row').length === `+strconv.Itoa(len(want.Streams)))
		b.click(t, `#stream-table tr.stream-row a.stream-call`)
		b.waitFor(t, `document.getElementById('call-title').textContent === `+js(want.Streams[0].CallID)+` && !document.getElementById('call-view').hidden`)
		if n := eval[int](t, b, `[...document.querySelectorAll('main > section.vw')].filter(s => !s.hidden).length`); n != 0 {
			t.Errorf("%d of these views still shown over the call", n)
		}
	})

	// The dashboard over the generated capture's first minutes: tiles for
	// the whole range, bars per minute, each equal to the KPI API's.
	const dashFrom, dashTo = "2026-01-01T10:00:00Z", "2026-01-01T10:10:00Z"
	t.Run("the dashboard shows the KPI API's figures for the same range", func(t *testing.T) {
		var total, series api.KPIListView
		s.get(t, "/kpis?from="+dashFrom+"&to="+dashTo+"&step=600s", &total)
		s.get(t, "/kpis?from="+dashFrom+"&to="+dashTo+"&step=1m", &series)
		if len(total.Buckets) != 1 || len(series.Buckets) < 2 {
			t.Fatalf("want one whole bucket and several minutes: %d, %d", len(total.Buckets), len(series.Buckets))
		}
		tb := total.Buckets[0]
		if tb.Attempts == 0 || tb.Registrations == 0 || tb.AlertsFired == 0 || tb.MOSGood+tb.MOSFair+tb.MOSPoor == 0 {
			t.Fatalf("the range lacks something to show: %+v", tb)
		}
		b.do(t, chromedp.Navigate(s.url+"/#/dashboard?from="+dashFrom+"&to="+dashTo+"&step=1m"))
		b.waitFor(t, `document.querySelectorAll('#dash-charts svg.kpi-chart').length === 9 && document.querySelector('#dash-tiles [data-kpi=attempts]') !== null`)
		tiles := eval[map[string]float64](t, b, `Object.fromEntries([...document.querySelectorAll('#dash-tiles [data-value]')].map(e => [e.dataset.kpi, +e.dataset.value]))`)
		viewsNear(t, "tiles", tiles, map[string]float64{
			"attempts": float64(tb.Attempts), "asr": tb.ASR, "ner": tb.NER, "acd_s": tb.ACDSeconds, "pdd_p95_ms": tb.PDDP95Ms,
			"mos_good": float64(tb.MOSGood), "mos_fair": float64(tb.MOSFair), "mos_poor": float64(tb.MOSPoor),
			"concurrent_avg": tb.ConcurrentAvg, "registration_success": tb.RegistrationSuccess, "alerts_fired": float64(tb.AlertsFired),
		})
		if v := eval[string](t, b, `document.querySelector('#dash-tiles [data-kpi=asr] .dash-tile-value').textContent`); v != fmt.Sprintf("%.1f %%", 100*tb.ASR) {
			t.Errorf("ASR tile reads %q, want %.1f %%", v, 100*tb.ASR)
		}
		// Every bucket with calls has its bar, with the API's value.
		bars := func(kpi string) map[string]float64 {
			return eval[map[string]float64](t, b, `Object.fromEntries([...document.querySelectorAll('svg.kpi-chart[data-kpi=`+kpi+`] .kpi-bar')].map(e => [e.dataset.start, +e.dataset.value]))`)
		}
		want := map[string]map[string]float64{"attempts": {}, "asr": {}, "pdd_p95_ms": {}, "concurrent_avg": {}}
		for _, k := range series.Buckets {
			if k.Attempts > 0 {
				want["attempts"][k.Start] = float64(k.Attempts)
				want["asr"][k.Start] = k.ASR
			}
			if k.PDDP95Ms > 0 {
				want["pdd_p95_ms"][k.Start] = k.PDDP95Ms
			}
			if k.ConcurrentAvg > 0 {
				want["concurrent_avg"][k.Start] = k.ConcurrentAvg
			}
		}
		for kpi, w := range want {
			viewsNear(t, kpi+" bars", bars(kpi), w)
		}
		// Taller bars for more attempts: the geometry follows the values.
		heights := eval[map[string]float64](t, b, `Object.fromEntries([...document.querySelectorAll('svg.kpi-chart[data-kpi=attempts] .kpi-bar')].map(e => [e.dataset.start, +e.querySelector('rect').getAttribute('height')]))`)
		for _, x := range series.Buckets {
			for _, y := range series.Buckets {
				if x.Attempts > y.Attempts && !(heights[x.Start] > heights[y.Start]) {
					t.Errorf("bar of %s (%d attempts) is not taller than %s's (%d)", x.Start, x.Attempts, y.Start, y.Attempts)
				}
			}
		}
		if small := viewsSmallText(t, b, "dashboard-view"); len(small) > 0 {
			t.Errorf("text under 11 px: %q", small)
		}
		runAxeInBothThemes(b.ctx, t)
		viewsShot(t, b, "dashboard", true)
	})

	t.Run("a preset shows the last 24 hours, empty here", func(t *testing.T) {
		b.click(t, `.dash-presets button[data-range="24h"]`)
		b.waitFor(t, `location.hash === '#/dashboard?range=24h'`+
			` && !document.getElementById('dash-empty').hidden && document.querySelector('.dash-presets [aria-pressed=true]').dataset.range === '24h'`)
		if n := eval[int](t, b, `document.querySelectorAll('#dash-charts .kpi-bar').length`); n != 0 {
			t.Errorf("%d bars in a range without traffic", n)
		}
		if steps := eval[string](t, b, `document.getElementById('dash-range').textContent`); !strings.Contains(steps, "30 min per bar") {
			t.Errorf("range line %q, want 30 min bars over 24 h", steps)
		}
		b.do(t, chromedp.NavigateBack())
		b.waitFor(t, `document.querySelectorAll('svg.kpi-chart[data-kpi=attempts] .kpi-bar').length > 0`)
	})

	t.Run("a bar leads to the calls of its bucket", func(t *testing.T) {
		var series api.KPIListView
		s.get(t, "/kpis?from="+dashFrom+"&to="+dashTo+"&step=1m", &series)
		k := series.Buckets[1]
		bar := `svg.kpi-chart[data-kpi=attempts] .kpi-bar[data-start="` + k.Start + `"]`
		if !eval[bool](t, b, `(a => { a.focus(); return document.activeElement === a; })(document.querySelector(`+js(bar)+`))`) {
			t.Error("a bar cannot take the keyboard focus")
		}
		b.click(t, bar+` rect`)
		start, _ := time.Parse(time.RFC3339, k.Start)
		end := start.Add(time.Minute).Format(time.RFC3339)
		b.waitFor(t, `location.hash === `+js("#/?"+url.Values{"from": {start.Format(time.RFC3339)}, "to": {end}}.Encode()))
		// The call list pages by 50; its total is the bucket's attempts.
		b.waitFor(t, `/ of `+strconv.Itoa(k.Attempts)+`$/.test(document.getElementById('page-info').textContent)`)
	})

	t.Run("grouping by source lists the groups and charts one alone", func(t *testing.T) {
		var groups api.KPIListView
		s.get(t, "/kpis?from="+dashFrom+"&to="+dashTo+"&step=600s&group_by=src_ip", &groups)
		b.do(t, chromedp.Navigate(s.url+"/#/dashboard?from="+dashFrom+"&to="+dashTo+"&step=1m"))
		b.waitFor(t, `document.querySelector('#dash-tiles [data-kpi=attempts]') !== null`)
		b.do(t, chromedp.Evaluate[chromedp.Void](`(s => { s.value = 'src_ip'; s.dispatchEvent(new Event('change')); })(document.getElementById('dash-group-by'))`))
		b.waitFor(t, `document.querySelectorAll('#dash-groups tbody tr').length === `+strconv.Itoa(len(groups.Buckets)+1))
		var names []string
		for _, g := range groups.Buckets {
			names = append(names, g.Group)
		}
		jsonEqual(t, "groups", eval[[]string](t, b, `[...document.querySelectorAll('#dash-groups tbody tr')].slice(1).map(r => r.dataset.group)`), names)
		g := groups.Buckets[0]
		b.do(t, chromedp.Focus(chromedp.CSS(`#dash-groups tbody tr[data-group="`+g.Group+`"]`)), chromedp.KeyEvent("\r"))
		b.waitFor(t, `location.hash.includes('group=') && document.querySelector('#dash-groups tr.selected') !== null && document.querySelector('#dash-groups tr.selected').dataset.group === `+js(g.Group))
		b.waitFor(t, `+document.querySelector('#dash-tiles [data-kpi=attempts]').dataset.value === `+strconv.Itoa(g.Attempts))
		if asr := eval[float64](t, b, `+document.querySelector('#dash-tiles [data-kpi=asr]').dataset.value`); asr != g.ASR {
			t.Errorf("the group's ASR tile %v, want %v", asr, g.ASR)
		}
	})

	alertsByID := map[string]alert.Alert{}
	for _, a := range alerts {
		alertsByID[a.ID] = a
	}
	scan := alerts[slices.IndexFunc(alerts, func(a alert.Alert) bool { return a.Rule == "scanner" })]

	t.Run("a stored alert is listed and counted in the header badge", func(t *testing.T) {
		var want struct {
			Alerts []alert.Alert `json:"alerts"`
			Firing int           `json:"firing"`
		}
		s.get(t, "/alerts", &want)
		b.do(t, chromedp.Navigate(s.url+"/#/alerts"))
		b.waitFor(t, `document.querySelectorAll('#alert-table tbody tr').length === `+strconv.Itoa(len(want.Alerts)))
		jsonEqual(t, "alert rows", eval[[]string](t, b, `[...document.querySelectorAll('#alert-table tbody tr')].map(r => r.dataset.alertId)`),
			func() (ids []string) {
				for _, a := range want.Alerts {
					ids = append(ids, a.ID)
				}
				return
			}())
		row := eval[[]string](t, b, `[...document.querySelector('#alert-table tr[data-alert-id="`+scan.ID+`"]').cells].map(c => c.textContent)`)
		row[6] = eval[string](t, b, `document.querySelector('#alert-table tr[data-alert-id="`+scan.ID+`"] .alert-summary').textContent`)
		if row[0] != scan.State || row[2] != "Scanner" || row[3] != scan.Key || row[6] != scan.Summary {
			t.Errorf("scanner row %q, want %s / Scanner / %s / %s", row, scan.State, scan.Key, scan.Summary)
		}
		if want.Firing == 0 {
			t.Fatalf("no alert firing: %+v", want.Alerts)
		}
		b.waitFor(t, `document.getElementById('alert-badge').textContent === '`+strconv.Itoa(want.Firing)+`' && !document.getElementById('alert-badge').hidden`)
		jsonEqual(t, "the row's evidence links", eval[[]string](t, b, `[...document.querySelectorAll('#alert-table tr[data-alert-id="`+scan.ID+`"] .alert-evidence a')].map(a => a.getAttribute('href'))`),
			[]string{"#/?ip=203.0.113.9", "#/call/" + url.PathEscape(scan.SampleCallIDs[0]), "#/call/" + url.PathEscape(scan.SampleCallIDs[1])})
		if href := eval[string](t, b, `document.getElementById('alert-badge').closest('a').getAttribute('href')`); href != "#/alerts" {
			t.Errorf("the badge links to %q", href)
		}
		if small := viewsSmallText(t, b, "alerts-view"); len(small) > 0 {
			t.Errorf("text under 11 px: %q", small)
		}
		runAxeInBothThemes(b.ctx, t)
		viewsShot(t, b, "alerts", true)
	})

	t.Run("an alert opens with its figures, thresholds, offenders and evidence PCAP", func(t *testing.T) {
		b.do(t, chromedp.Focus(chromedp.CSS(`#alert-table tr[data-alert-id="`+scan.ID+`"]`)), chromedp.KeyEvent("\r"))
		b.waitFor(t, `document.querySelectorAll('#alert-figures tbody tr').length === `+strconv.Itoa(len(scan.Figures)))
		figs := eval[map[string]float64](t, b, `Object.fromEntries([...document.querySelectorAll('#alert-figures tbody tr')].map(r => [r.dataset.name, +r.dataset.value]))`)
		jsonEqual(t, "figures", figs, scan.Figures)
		ths := eval[map[string]float64](t, b, `Object.fromEntries([...document.querySelectorAll('#alert-thresholds tbody tr')].map(r => [r.dataset.name, +r.dataset.value]))`)
		jsonEqual(t, "thresholds", ths, scan.Thresholds)
		off := eval[[][]string](t, b, `[...document.querySelectorAll('#alert-offenders tbody tr')].map(r => [...r.cells].map(c => c.textContent))`)
		if len(off) != len(scan.TopOffenders) || len(off) == 0 || off[0][1] != scan.TopOffenders[0].Value {
			t.Errorf("offenders %q, want %+v", off, scan.TopOffenders)
		}
		if href := eval[string](t, b, `document.querySelector('#alert-offenders a').getAttribute('href')`); href != "#/?ip=203.0.113.9" {
			t.Errorf("the offender links to %q", href)
		}
		jsonEqual(t, "sample calls", eval[[]string](t, b, `[...document.querySelectorAll('#alert-samples a')].map(a => a.getAttribute('href'))`),
			func() (hs []string) {
				for _, c := range scan.SampleCallIDs {
					hs = append(hs, "#/call/"+url.PathEscape(c))
				}
				return
			}())
		if eval[bool](t, b, `document.getElementById('alert-pcap').hidden`) {
			t.Fatal("an operator does not see the PCAP button")
		}
		href := eval[string](t, b, `document.getElementById('alert-pcap').getAttribute('href')`)
		req, _ := http.NewRequest(http.MethodGet, s.url+href, nil)
		req.Header.Set("Authorization", "Bearer "+s.token)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("GET %s: %d", href, resp.StatusCode)
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
		if n == 0 {
			t.Error("the alert's PCAP holds no packet")
		}
		if small := viewsSmallText(t, b, "alert-view"); len(small) > 0 {
			t.Errorf("text under 11 px: %q", small)
		}
		runAxeInBothThemes(b.ctx, t)
		viewsShot(t, b, "alert", true)
	})

	t.Run("a new alert reaches the badge over the live event stream", func(t *testing.T) {
		// The page holds one event stream open.
		deadline := time.Now().Add(15 * time.Second)
		for s.events.Clients() != 1 {
			if time.Now().After(deadline) {
				t.Fatalf("%d event streams open, want the page's one", s.events.Clients())
			}
			time.Sleep(50 * time.Millisecond)
		}
		before := eval[string](t, b, `document.getElementById('alert-badge').textContent`)
		next := scan
		next.ID, next.Key, next.Start, next.End, next.State = "00000000feedbeef", "source 198.51.100.7", scan.Start.Add(time.Minute), time.Time{}, alert.StateFiring
		next.TopOffenders = []alert.Offender{{Kind: "ip", Value: "198.51.100.7", Count: 3}}
		if err := s.store.WriteAlert(context.Background(), next); err != nil {
			t.Fatal(err)
		}
		s.events.Alert(next)
		n, _ := strconv.Atoi(before)
		b.waitFor(t, `document.getElementById('alert-badge').textContent === '`+strconv.Itoa(n+1)+`'`)
	})

	t.Run("HTML inside SIP data is shown as text and never runs", func(t *testing.T) {
		b.do(t, chromedp.Navigate(s.url+"/#/registrations?ip=198.51.100.66"))
		b.waitFor(t, `(r => r.length === 1 && r[0] === 'hostile-reg-1')(`+regRowIDs+`)`)
		if ua := eval[string](t, b, `document.querySelector('#reg-table tbody tr').cells[4].textContent`); ua != viewsHostileUA {
			t.Errorf("user agent shown as %q", ua)
		}
		b.do(t, chromedp.Focus(chromedp.CSS(`#reg-table tbody tr`)), chromedp.KeyEvent("\r"))
		b.waitFor(t, `document.querySelectorAll('#reg-messages pre').length === 2`)
		if raw := eval[string](t, b, `document.querySelector('#reg-messages pre').textContent`); !strings.Contains(raw, "<script>window.pwned=3</script>") {
			t.Errorf("the REGISTER is not shown literally: %q", raw)
		}
		b.do(t, chromedp.Navigate(s.url+"/#/alert/"+scan.ID))
		b.waitFor(t, `document.querySelectorAll('#alert-offenders tbody tr').length > 0`)
		if !eval[bool](t, b, `[...document.querySelectorAll('#alert-offenders td')].some(td => td.textContent === `+js(viewsHostileScanner)+`)`) {
			t.Errorf("the scanner's User-Agent is not among the offenders as text")
		}
		b.do(t, chromedp.Navigate(s.url+"/#/alerts"))
		b.waitFor(t, `document.querySelectorAll('#alert-table tbody tr').length > 0`)
		if n := eval[int](t, b, `document.querySelectorAll('main img, main script').length`); n != 0 {
			t.Errorf("%d elements injected", n)
		}
		if eval[bool](t, b, `window.pwned !== undefined`) {
			t.Errorf("injected script ran")
		}
	})

	t.Run("the registrations and dashboard date fields read and show times in the browser's zone when chosen", func(t *testing.T) {
		zone := func(id string) {
			ctx, cancel := context.WithTimeout(b.ctx, 10*time.Second)
			defer cancel()
			if _, err := chromedp.Call(ctx, emulation.SetTimezoneOverride, emulation.SetTimezoneOverrideParams{TimezoneID: id}); err != nil {
				t.Fatal(err)
			}
		}
		zone("Europe/Berlin")
		b.do(t, chromedp.Navigate(s.url+"/#/registrations?from=2025-01-14T09%3A00%3A00Z"),
			chromedp.Evaluate[chromedp.Void](`localStorage.setItem('sipscope.tz', 'browser')`), chromedp.Reload())
		t.Cleanup(func() {
			b.do(t, chromedp.Evaluate[chromedp.Void](`localStorage.setItem('sipscope.tz', 'utc')`))
			zone("")
		})
		// Berlin is UTC+1 in January.
		regFrom := `document.getElementById('reg-from')`
		b.waitFor(t, regFrom+`.value.startsWith('2025-01-14T10:00') && `+regFrom+`.closest('label').textContent === 'From (Europe/Berlin)'`)
		// A time typed in the form goes to the URL as UTC.
		b.do(t, chromedp.Evaluate[chromedp.Void](`(f => { f.value = '2025-01-14T10:15'; f.dispatchEvent(new Event('change', {bubbles: true})); })(`+regFrom+`)`))
		b.waitFor(t, `location.hash === '#/registrations?from=2025-01-14T09%3A15%3A00Z'`)

		b.do(t, chromedp.Navigate(s.url+"/#/dashboard?from=2025-01-14T09%3A00%3A00Z&to=2025-01-14T12%3A00%3A00Z"))
		b.waitFor(t, `document.getElementById('dash-from').value.startsWith('2025-01-14T10:00') && document.getElementById('dash-to').value.startsWith('2025-01-14T13:00')`)
		if got := eval[string](t, b, `document.getElementById('dash-range').textContent`); !strings.Contains(got, "Europe/Berlin") || strings.Contains(got, "UTC") {
			t.Errorf("dashboard range %q, want Berlin times", got)
		}
		if got := eval[string](t, b, `document.getElementById('dash-from').closest('label').textContent`); got != "From (Europe/Berlin)" {
			t.Errorf("dashboard from label %q", got)
		}
	})

	t.Run("a viewer does not see the alert PCAP button", func(t *testing.T) {
		s.login(t, b, api.RoleViewer)
		b.do(t, chromedp.Navigate(s.url+"/#/alert/"+scan.ID))
		b.waitFor(t, `document.getElementById('alert-summary').textContent === `+js(scan.Summary))
		if !eval[bool](t, b, `document.getElementById('alert-pcap').hidden`) {
			t.Error("a viewer sees the PCAP button")
		}
	})

	// The login page (an image) makes the browser ask for /favicon.ico,
	// which the server does not have; nothing else may fail.
	errs := slices.DeleteFunc(b.pageErrors(), func(e string) bool { return strings.HasSuffix(e, "/favicon.ico") })
	if len(errs) > 0 {
		t.Errorf("the page reported errors:\n%s", strings.Join(errs, "\n"))
	}
}
