package ui_test

import (
	"context"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/chromedp"

	"github.com/sipscope/sipscope/api"
	"github.com/sipscope/sipscope/correlate"
	"github.com/sipscope/sipscope/pipeline"
	"github.com/sipscope/sipscope/quality"
	"github.com/sipscope/sipscope/storage"
	"github.com/sipscope/sipscope/storage/embedded"
	"github.com/sipscope/sipscope/ui"
)

// Users of the list tests, created through the store as `sipscope user
// add` does; with users defined the server asks everyone to log in.
var listUsers = map[string]string{ // name -> role
	"vera": api.RoleViewer,
	"otto": api.RoleOperator,
	"ada":  api.RoleAdmin,
}

const listPassword = "correct horse battery"

const (
	aliceID = "alice-e164@pbx.example.com"
	liveID  = "live-1@pbx.example.com"
)

// numberCalls are calls whose parties are written as numbers: a caller
// alice1234 dialling an E.164 number stored with its '+'. With legB of
// fixtureCalls (callee 4940222 stored without '+') they cover both ways
// round of the E.164 matching.
func numberCalls() []callFixture {
	a, b := "10.1.2.3:5060", "10.9.9.9:5060"
	alice := makeCall(aliceID, "alice1234", "+4930555123", correlate.StateAnswered, 200, t0.Add(3*time.Hour), "udp", []step{
		{0, a, b, "INVITE", 0, "", 1},
		{40 * time.Millisecond, b, a, "INVITE", 180, "Ringing", 1},
		{2 * time.Second, b, a, "INVITE", 200, "OK", 1},
		{2010 * time.Millisecond, a, b, "ACK", 0, "", 1},
		{30 * time.Second, b, a, "BYE", 0, "", 2},
		{30010 * time.Millisecond, a, b, "BYE", 200, "OK", 2},
	})
	alice.call.MOS = 4.2
	alice.call.EndReason, alice.call.ByeBy, alice.call.Finished = correlate.EndCalleeBye, correlate.SideCallee, true
	alice.call.PDDMs, alice.call.DurationMs = 40, 28000
	alice.call.UserAgent = "Yealink T46U"
	alice.call.Nodes = []string{"hep:7/edge-b", "eth0"}
	// The store rates a call by its streams.
	alice.streams = []quality.Stream{{SSRC: 0x1234, Src: netip.MustParseAddrPort("10.1.2.3:30000"), Dst: netip.MustParseAddrPort("10.9.9.9:40000"),
		Payload: "g711U", PayloadType: 0, Start: t0.Add(3*time.Hour + 2*time.Second), End: t0.Add(3*time.Hour + 30*time.Second),
		Packets: 1400, Expected: 1400, MinDeltaMs: 19, MeanDeltaMs: 20, MaxDeltaMs: 21, MOS: 4.2, R: 85, CallID: aliceID}}
	return []callFixture{alice}
}

// listServer is the UI and API over an embedded store holding the fixture
// calls, the number calls and the real capture sngrep__aaa.pcap (four
// failed INVITE dialogs), with three users and a live event hub.
type listServer struct {
	url   string
	store *embedded.Store
	hub   *api.Events
}

func startListServer(t *testing.T) *listServer {
	t.Helper()
	calls := append(fixtureCalls(), numberCalls()...)
	st := openStore(t, calls)
	ctx := context.Background()
	capture := filepath.Join("..", "testdata", "captures", "sngrep__aaa.pcap")
	if n, err := pipeline.ImportFile(ctx, st, capture); err != nil || n == 0 {
		t.Fatalf("import %s: %d calls, %v", capture, n, err)
	}
	for name, role := range listUsers {
		hash, err := api.HashPassword(listPassword)
		if err != nil {
			t.Fatal(err)
		}
		if err := st.PutUser(ctx, storage.User{Name: name, Role: role, PasswordHash: hash, Created: time.Now()}); err != nil {
			t.Fatalf("PutUser %s: %v", name, err)
		}
	}
	hub := api.NewEvents(api.EventsConfig{})
	srv := httptest.NewServer(api.New(api.Config{
		UI: ui.Handler(), Events: hub,
		// What serve reports while it captures live: the page follows new
		// calls only then.
		Status:     func() any { return pipeline.LiveStatus{Interfaces: []string{"eth0"}} },
		LoginPerIP: 100,
	}, st, nil).Handler())
	t.Cleanup(srv.Close)
	return &listServer{url: srv.URL, store: st, hub: hub}
}

// storeLive writes a call as the live runner does: into the store, then to
// the event hub once stored.
func (s *listServer) storeLive(t *testing.T, f callFixture) {
	t.Helper()
	b := storage.Batch{Calls: []correlate.Call{f.call}, Messages: f.msgs}
	if err := s.store.Write(context.Background(), b); err != nil {
		t.Fatalf("Write: %v", err)
	}
	s.hub.Publish(b)
}

// login fills the login form as name and waits for the page it returns to.
func (b *browser) login(t *testing.T, name string) {
	t.Helper()
	b.waitFor(t, `!document.getElementById('login-view').hidden`)
	b.do(t,
		chromedp.SetValue(chromedp.ID("login-user"), name),
		chromedp.SetValue(chromedp.ID("login-password"), listPassword),
		chromedp.Click(chromedp.ID("login-submit")))
	b.waitFor(t, `document.getElementById('login-view').hidden && document.getElementById('user-name').textContent === `+js(name))
}

// open navigates to the page at hash, logging in as name first when the
// page is not logged in as name, so that each subtest can start on its own.
func (b *browser) open(t *testing.T, base, hash, name string) {
	t.Helper()
	loggedIn := false
	if u, err := chromedp.Run(b.ctx, chromedp.Evaluate[string](`(typeof currentUser === 'object' && currentUser && currentUser.user) || ''`)); err == nil {
		loggedIn = u == name
	}
	if !loggedIn {
		b.do(t, chromedp.Navigate(base+"/#/login?next="+url.QueryEscape(hash)))
		b.login(t, name)
	}
	b.do(t, chromedp.Navigate(base+"/"+hash))
	b.waitFor(t, `location.hash === `+js(hash)+` && document.querySelectorAll('main > section:not([hidden])').length === 1`)
}

// logout uses the user menu.
func (b *browser) logout(t *testing.T) {
	t.Helper()
	b.click(t, `#user-button`)
	b.click(t, `#logout`)
	b.waitFor(t, `!document.getElementById('login-view').hidden && document.getElementById('user-menu').hidden`)
}

// emulateScheme makes the page see the system colour scheme ("dark",
// "light").
func (b *browser) emulateScheme(t *testing.T, scheme string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 10*time.Second)
	defer cancel()
	if _, err := chromedp.Call(ctx, emulation.SetEmulatedMedia, emulation.SetEmulatedMediaParams{
		Features: []*emulation.MediaFeature{{Name: "prefers-color-scheme", Value: scheme}},
	}); err != nil {
		t.Fatalf("emulate %s: %v", scheme, err)
	}
}

// shot writes a full-page screenshot to shotDir.
func (b *browser) shot(t *testing.T, name string) {
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

// expectedPageErrors drops what the page logs on purpose: the 401 that
// leads to the login page and the 403 a viewer gets on the admin page.
func expectedPageErrors(errs []string) []string {
	var out []string
	for _, e := range errs {
		if strings.Contains(e, "status of 401") || strings.Contains(e, "status of 403") {
			continue
		}
		out = append(out, e)
	}
	return out
}
