package ui_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/cdproto/input"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"github.com/sipscope/sipscope/correlate"
)

const (
	rowCount  = `document.querySelectorAll('#call-table tr.call-row').length`
	rowStates = `[...document.querySelectorAll('#call-table tr.call-row')].map(r => r.querySelector('[class*="state-"]').textContent)`
	chipKeys  = `[...document.querySelectorAll('#chips .chip')].map(c => c.dataset.key)`
	selected  = `((document.querySelector('#call-table tr.call-row.selected') || {dataset: {}}).dataset.callId || '')`
	listShown = `!document.getElementById('list-view').hidden`
)

// visible is the condition "the element with this id is rendered".
func visible(id string) string {
	return `(e => !!e && e.getClientRects().length > 0)(document.getElementById(` + js(id) + `))`
}

// rowsAre is the condition "the list shows exactly these Call-IDs in order".
func rowsAre(ids ...string) string {
	return `JSON.stringify(` + rowIDs + `) === ` + js(mustJSON(ids))
}

func mustJSON(v []string) string {
	b, _ := json.Marshal(v)
	return string(b)
}

// key presses one key as a keyboard does: a keyDown that carries the
// key's text (so that a page cancelling the keydown also cancels the
// character, as in a real browser), then a keyUp. chromedp.KeyEvent sends
// the character as a separate event that no keydown handler can cancel.
func (b *browser) key(t *testing.T, key string) {
	t.Helper()
	k, ok := kb.Keys[[]rune(key)[0]]
	if !ok {
		t.Fatalf("no key %q", key)
	}
	down := input.DispatchKeyEventParams{Type: input.DispatchKeyEventTypeKeyDown, Key: k.Key, Code: k.Code,
		WindowsVirtualKeyCode: k.Windows, NativeVirtualKeyCode: k.Native}
	if k.Print || key == kb.Enter {
		down.Text, down.UnmodifiedText = k.Text, k.Unmodified
	}
	up := down
	up.Type, up.Text, up.UnmodifiedText = input.DispatchKeyEventTypeKeyUp, "", ""
	ctx, cancel := context.WithTimeout(b.ctx, 10*time.Second)
	defer cancel()
	for _, ev := range []input.DispatchKeyEventParams{down, up} {
		if _, err := chromedp.Call(ctx, input.DispatchKeyEvent, ev); err != nil {
			t.Fatalf("key %q: %v", key, err)
		}
	}
}

// TestCallListShellInBrowser drives the page shell and the call list in
// headless Chromium against the real API over the real embedded store
// (fixture calls plus the imported sngrep__aaa.pcap), with users, so that
// every request needs a login.
func TestCallListShellInBrowser(t *testing.T) {
	s := startListServer(t)
	b := startBrowser(t)
	b.do(t, chromedp.EmulateViewport(1280, 800))

	t.Run("a page opened without a session asks to log in and keeps the address", func(t *testing.T) {
		b.do(t, chromedp.Navigate(s.url+"/#/?state=failed"))
		b.waitFor(t, `!document.getElementById('login-view').hidden`)
		if h := eval[string](t, b, `location.hash`); h != "#/login?next="+url.QueryEscape("#/?state=failed") {
			t.Errorf("hash %q does not remember the page asked for", h)
		}
		if eval[bool](t, b, `document.getElementById('user-menu').hidden === false`) {
			t.Errorf("the user menu shows while nobody is logged in")
		}
		runAxe(b.ctx, t)
		b.shot(t, "login.png")
	})

	t.Run("a wrong password is refused with a message", func(t *testing.T) {
		b.do(t,
			chromedp.SetValue(chromedp.ID("login-user"), "vera"),
			chromedp.SetValue(chromedp.ID("login-password"), "not the password"),
			chromedp.Click(chromedp.ID("login-submit")))
		b.waitFor(t, visible("login-error")+` && document.getElementById('login-error').textContent.includes('Wrong user name or password')`)
	})

	t.Run("a viewer sees the calls but neither the admin entry nor the PCAP export", func(t *testing.T) {
		b.login(t, "vera")
		b.waitFor(t, `location.hash === '#/?state=failed' && `+rowCount+` > 0`)
		if states := eval[[]string](t, b, rowStates); slices.ContainsFunc(states, func(s string) bool { return s != "Failed" }) {
			t.Errorf("after login the remembered filter is lost: states %q", states)
		}
		if r := eval[string](t, b, `document.getElementById('user-role').textContent`); r != "viewer" {
			t.Errorf("role shown %q, want viewer", r)
		}
		b.click(t, `#user-button`)
		b.waitFor(t, visible("logout"))
		if eval[bool](t, b, visible("admin-link")) {
			t.Errorf("a viewer sees the Admin entry")
		}
		if eval[bool](t, b, visible("export-pcap")) {
			t.Errorf("a viewer sees the PCAP export")
		}
		b.key(t, kb.Escape)
		b.waitFor(t, `document.getElementById('user-panel').hidden`)
		b.do(t, chromedp.Navigate(s.url+"/#/admin"))
		b.waitFor(t, `!document.getElementById('error').hidden && document.getElementById('error').textContent.includes('Only an admin')`)
		b.logout(t)
	})

	t.Run("an operator may export PCAP but not administer", func(t *testing.T) {
		b.do(t, chromedp.Navigate(s.url+"/#/login"))
		b.login(t, "otto")
		b.waitFor(t, listShown+` && `+rowCount+` > 0 && `+visible("export-pcap"))
		if eval[bool](t, b, `document.getElementById('admin-link').hidden === false`) {
			t.Errorf("an operator has the Admin entry")
		}
		// The export link is the current search as a PCAP, fetched with
		// the operator's session.
		ctx, cancel := context.WithTimeout(b.ctx, 20*time.Second)
		got, err := chromedp.Run(ctx, chromedp.Evaluate[string](`fetch(document.getElementById('export-pcap').getAttribute('href')).then(r => r.status + ' ' + r.headers.get('Content-Type'))`, chromedp.EvalAwaitPromise))
		cancel()
		if err != nil || got != "200 application/vnd.tcpdump.pcap" {
			t.Errorf("export answered %q, %v", got, err)
		}
		b.logout(t)
	})

	var token string
	t.Run("an admin adds a user, gives it a token shown once, revokes it and deletes the user", func(t *testing.T) {
		b.login(t, "ada")
		b.click(t, `#user-button`)
		b.waitFor(t, visible("admin-link"))
		b.click(t, `#admin-link`)
		users := `[...document.querySelectorAll('#users-table tbody tr')].map(r => r.dataset.user).sort()`
		b.waitFor(t, `JSON.stringify(`+users+`) === '["ada","otto","vera"]'`)
		runAxe(b.ctx, t)

		b.do(t,
			chromedp.SetValue(chromedp.ID("new-user-name"), "nina"),
			chromedp.SetValue(chromedp.ID("new-user-role"), "viewer"),
			chromedp.SetValue(chromedp.ID("new-user-password"), "another long one"),
			chromedp.Click(chromedp.CSS(`#user-add button[type=submit]`)))
		b.waitFor(t, `JSON.stringify(`+users+`) === '["ada","nina","otto","vera"]'`)
		if role := eval[string](t, b, `document.querySelector('#users-table tr[data-user="nina"] select').value`); role != "viewer" {
			t.Errorf("nina's role %q", role)
		}

		b.waitFor(t, `[...document.getElementById('new-token-user-select').options].some(o => o.value === 'nina')`)
		b.do(t,
			chromedp.SetValue(chromedp.ID("new-token-user-select"), "nina"),
			chromedp.SetValue(chromedp.ID("new-token-name"), "grafana"),
			chromedp.Click(chromedp.CSS(`#token-add button[type=submit]`)))
		b.waitFor(t, visible("new-token")+` && document.querySelectorAll('#tokens-table tbody tr').length === 1`)
		token = eval[string](t, b, `document.getElementById('new-token-value').textContent`)
		if !strings.HasPrefix(token, "ssk_") {
			t.Fatalf("token shown %q", token)
		}
		if who := bearerMe(t, s.url, token); who != 200 {
			t.Errorf("the new token gets %d from /me, want 200", who)
		}
		b.shot(t, "admin.png")
		// The secret is not kept anywhere on the page once left.
		b.do(t, chromedp.Navigate(s.url+"/#/"))
		// A change of the hash alone: the page must have left the admin
		// page before the next one, or both land on #/admin.
		b.waitFor(t, `!document.getElementById('list-view').hidden && document.getElementById('admin-view').hidden`)
		b.do(t, chromedp.Navigate(s.url+"/#/admin"))
		b.waitFor(t, `document.querySelectorAll('#tokens-table tbody tr').length === 1`)
		if eval[bool](t, b, visible("new-token")+` || document.body.textContent.includes(`+js(token)+`)`) {
			t.Errorf("the token's secret is shown again")
		}

		// Revoking and deleting ask twice.
		b.click(t, `#tokens-table tbody tr button.danger`)
		b.waitFor(t, `document.querySelector('#tokens-table tbody tr button.danger.armed') !== null`)
		b.click(t, `#tokens-table tbody tr button.danger.armed`)
		b.waitFor(t, `document.querySelectorAll('#tokens-table tbody tr').length === 0`)
		if who := bearerMe(t, s.url, token); who != 401 {
			t.Errorf("the revoked token gets %d from /me, want 401", who)
		}
		del := `#users-table tr[data-user="nina"] button.danger`
		b.click(t, del)
		b.waitFor(t, `document.querySelector('`+del+`.armed') !== null`)
		b.click(t, del+`.armed`)
		b.waitFor(t, `JSON.stringify(`+users+`) === '["ada","otto","vera"]'`)
	})

	t.Run("searching by caller takes a SIP URI and by callee an E.164 number either way round", func(t *testing.T) {
		b.open(t, s.url, "#/", "ada")
		b.waitFor(t, listShown+` && `+rowCount+` > 5`)
		// Typing searches as it goes: wait for the whole text's search.
		typed := func(q string) string {
			return `location.hash === ` + js("#/?"+q) + ` && document.getElementById('loading').hidden && `
		}
		// Pasted, as such a URI usually is: one input event for the text.
		paste := func(id, text string) {
			b.do(t, chromedp.Evaluate[chromedp.Void](`(f => { f.focus(); f.value = `+js(text)+`; f.dispatchEvent(new Event('input')); })(document.getElementById(`+js(id)+`))`))
		}
		paste("caller-filter", "sip:alice1234@pbx.example.com")
		b.waitFor(t, typed("from_user="+url.QueryEscape("sip:alice1234@pbx.example.com"))+rowsAre(aliceID))
		jsonEqual(t, "chips", eval[[]string](t, b, chipKeys), []string{"from_user"})
		b.click(t, `#reset-filters`)
		b.waitFor(t, `location.hash === '#/' && `+rowCount+` > 5`)

		// Stored as 4940222, searched with '+'.
		b.do(t, chromedp.SendKeys(chromedp.ID("callee-filter"), "+4940222"))
		b.waitFor(t, typed("to_user="+url.QueryEscape("+4940222"))+rowsAre(legBID))
		b.click(t, `#reset-filters`)
		b.waitFor(t, `location.hash === '#/'`)
		// Stored as +4930555123, searched as a tel: URI and as digits.
		paste("callee-filter", "tel:+4930555123")
		b.waitFor(t, typed("to_user="+url.QueryEscape("tel:+4930555123"))+rowsAre(aliceID))
		b.click(t, `#reset-filters`)
		b.waitFor(t, `location.hash === '#/'`)
		b.do(t, chromedp.SendKeys(chromedp.ID("callee-filter"), "4930555123"+kb.Enter))
		b.waitFor(t, typed("to_user=4930555123")+rowsAre(aliceID))
		b.click(t, `#reset-filters`)
		b.waitFor(t, `location.hash === '#/' && `+rowCount+` > 5`)
	})

	t.Run("a filter in the URL shows in the form and as a chip, and its chip removes it", func(t *testing.T) {
		b.do(t, chromedp.Navigate(s.url+"/#/?to_user=%2B4940222&state=answered&min_duration=1"))
		b.waitFor(t, rowsAre(legBID))
		jsonEqual(t, "chips", eval[[]string](t, b, chipKeys), []string{"to_user", "state", "min_duration"})
		jsonEqual(t, "form", eval[[]string](t, b, `[document.getElementById('callee-filter').value, document.getElementById('state-filter').value]`),
			[]string{"+4940222", "answered"})
		// A key the form has no field for still shows, as itself.
		if txt := eval[string](t, b, `document.querySelector('#chips .chip[data-key="min_duration"]').textContent`); !strings.Contains(txt, "min_duration") || !strings.Contains(txt, "1") {
			t.Errorf("min_duration chip reads %q", txt)
		}
		b.click(t, `#chips .chip[data-key="state"] .chip-remove`)
		b.waitFor(t, `location.hash === '#/?to_user=%2B4940222&min_duration=1' && document.getElementById('state-filter').value === ''`)
		jsonEqual(t, "chips", eval[[]string](t, b, chipKeys), []string{"to_user", "min_duration"})
		b.click(t, `#chips .chip[data-key="to_user"] .chip-remove`)
		b.waitFor(t, `location.hash === '#/?min_duration=1' && document.getElementById('callee-filter').value === ''`)
		b.click(t, `#chips .chip[data-key="min_duration"] .chip-remove`)
		b.waitFor(t, `location.hash === '#/' && document.getElementById('chips').hidden && `+rowCount+` > 5`)
	})

	t.Run("a time preset is kept relative in the URL and the page size comes from it too", func(t *testing.T) {
		b.open(t, s.url, "#/", "ada")
		b.waitFor(t, listShown+` && `+rowCount+` > 5`)
		// Every stored call is older than an hour.
		b.do(t, chromedp.Evaluate[chromedp.Void](`(s => { s.value = '1h'; s.dispatchEvent(new Event('change')); })(document.getElementById('range-filter'))`))
		b.waitFor(t, `location.hash === '#/?range=1h' && !document.getElementById('call-empty').hidden && `+rowCount+` === 0`)
		if txt := eval[string](t, b, `document.querySelector('#chips .chip[data-key="range"]').textContent`); !strings.Contains(txt, "last hour") {
			t.Errorf("range chip reads %q", txt)
		}
		b.do(t, chromedp.Navigate(s.url+"/#/?limit=4"))
		b.waitFor(t, rowCount+` === 4 && document.getElementById('page-size').value === '4' && !document.getElementById('next-page').disabled`)
		b.click(t, `#next-page`)
		b.waitFor(t, `location.hash === '#/?limit=4&offset=4' && `+rowCount+` === 4 && document.getElementById('page-info').textContent.startsWith('5–8 of')`)
	})

	t.Run("the header shows a loading indicator while the list is requested", func(t *testing.T) {
		b.waitFor(t, listShown+` && document.getElementById('loading').hidden`)
		// Record every change of the indicator, then reload the list.
		b.do(t, chromedp.Evaluate[chromedp.Void](`(() => {
			window.loadingSeen = [];
			const ind = document.getElementById('loading');
			new MutationObserver(() => window.loadingSeen.push(ind.hidden ? 'hidden' : 'shown')).observe(ind, { attributes: true, attributeFilter: ['hidden'] });
		})()`))
		b.click(t, `#refresh`)
		b.waitFor(t, `window.loadingSeen.includes('shown') && window.loadingSeen[window.loadingSeen.length - 1] === 'hidden' && document.body.getAttribute('aria-busy') === 'false'`)
	})

	t.Run("HTML in a URL filter stays text in the form and the chips", func(t *testing.T) {
		b.do(t, chromedp.Navigate(s.url+"/#/?q="+url.QueryEscape(`<img src=x onerror="window.pwned=7">`)))
		b.waitFor(t, `document.querySelector('#chips .chip[data-key="q"] .chip-value')?.textContent === '<img src=x onerror="window.pwned=7">'`)
		if n := eval[int](t, b, `document.querySelectorAll('#chips img, #filters img').length`); n != 0 || eval[bool](t, b, `window.pwned !== undefined`) {
			t.Errorf("a filter from the URL became markup")
		}
		b.do(t, chromedp.Navigate(s.url+"/#/"))
	})

	t.Run("the count strip comes in a request of its own, which paging and sorting do not repeat", func(t *testing.T) {
		countsAsked := `performance.getEntriesByType('resource').filter((r) => r.name.includes('rows=false')).length`
		// A fresh document, so that its resource timings are this load's.
		b.do(t, chromedp.Navigate(s.url+"/#/?limit=2"), chromedp.Reload())
		b.waitFor(t, rowCount+` === 2 && document.querySelector('#count-strip .count-total') !== null`)
		// The rows' request asks for no counts; the strip's asks for no rows.
		if n := eval[int](t, b, `performance.getEntriesByType('resource').filter((r) => r.name.includes('/api/v1/calls?') && r.name.includes('counts=true') && !r.name.includes('rows=false')).length`); n != 0 {
			t.Errorf("%d list requests also asked for counts", n)
		}
		// Nor for the total, which the strip counts: the pager takes it
		// from there.
		if n := eval[int](t, b, `performance.getEntriesByType('resource').filter((r) => r.name.includes('/api/v1/calls?') && r.name.includes('limit=2') && !r.name.includes('total=false')).length`); n != 0 {
			t.Errorf("%d list requests asked for their total", n)
		}
		total := eval[string](t, b, `document.querySelector('#count-strip .count-total').textContent`)
		b.waitFor(t, `document.getElementById('page-info').textContent === '1–2 of `+strings.TrimSuffix(total, " calls")+`'`)
		first := eval[[]string](t, b, rowIDs)
		asked := eval[int](t, b, countsAsked)
		if asked != 1 {
			t.Errorf("%d count requests for one load, want 1", asked)
		}
		b.click(t, `#next-page`)
		b.waitFor(t, `location.hash === '#/?limit=2&offset=2' && `+rowCount+` === 2 && `+rowIDs+`[0] !== `+js(first[0]))
		b.click(t, `#call-table th[data-column="start"] button`)
		b.waitFor(t, `location.hash === '#/?limit=2&order=asc' && `+rowCount+` === 2`)
		if n := eval[int](t, b, countsAsked); n != asked {
			t.Errorf("paging and sorting asked for the counts again (%d requests, want %d)", n, asked)
		}
		if got := eval[string](t, b, `document.getElementById('count-strip').hidden ? '' : document.querySelector('#count-strip .count-total').textContent`); got != total {
			t.Errorf("count strip after paging %q, want %q", got, total)
		}
		// Refresh asks again; a new filter too.
		b.click(t, `#refresh`)
		b.waitFor(t, countsAsked+` === `+strconv.Itoa(asked+1)+` && document.querySelector('#count-strip .count-total') !== null`)
		b.do(t, chromedp.Navigate(s.url+"/#/"))
	})

	t.Run("the count strip counts the filter's calls per state and code, and a click filters", func(t *testing.T) {
		failed := `document.querySelector('#count-strip .count[data-key="state"][data-value="failed"] .count-n')`
		b.waitFor(t, failed+` !== null`)
		total := eval[int](t, b, `parseInt(document.querySelector('#count-strip .count-total').textContent)`)
		if pageTotal := eval[string](t, b, `document.getElementById('page-info').textContent`); !strings.HasSuffix(pageTotal, " of "+strconv.Itoa(total)) {
			t.Errorf("count strip total %d, pager %q", total, pageTotal)
		}
		// Calls without a final code are counted but are no filter.
		if tag := eval[string](t, b, `document.querySelector('#count-strip .no-code')?.tagName || ''`); tag != "SPAN" {
			t.Errorf("the count of calls without a final code is %q, want a SPAN", tag)
		}
		n := eval[int](t, b, `+`+failed+`.textContent`)
		b.click(t, `#count-strip .count[data-key="state"][data-value="failed"]`)
		b.waitFor(t, `location.hash === '#/?state=failed' && `+rowCount+` === `+strconv.Itoa(n))
		if states := eval[[]string](t, b, rowStates); slices.ContainsFunc(states, func(s string) bool { return s != "Failed" }) {
			t.Errorf("states after the click: %q", states)
		}
		jsonEqual(t, "chips", eval[[]string](t, b, chipKeys), []string{"state"})
		code := `#count-strip .count[data-key="final_code"][data-value="486"]`
		b.waitFor(t, `document.querySelector('`+code+`') !== null`)
		n486 := eval[int](t, b, `+document.querySelector('`+code+` .count-n').textContent`)
		b.click(t, code)
		b.waitFor(t, `location.hash === '#/?state=failed&final_code=486' && `+rowCount+` === `+strconv.Itoa(n486))
		if codes := eval[[]string](t, b, `[...document.querySelectorAll('#call-table tr.call-row td.num')].filter(td => /^\d{3}$/.test(td.textContent)).map(td => td.textContent)`); slices.ContainsFunc(codes, func(s string) bool { return s != "486" }) {
			t.Errorf("final codes after the click: %q", codes)
		}
		if v := eval[string](t, b, `document.getElementById('final-filter').value`); v != "486" {
			t.Errorf("final code field %q", v)
		}
		b.shot(t, "call-list-filtered.png")
	})

	t.Run("j and k move through the list, Enter opens a call, Esc comes back, / searches", func(t *testing.T) {
		b.open(t, s.url, "#/", "ada")
		b.waitFor(t, listShown+` && `+rowCount+` > 5`)
		ids := eval[[]string](t, b, rowIDs)
		b.key(t, "j")
		b.waitFor(t, selected+` === `+js(ids[0]))
		b.key(t, "j")
		b.waitFor(t, selected+` === `+js(ids[1]))
		b.key(t, "k")
		b.waitFor(t, selected+` === `+js(ids[0]))
		b.key(t, "j")
		b.key(t, kb.ArrowDown)
		b.waitFor(t, selected+` === `+js(ids[2])+` && document.activeElement.dataset.callId === `+js(ids[2]))
		b.key(t, kb.Enter)
		b.waitFor(t, `!document.getElementById('call-view').hidden && location.hash === `+js("#/call/")+` + encodeURIComponent(`+js(ids[2])+`)`)
		b.key(t, kb.Escape)
		b.waitFor(t, listShown+` && location.hash === '#/' && `+selected+` === `+js(ids[2]))
		b.key(t, "/")
		b.waitFor(t, `document.activeElement === document.getElementById('search')`)
		// Typed into the search box, j is text, not a move.
		b.key(t, "j")
		b.waitFor(t, `document.getElementById('search').value === 'j'`)
		b.key(t, kb.Escape)
		b.waitFor(t, `document.activeElement !== document.getElementById('search')`)
		b.click(t, `#reset-filters`)
		b.waitFor(t, `location.hash === '#/' && `+rowCount+` > 5`)
	})

	t.Run("a column header sorts through the API and a second click flips the order", func(t *testing.T) {
		mos := `[...document.querySelectorAll('#call-table tr.call-row .mos')].map(e => e.textContent === '—' ? 0 : +e.textContent)`
		// The page settles (rows, then the count strip) before the click.
		b.waitFor(t, listShown+` && document.querySelector('#count-strip .count-total') !== null`)
		b.click(t, `#call-table th[data-column="mos"] button`)
		b.waitFor(t, `location.hash === '#/?sort=mos' && document.querySelector('#call-table th[data-column="mos"]').getAttribute('aria-sort') === 'descending'`)
		got := eval[[]float64](t, b, mos)
		if !slices.IsSortedFunc(got, func(a, b float64) int { return int((b - a) * 100) }) || got[0] != 4.2 {
			t.Errorf("MOS by sort=mos: %v, want descending from 4.2", got)
		}
		b.click(t, `#call-table th[data-column="mos"] button`)
		b.waitFor(t, `location.hash === '#/?sort=mos&order=asc'`)
		b.waitFor(t, `(m => m.length > 5 && m[m.length - 1] === 4.2)(`+mos+`)`)
		b.do(t, chromedp.Navigate(s.url+"/#/"))
	})

	t.Run("the column chooser adds a column and the choice survives a reload", func(t *testing.T) {
		heads := `[...document.querySelectorAll('#call-table thead th')].map(th => th.dataset.column)`
		b.waitFor(t, listShown+` && `+rowCount+` > 5`)
		if eval[bool](t, b, heads+`.includes('call_id')`) {
			t.Fatalf("Call-ID column shown before it was chosen")
		}
		b.click(t, `#column-chooser summary`)
		b.click(t, `#column-options input[data-column="call_id"]`)
		b.waitFor(t, heads+`.includes('call_id') && document.querySelector('#call-table tr.call-row td.callid') !== null`)
		b.do(t, chromedp.Reload())
		b.waitFor(t, listShown+` && `+rowCount+` > 5 && `+heads+`.includes('call_id')`)
		b.click(t, `#column-chooser summary`)
		b.click(t, `#column-options input[data-column="call_id"]`)
		b.waitFor(t, `!`+heads+`.includes('call_id')`)
		// The capture points of a call, in the order they saw it.
		aliceNode := `[...document.querySelectorAll('#call-table thead th')].findIndex(th => th.dataset.column === 'node')`
		chooseNode := func() {
			b.do(t, chromedp.Evaluate[chromedp.Void](`document.getElementById('column-chooser').open = true`))
			b.click(t, `#column-options input[data-column="node"]`)
		}
		chooseNode()
		b.waitFor(t, aliceNode+` >= 0 && document.querySelector('#call-table tr.call-row[data-call-id="`+aliceID+`"]') !== null`)
		if got := eval[string](t, b, `document.querySelector('#call-table tr.call-row[data-call-id="`+aliceID+`"]').children[`+aliceNode+`].textContent`); got != "hep:7/edge-b, eth0" {
			t.Errorf("node cell of %s: %q", aliceID, got)
		}
		chooseNode()
		b.waitFor(t, aliceNode+` < 0`)
		b.do(t, chromedp.Evaluate[chromedp.Void](`document.getElementById('column-chooser').open = false`))
	})

	t.Run("a call stored while the list is open appears at its top without a reload", func(t *testing.T) {
		b.do(t, chromedp.Navigate(s.url+"/#/"))
		b.waitFor(t, listShown+` && `+rowCount+` > 5 && document.getElementById('live-text').textContent === 'Live' && document.querySelector('#count-strip .count-total') !== null`)
		before := eval[int](t, b, `parseInt(document.querySelector('#count-strip .count-total').textContent)`)
		b.do(t, chromedp.Evaluate[chromedp.Void](`window.notReloaded = true`))
		live := makeCall(liveID, "live-caller", "live-callee", correlate.StateAnswered, 200, t0.Add(5*time.Hour), "udp", []step{
			{0, "10.7.0.1:5060", "10.7.0.2:5060", "INVITE", 0, "", 1},
			{time.Second, "10.7.0.2:5060", "10.7.0.1:5060", "INVITE", 200, "OK", 1},
		})
		live.call.EndReason = correlate.EndInProgress
		s.storeLive(t, live)
		b.waitFor(t, rowIDs+`[0] === `+js(liveID)+` && window.notReloaded === true`)
		if n := eval[int](t, b, `parseInt(document.querySelector('#count-strip .count-total').textContent)`); n != before+1 {
			t.Errorf("count strip total %d after a live call, want %d", n, before+1)
		}
		b.shot(t, "call-list-live.png")

		// Paused, the feed is closed; resuming reloads and shows what came.
		b.click(t, `#live-toggle`)
		b.waitFor(t, `document.getElementById('live-text').textContent === 'Paused' && document.getElementById('live-toggle').getAttribute('aria-pressed') === 'true'`)
		second := live
		second.call.CallID, second.call.Start = "live-2@pbx.example.com", t0.Add(6*time.Hour)
		for i := range second.msgs {
			second.msgs[i].CallID = second.call.CallID
		}
		s.storeLive(t, second)
		b.click(t, `#live-toggle`)
		b.waitFor(t, rowIDs+`[0] === "live-2@pbx.example.com" && document.getElementById('live-text').textContent === 'Live'`)
	})

	t.Run("the browser zone option shows every time in the browser's zone", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(b.ctx, 10*time.Second)
		_, err := chromedp.Call(ctx, emulation.SetTimezoneOverride, emulation.SetTimezoneOverrideParams{TimezoneID: "Europe/Berlin"})
		cancel()
		if err != nil {
			t.Fatal(err)
		}
		b.do(t, chromedp.Navigate(s.url+"/#/?from=2025-01-14T09:00:00Z"))
		startOf := `document.querySelector('tr.call-row[data-call-id=` + js(answeredID) + `]')?.cells[0].textContent`
		b.waitFor(t, startOf+` === '2025-01-14 09:30:00'`)
		b.click(t, `#user-button`)
		b.click(t, `#tz-browser`)
		// Berlin is UTC+1 in January.
		b.waitFor(t, startOf+` === '2025-01-14 10:30:00' && document.getElementById('tz-note').textContent === 'All times Europe/Berlin'`)
		if v := eval[string](t, b, `document.getElementById('from-filter').value`); !strings.HasPrefix(v, "2025-01-14T10:00") {
			t.Errorf("from field %q in Berlin time, want 2025-01-14T10:00", v)
		}
		// A time typed in the form is read in that zone.
		b.do(t, chromedp.Evaluate[chromedp.Void](`(f => { f.value = '2025-01-14T10:15'; f.dispatchEvent(new Event('change')); })(document.getElementById('from-filter'))`))
		b.waitFor(t, `location.hash === '#/?from=2025-01-14T09%3A15%3A00Z'`)
		b.do(t, chromedp.Reload())
		b.waitFor(t, startOf+` === '2025-01-14 10:30:00'`)
		b.click(t, `#user-button`)
		b.click(t, `#tz-utc`)
		b.waitFor(t, startOf+` === '2025-01-14 09:30:00' && document.getElementById('tz-note').textContent === 'All times UTC'`)
	})

	t.Run("the theme follows the system until the toggle picks one, which is remembered", func(t *testing.T) {
		bg := `getComputedStyle(document.body).backgroundColor`
		b.emulateScheme(t, "dark")
		b.do(t, chromedp.Navigate(s.url+"/#/"))
		b.waitFor(t, listShown+` && `+rowCount+` > 5 && `+bg+` === 'rgb(15, 20, 27)'`)
		// The toggle hears the system's change (a media query listener).
		b.waitFor(t, `document.getElementById('theme-toggle').getAttribute('aria-pressed') === 'true'`)
		runAxe(b.ctx, t)
		b.shot(t, "call-list-dark.png")
		b.click(t, `#theme-toggle`)
		b.waitFor(t, `document.documentElement.dataset.theme === 'light' && `+bg+` === 'rgb(244, 246, 250)'`)
		b.do(t, chromedp.Reload())
		b.waitFor(t, listShown+` && `+rowCount+` > 5 && `+bg+` === 'rgb(244, 246, 250)'`)
		runAxe(b.ctx, t)
		b.shot(t, "call-list.png")
		b.click(t, `#theme-toggle`)
		b.waitFor(t, `document.documentElement.dataset.theme === 'dark' && `+bg+` === 'rgb(15, 20, 27)'`)
		// An explicit dark choice holds under a light system theme too.
		b.emulateScheme(t, "light")
		b.do(t, chromedp.Reload())
		b.waitFor(t, listShown+` && `+bg+` === 'rgb(15, 20, 27)'`)
	})

	t.Run("status colours, 1xx codes and MOS badges keep 4.5:1 contrast in both themes", func(t *testing.T) {
		// Every badge class the list can show, on the table's background.
		b.do(t, chromedp.Evaluate[chromedp.Void](`(() => {
			const box = el('div', { id: 'palette', class: 'table-wrap' });
			box.append(el('span', { class: 'code-1xx' }, '183'), el('span', { class: 'code-2xx' }, '200'),
				el('span', { class: 'code-3xx' }, '302'), el('span', { class: 'code-err' }, '486'),
				mosBadge(4.3), mosBadge(3.8), mosBadge(3.3), mosBadge(2.1), mosBadge(0),
				...Object.keys(stateNames).map(stateBadge),
				...['caller_bye', 'busy', 'rejected', 'in_progress', 'capture_ended'].map(endReasonBadge));
			document.body.prepend(box);
		})()`))
		for _, theme := range []string{"light", "dark"} {
			b.do(t, chromedp.Evaluate[chromedp.Void](`document.documentElement.dataset.theme = `+js(theme)))
			runAxeOn(b.ctx, t, `'#palette'`)
		}
		// The check can fail: light grey on the light panel is refused.
		b.do(t, chromedp.Evaluate[chromedp.Void](`(() => {
			document.documentElement.dataset.theme = 'light';
			const s = el('span', { id: 'too-pale' }, 'too pale');
			s.style.color = '#b8bec9';
			document.getElementById('palette').append(s);
		})()`))
		if bad := axeViolations(b.ctx, t, `'#palette'`); len(bad) != 1 || !strings.Contains(bad[0], "color-contrast") || !strings.Contains(bad[0], "#too-pale") {
			t.Errorf("axe on a pale label found %q, want one color-contrast violation on #too-pale", bad)
		}
		b.do(t, chromedp.Evaluate[chromedp.Void](`document.documentElement.dataset.theme = 'dark'`))
		b.do(t, chromedp.Evaluate[chromedp.Void](`document.getElementById('palette').remove()`))
	})

	t.Run("the admin and login pages pass axe in the dark theme", func(t *testing.T) {
		b.do(t, chromedp.Navigate(s.url+"/#/admin"))
		b.waitFor(t, `document.documentElement.dataset.theme === 'dark' && document.querySelectorAll('#users-table tbody tr').length === 3`)
		runAxe(b.ctx, t)
		b.logout(t)
		runAxe(b.ctx, t)
		b.shot(t, "login-dark.png")
	})

	if errs := expectedPageErrors(b.pageErrors()); len(errs) > 0 {
		t.Errorf("the page reported errors:\n%s", strings.Join(errs, "\n"))
	}
}

// bearerMe is the status GET /api/v1/me answers for an API token.
func bearerMe(t *testing.T, base, token string) int {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, base+"/api/v1/me", nil)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}
