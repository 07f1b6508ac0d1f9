package ui

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"io/fs"
	"mime"
	"net/http"
	"path"
	"regexp"
	"strings"
	"time"
)

// static is read-only: go:embed content cannot change at run time.
//
//go:embed static
var static embed.FS

// FS returns the UI's files (index.html, app.js, style.css, ...) rooted at
// the static directory, for callers that want to serve them differently.
func FS() fs.FS {
	sub, err := fs.Sub(static, "static")
	if err != nil {
		// fs.Sub fails only on an invalid directory name, which is a
		// compile-time constant here.
		panic(err)
	}
	return sub
}

// contentSecurityPolicy forbids everything the UI does not need: no inline
// script, no third-party origin. SIP messages are attacker-controlled text;
// even if one slipped into markup it could not run.
const contentSecurityPolicy = "default-src 'self'; script-src 'self'; style-src 'self'; " +
	"img-src 'self' data:; connect-src 'self'; object-src 'none'; base-uri 'none'; " +
	"form-action 'self'; frame-ancestors 'none'"

type asset struct {
	name string
	body []byte
	etag string
	ct   string
}

func newAsset(name string, body []byte, ct string) asset {
	sum := sha256.Sum256(body)
	return asset{name: name, body: body, etag: `"` + hex.EncodeToString(sum[:8]) + `"`, ct: ct}
}

// The page's scripts and style sheets, as index.html lists them one file
// each (readable, and each view's code apart).
var (
	scriptTag = regexp.MustCompile(`(?m)^<script src="/ui/([a-z]+\.js)" defer></script>\n`)
	styleTag  = regexp.MustCompile(`(?m)^<link rel="stylesheet" href="/ui/([a-z]+\.css)">\n`)
)

// bundle serves the page with one script and one style sheet: the files
// index.html lists, joined in its order (the scripts share one global
// scope either way). A cold load then makes two requests instead of a
// dozen, which a browser's six connections per host took in two rounds.
// The single files stay served for whoever asks for them.
func bundle(assets map[string]asset) {
	page := assets["index.html"].body
	join := func(re *regexp.Regexp, name, ct, sep string) {
		var all []byte
		for _, m := range re.FindAllSubmatch(page, -1) {
			all = append(append(all, assets[string(m[1])].body...), sep...)
		}
		if len(all) == 0 {
			return
		}
		a := newAsset(name, all, ct)
		assets[name] = a
		tag := ""
		if ct == jsType {
			tag = `<script src="/ui/` + name + `?v=` + strings.Trim(a.etag, `"`) + `" defer></script>` + "\n"
		} else {
			tag = `<link rel="stylesheet" href="/ui/` + name + `?v=` + strings.Trim(a.etag, `"`) + `">` + "\n"
		}
		first := true
		page = re.ReplaceAllFunc(page, func([]byte) []byte {
			if first {
				first = false
				return []byte(tag)
			}
			return nil
		})
	}
	join(scriptTag, "bundle.js", jsType, "\n;\n")
	join(styleTag, "bundle.css", cssType, "\n")
	assets["index.html"] = newAsset("index.html", page, assets["index.html"].ct)
}

const (
	jsType  = "text/javascript; charset=utf-8"
	cssType = "text/css; charset=utf-8"
)

// Handler serves the UI at full paths: "/" is the single page, "/ui/<file>"
// its assets. Anything else is 404, and directories are never listed.
func Handler() http.Handler {
	files := FS()
	assets := make(map[string]asset)
	_ = fs.WalkDir(files, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		body, err := fs.ReadFile(files, p)
		if err != nil {
			return err
		}
		sum := sha256.Sum256(body)
		ct := mime.TypeByExtension(path.Ext(p))
		if ct == "" {
			ct = http.DetectContentType(body)
		}
		assets[p] = asset{name: p, body: body, etag: `"` + hex.EncodeToString(sum[:8]) + `"`, ct: ct}
		return nil
	})
	bundle(assets)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		var name string
		switch {
		case r.URL.Path == "/":
			name = "index.html"
		case strings.HasPrefix(r.URL.Path, "/ui/"):
			name = strings.TrimPrefix(r.URL.Path, "/ui/")
		}
		a, ok := assets[name]
		if !ok {
			http.NotFound(w, r)
			return
		}
		h := w.Header()
		h.Set("Content-Type", a.ct)
		h.Set("ETag", a.etag)
		// Revalidate every time: the UI changes with the binary and an
		// If-None-Match round trip on localhost costs nothing.
		h.Set("Cache-Control", "no-cache")
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("Content-Security-Policy", contentSecurityPolicy)
		http.ServeContent(w, r, a.name, time.Time{}, bytes.NewReader(a.body))
	})
}
