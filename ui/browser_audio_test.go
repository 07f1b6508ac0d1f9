package ui_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/sipscope/sipscope/api"
	"github.com/sipscope/sipscope/gen"
	"github.com/sipscope/sipscope/pipeline"
	"github.com/sipscope/sipscope/storage/embedded"
	"github.com/sipscope/sipscope/ui"
)

// genAudioCapture writes a generated capture of one answered call with
// G.711 RTP both ways and returns its path and truth.
func genAudioCapture(t *testing.T, seed uint64) (string, *gen.Truth) {
	t.Helper()
	file := filepath.Join(t.TempDir(), "call.pcap")
	f, err := os.Create(file)
	if err != nil {
		t.Fatal(err)
	}
	truth, err := gen.Write(f, gen.Config{Calls: 1, Seed: seed, CallDuration: 3 * time.Second,
		Codec: gen.CodecPCMU, Mix: []gen.Scenario{gen.ScenarioAnswered}})
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	if len(truth.Calls) != 1 || truth.Calls[0].State != "answered" || len(truth.Streams) != 2 {
		t.Fatalf("generated %d calls (%+v), %d streams; want one answered call with two", len(truth.Calls), truth.Calls, len(truth.Streams))
	}
	return file, truth
}

// asG729 rewrites the payload type of every RTP packet of a capture to 18
// (G.729, which the audio route does not decode) and writes the result to
// a new file: the call's SDP still offers G.711, its media is G.729.
func asG729(t *testing.T, file string) string {
	t.Helper()
	out := filepath.Join(t.TempDir(), "g729.pcap")
	if _, err := gen.RewritePayloadTypeFile(file, out, 18, 10000); err != nil {
		t.Fatal(err)
	}
	return out
}

// audioError is the JSON error the audio route answers for url, asked
// with the page's session; it fails the test unless the status is want.
func audioError(t *testing.T, b *browser, base, href string, want int) string {
	t.Helper()
	status, body := download(t, b, base, href)
	if status != want {
		t.Fatalf("GET %s: %d, want %d: %.200s", href, status, want, body)
	}
	var e struct {
		Error string `json:"error"`
	}
	if err := json.Unmarshal(body, &e); err != nil || e.Error == "" {
		t.Fatalf("GET %s: no JSON error (%v): %.200s", href, err, body)
	}
	return e.Error
}

// sentence is how the page words an API error: capitalised, with a full stop.
func sentence(s string) string {
	return strings.ToUpper(s[:1]) + s[1:] + "."
}

// TestCallAudioPlaysInTheBrowser proves the call view's audio players by
// playing them: generated G.711 calls imported through the pipeline into
// the embedded store, an operator's players load the server's WAV (its
// duration is the stream's length within one packet) and play it (the
// play position moves); a call whose RTP is G.729 gets the API's refusal
// in words instead of a control, and so does a call whose media was
// stored without payload, once the browser tried it; a viewer gets no
// player, and the audio URL refuses the viewer's session.
func TestCallAudioPlaysInTheBrowser(t *testing.T) {
	st, err := embedded.Open(t.Context(), t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	imp := func(file string, opts pipeline.ImportOptions) {
		t.Helper()
		if _, err := pipeline.ImportFileWith(t.Context(), st, file, opts); err != nil {
			t.Fatal(err)
		}
	}
	g711File, g711 := genAudioCapture(t, 31)
	imp(g711File, pipeline.ImportOptions{})
	g729File, g729 := genAudioCapture(t, 32)
	imp(asG729(t, g729File), pipeline.ImportOptions{})
	headersFile, headers := genAudioCapture(t, 33)
	imp(headersFile, pipeline.ImportOptions{StoreRTP: pipeline.StoreRTPHeaders})

	srv := httptest.NewServer(api.New(api.Config{UI: ui.Handler()}, st, nil).Handler())
	t.Cleanup(srv.Close)
	seedRoles(t, srv.URL)
	b := startBrowser(t)
	login(t, b, srv.URL, "operator")

	audioHref := func(id, dir string) string {
		return "/api/v1/calls/" + url.PathEscape(id) + "/audio?direction=" + dir
	}
	// open shows a call and waits until its streams are listed.
	open := func(t *testing.T, id string) {
		t.Helper()
		b.do(t, chromedp.Navigate("about:blank"))
		b.do(t, chromedp.Navigate(srv.URL+"/#/call/"+url.PathEscape(id)))
		b.waitFor(t, `document.getElementById('call-title').textContent === `+js(id)+
			` && document.querySelectorAll('#streams tbody tr').length === 2`)
	}
	player := func(dir string) string {
		return `document.querySelector('#audio-players figure[data-direction="` + dir + `"] audio')`
	}

	t.Run("an operator's players load the WAV and play it for as long as the stream lasted", func(t *testing.T) {
		call := g711.Calls[0]
		open(t, call.CallID)
		b.waitFor(t, `!document.getElementById('audio-panel').hidden && document.querySelectorAll('#audio-players audio').length === 2`)
		for _, s := range g711.Streams {
			dir := "callee"
			if s.Src.Addr() == call.SrcIP {
				dir = "caller"
			}
			a := player(dir)
			if src := eval[string](t, b, a+`.getAttribute('src')`); src != audioHref(call.CallID, dir) &&
				src != "/api/v1/calls/"+eval[string](t, b, `encodeURIComponent(`+js(call.CallID)+`)`)+"/audio?direction="+dir {
				t.Fatalf("%s player plays %q", dir, src)
			}
			// Nothing is fetched before play (preload none).
			if rs := eval[int](t, b, a+`.readyState`); rs != 0 {
				t.Errorf("%s player has readyState %d before play, want 0 (nothing fetched)", dir, rs)
			}
			b.do(t, chromedp.Evaluate[chromedp.Void](`(a => {
				a.dataset.events = '';
				for (const ev of ['loadedmetadata', 'playing', 'error']) a.addEventListener(ev, () => { a.dataset.events += ev + ' '; });
				a.muted = true;
				a.play().catch((e) => { a.dataset.events += 'rejected:' + e.name + ' '; });
			})(`+a+`)`))
			b.waitFor(t, `/loadedmetadata|error|rejected/.test(`+a+`.dataset.events)`)
			if ev := eval[string](t, b, a+`.dataset.events`); !strings.Contains(ev, "loadedmetadata") {
				t.Fatalf("%s player: events %q, media error %v", dir, ev, eval[any](t, b, `(e => e && [e.code, e.message])(`+a+`.error)`))
			}
			got := eval[float64](t, b, a+`.duration`)
			want := (time.Duration(s.Sent) * 20 * time.Millisecond).Seconds()
			t.Logf("%s player: %v s of audio, the stream sent %d packets (%v s)", dir, got, s.Sent, want)
			if !eval[bool](t, b, `Number.isFinite(`+a+`.duration)`) || got < want-0.02 || got > want+0.02 {
				t.Errorf("%s player lasts %v s; the stream sent %d packets of 20 ms (%v s)", dir, got, s.Sent, want)
			}
			b.waitFor(t, a+`.currentTime > 0.1 && /playing/.test(`+a+`.dataset.events)`)
			if ev := eval[string](t, b, a+`.dataset.events`); strings.Contains(ev, "error") || strings.Contains(ev, "rejected") {
				t.Errorf("%s player: events %q", dir, ev)
			}
			b.do(t, chromedp.Evaluate[chromedp.Void](a+`.pause()`))
		}
		if n := eval[int](t, b, `document.querySelectorAll('#audio-players .audio-refusal').length`); n != 0 {
			t.Errorf("%d refusals next to playable players", n)
		}
	})

	t.Run("a call in a codec the server cannot decode says so instead of showing a player", func(t *testing.T) {
		call := g729.Calls[0]
		open(t, call.CallID)
		b.waitFor(t, `!document.getElementById('audio-panel').hidden && document.querySelectorAll('#audio-players .audio-refusal').length === 2`)
		if n := eval[int](t, b, `document.querySelectorAll('#audio-players audio').length`); n != 0 {
			t.Errorf("%d players for G.729 audio", n)
		}
		for _, dir := range []string{"caller", "callee"} {
			want := sentence(audioError(t, b, srv.URL, audioHref(call.CallID, dir), http.StatusUnsupportedMediaType))
			got := eval[string](t, b, `document.querySelector('#audio-players figure[data-direction="`+dir+`"] .audio-refusal').textContent`)
			if got != want {
				t.Errorf("%s says %q; the API's 415 says %q", dir, got, want)
			}
		}
	})

	t.Run("a player the server refuses is replaced by the server's reason", func(t *testing.T) {
		call := headers.Calls[0]
		open(t, call.CallID)
		b.waitFor(t, `document.querySelectorAll('#audio-players audio').length === 2`)
		b.do(t, chromedp.Evaluate[chromedp.Void](`(a => { a.muted = true; a.play().catch(() => {}); })(`+player("caller")+`)`))
		fig := `document.querySelector('#audio-players figure[data-direction="caller"]')`
		b.waitFor(t, fig+`.querySelector('.audio-refusal') !== null`)
		want := sentence(audioError(t, b, srv.URL, audioHref(call.CallID, "caller"), http.StatusConflict))
		if got := eval[string](t, b, fig+`.querySelector('.audio-refusal').textContent`); got != want || !strings.Contains(got, "store_rtp headers") {
			t.Errorf("the refused player says %q; the API says %q", got, want)
		}
		if n := eval[int](t, b, fig+`.querySelectorAll('audio').length`); n != 0 {
			t.Errorf("the refused player is still shown")
		}
		callShot(t, b, "call-audio-refused", true)
		runAxeInBothThemes(b.ctx, t)
	})

	t.Run("a viewer gets no player and the audio URL refuses the viewer", func(t *testing.T) {
		login(t, b, srv.URL, "viewer")
		call := g711.Calls[0]
		open(t, call.CallID)
		if n := eval[int](t, b, `document.querySelectorAll('#call-view audio, #call-view .audio-refusal').length`); n != 0 {
			t.Errorf("%d audio players or notes for a viewer", n)
		}
		if !eval[bool](t, b, `document.getElementById('audio-panel').hidden`) {
			t.Errorf("the audio panel is shown to a viewer")
		}
		for _, dir := range []string{"caller", "callee", "both"} {
			if status, body := download(t, b, srv.URL, audioHref(call.CallID, dir)); status != http.StatusForbidden {
				t.Errorf("a viewer's %s audio answered %d, want 403: %.100s", dir, status, body)
			}
		}
	})

	// The refused player's two requests (the media element's and the
	// page's asking why) log the 409 it was meant to meet.
	var errs []string
	for _, e := range expectedPageErrors(b.pageErrors()) {
		if !strings.Contains(e, "status of 409") {
			errs = append(errs, e)
		}
	}
	if len(errs) > 0 {
		t.Errorf("the page reported errors:\n%s", strings.Join(errs, "\n"))
	}
}
