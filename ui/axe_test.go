package ui_test

import (
	"context"
	"encoding/json"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// axe-core (ui/testdata/axe, MPL-2.0, see ORIGIN.md there) checks the page
// the browser shows against WCAG 2.x A/AA and axe's best practices. It is
// test-only: it is injected through DevTools, never served by the UI.
var (
	axeOnce sync.Once
	axeJS   string
	axeErr  error
)

func axeSource(t *testing.T) string {
	t.Helper()
	axeOnce.Do(func() {
		var b []byte
		b, axeErr = os.ReadFile("testdata/axe/axe.min.js")
		axeJS = string(b)
	})
	if axeErr != nil {
		t.Fatalf("axe-core is missing (see ui/testdata/axe/ORIGIN.md): %v", axeErr)
	}
	return axeJS
}

// axeViolation is one failed rule with the nodes it failed on.
type axeViolation struct {
	ID     string   `json:"id"`
	Impact string   `json:"impact"`
	Help   string   `json:"help"`
	Nodes  []string `json:"nodes"`
}

// runAxe checks the page shown in ctx (a chromedp tab context) with
// axe-core and fails t on every serious or critical violation, naming the
// rule and the elements. Call it once the view under test has rendered;
// it checks what is visible then (hidden sections are skipped by axe).
func runAxe(ctx context.Context, t *testing.T) {
	t.Helper()
	runAxeOn(ctx, t, "document")
}

// runAxeOn is runAxe limited to the part of the page that the JavaScript
// expression scope selects (an element, a selector string, or document).
func runAxeOn(ctx context.Context, t *testing.T, scope string) {
	t.Helper()
	if bad := axeViolations(ctx, t, scope); len(bad) > 0 {
		t.Errorf("axe found %d serious or critical accessibility violations:\n  %s", len(bad), strings.Join(bad, "\n  "))
	}
}

// axeViolations runs axe-core on scope and returns its serious and
// critical violations, one line per rule ("serious color-contrast: ...")
// followed by the elements.
func axeViolations(ctx context.Context, t *testing.T, scope string) []string {
	t.Helper()
	src := axeSource(t)
	ctx, cancel := context.WithTimeout(ctx, 45*time.Second)
	defer cancel()
	start := time.Now()
	defer func() { t.Logf("axe on %s took %v", scope, time.Since(start).Round(time.Millisecond)) }()
	// Inject once per page: a navigation starts a new page without it.
	present, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`typeof window.axe === 'object'`))
	if err != nil {
		t.Fatalf("axe: %v", err)
	}
	if !present {
		if err := chromedp.Do(ctx, chromedp.Evaluate[chromedp.Void](src)); err != nil {
			t.Fatalf("axe: inject: %v", err)
		}
	}
	raw, err := chromedp.Run(ctx, chromedp.Evaluate[string](`axe.run(`+scope+`, {resultTypes: ['violations']}).then(r =>
		JSON.stringify(r.violations.map(v => ({id: v.id, impact: v.impact || '', help: v.help,
			nodes: v.nodes.map(n => n.target.join(' ') + ' | ' + (n.failureSummary || '').replace(/\s+/g, ' '))}))))`,
		chromedp.EvalAwaitPromise))
	if err != nil {
		t.Fatalf("axe: run: %v", err)
	}
	var vs []axeViolation
	if err := json.Unmarshal([]byte(raw), &vs); err != nil {
		t.Fatalf("axe: result %q: %v", raw, err)
	}
	var bad []string
	for _, v := range vs {
		if v.Impact != "serious" && v.Impact != "critical" {
			continue
		}
		bad = append(bad, v.Impact+" "+v.ID+": "+v.Help+"\n    "+strings.Join(v.Nodes, "\n    "))
	}
	return bad
}

// runAxeInBothThemes runs axe on the page as it is in the light theme and
// again in the dark one, then gives the page back its own theme choice.
func runAxeInBothThemes(ctx context.Context, t *testing.T) {
	t.Helper()
	for _, theme := range []string{"light", "dark"} {
		if _, err := chromedp.Run(ctx, chromedp.Evaluate[chromedp.Void](`document.documentElement.dataset.theme = '`+theme+`'`)); err != nil {
			t.Fatalf("theme %s: %v", theme, err)
		}
		if bad := axeViolations(ctx, t, "document"); len(bad) > 0 {
			t.Errorf("axe found %d serious or critical accessibility violations in the %s theme:\n  %s", len(bad), theme, strings.Join(bad, "\n  "))
		}
	}
	if _, err := chromedp.Run(ctx, chromedp.Evaluate[chromedp.Void](`applyTheme(getPref('theme', ''))`)); err != nil {
		t.Fatalf("theme back: %v", err)
	}
}
