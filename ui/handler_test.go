package ui_test

import (
	"bytes"
	"io"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"

	"github.com/sipscope/sipscope/ui"
)

func serve(t *testing.T, method, path string, header http.Header) *http.Response {
	t.Helper()
	req := httptest.NewRequest(method, path, nil)
	for k, v := range header {
		req.Header[k] = v
	}
	rec := httptest.NewRecorder()
	ui.Handler().ServeHTTP(rec, req)
	return rec.Result()
}

func TestHandlerServesThePageAndItsAssets(t *testing.T) {
	tests := []struct {
		name     string
		path     string
		wantType string
		contains string
	}{
		{"the root is the single page", "/", "text/html", `id="call-table"`},
		{"the script is served as JavaScript", "/ui/call.js", "text/javascript", "drawLadder"},
		{"the style sheet is served as CSS", "/ui/style.css", "text/css", ".sip-arrow"},
		{"the icon is served as SVG", "/ui/favicon.svg", "image/svg+xml", "<svg"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp := serve(t, http.MethodGet, tt.path, nil)
			body, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("status %d", resp.StatusCode)
			}
			if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, tt.wantType) {
				t.Errorf("Content-Type %q, want %s", ct, tt.wantType)
			}
			if !strings.Contains(string(body), tt.contains) {
				t.Errorf("body lacks %q", tt.contains)
			}
			if csp := resp.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "script-src 'self'") {
				t.Errorf("Content-Security-Policy %q", csp)
			}
			if resp.Header.Get("ETag") == "" {
				t.Errorf("no ETag")
			}
		})
	}
}

func TestHandlerRefusesWhatIsNotTheUI(t *testing.T) {
	tests := []struct {
		name   string
		method string
		path   string
		status int
	}{
		{"the asset directory is not listed", http.MethodGet, "/ui/", http.StatusNotFound},
		{"an unknown asset is 404", http.MethodGet, "/ui/nothing.js", http.StatusNotFound},
		{"paths outside / and /ui/ are 404", http.MethodGet, "/index.html", http.StatusNotFound},
		{"climbing out of the directory is 404", http.MethodGet, "/ui/../handler.go", http.StatusNotFound},
		{"writing is not allowed", http.MethodPost, "/", http.StatusMethodNotAllowed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if resp := serve(t, tt.method, tt.path, nil); resp.StatusCode != tt.status {
				t.Errorf("%s %s: %d, want %d", tt.method, tt.path, resp.StatusCode, tt.status)
			}
		})
	}
}

func TestHandlerAnswersNotModifiedForAKnownETag(t *testing.T) {
	etag := serve(t, http.MethodGet, "/ui/app.js", nil).Header.Get("ETag")
	resp := serve(t, http.MethodGet, "/ui/app.js", http.Header{"If-None-Match": {etag}})
	if resp.StatusCode != http.StatusNotModified {
		t.Fatalf("status %d, want 304", resp.StatusCode)
	}
}

// The machine running sipscope may have no internet, and the UI must not
// leak call data to third parties: nothing may load from another origin.
func TestStaticFilesReferenceNoOtherOrigin(t *testing.T) {
	external := regexp.MustCompile(`(?i)(src|href|action)\s*=\s*["']?(https?:)?//|url\(\s*["']?(https?:)?//|fetch\(\s*["'\x60]https?:|@import|https?://(?:[a-z0-9-]+\.)+[a-z]{2,}`)
	n := 0
	err := fs.WalkDir(ui.FS(), ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		n++
		b, err := fs.ReadFile(ui.FS(), p)
		if err != nil {
			return err
		}
		// The SVG namespace is an identifier, not a fetch.
		text := strings.ReplaceAll(string(b), "http://www.w3.org/2000/svg", "")
		if m := external.FindString(text); m != "" {
			t.Errorf("%s references another origin: %q", p, m)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if n < 4 {
		t.Fatalf("only %d files embedded", n)
	}
}

// The page loads one script and one style sheet: the files index.html
// lists, joined in its order.
func TestThePageLoadsItsScriptsAndStylesAsOneBundleEach(t *testing.T) {
	page, err := io.ReadAll(serve(t, http.MethodGet, "/", nil).Body)
	if err != nil {
		t.Fatal(err)
	}
	src, err := fs.ReadFile(ui.FS(), "index.html")
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		tag, bundle, ext string
	}{{`<script src="/ui/`, "bundle.js", ".js"}, {`<link rel="stylesheet" href="/ui/`, "bundle.css", ".css"}} {
		if n := strings.Count(string(page), c.tag); n != 1 || !strings.Contains(string(page), c.tag+c.bundle+"?v=") {
			t.Errorf("%d %q tags in the served page, want one of %s", n, c.tag, c.bundle)
		}
		body, err := io.ReadAll(serve(t, http.MethodGet, "/ui/"+c.bundle, nil).Body)
		if err != nil {
			t.Fatal(err)
		}
		// Every file the source page lists is in the bundle, in its order.
		at, listed := 0, 0
		for _, line := range strings.Split(string(src), "\n") {
			if !strings.HasPrefix(line, c.tag) || !strings.Contains(line, c.ext+`"`) {
				continue
			}
			name := strings.TrimPrefix(line, c.tag)
			name = name[:strings.Index(name, `"`)]
			file, err := fs.ReadFile(ui.FS(), name)
			if err != nil {
				t.Fatal(err)
			}
			i := bytes.Index(body[at:], file)
			if i < 0 {
				t.Errorf("%s is not in %s after the files before it", name, c.bundle)
				continue
			}
			at += i + len(file)
			listed++
		}
		if listed < 2 {
			t.Errorf("index.html lists %d %s files", listed, c.ext)
		}
	}
}
