package ui_test

import (
	"encoding/json"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/sipscope/sipscope/api"
	"github.com/sipscope/sipscope/storage"
	"github.com/sipscope/sipscope/ui"
)

// humanBytesWant is what the page should show for n bytes: decimal
// units, three significant digits. A value exactly half way between two
// roundings (JavaScript's toFixed rounds those up, Go's formatting to
// even) is given both ways.
func humanBytesWant(n int64) []string {
	if n < 1000 {
		return []string{strconv.FormatInt(n, 10) + " B"}
	}
	units := []string{"kB", "MB", "GB", "TB", "PB"}
	v, u := float64(n), -1
	for v >= 1000 && u < len(units)-1 {
		v /= 1000
		u++
	}
	digits := 0
	switch {
	case v < 10:
		digits = 2
	case v < 100:
		digits = 1
	}
	out := []string{strconv.FormatFloat(v, 'f', digits, 64) + " " + units[u]}
	scaled := v * math.Pow(10, float64(digits))
	if math.Abs(scaled-math.Floor(scaled)-0.5) < 1e-9 {
		out = append(out, strconv.FormatFloat(math.Ceil(scaled)/math.Pow(10, float64(digits)), 'f', digits, 64)+" "+units[u])
	}
	return out
}

// TestDiskUseTableShowsTheStatusFigures: the admin page's disk table shows
// what GET /api/v1/status reports under "store", table by table, from a
// real retention round over the embedded store: the bytes of each table
// (exactly, in data-bytes, and in readable units), their total and the
// retention_max_gb bound, on a server that captures nothing live. Without
// figures the page says they are not measured yet.
func TestDiskUseTableShowsTheStatusFigures(t *testing.T) {
	st := openStore(t, fixtureCalls())
	ret, err := storage.NewRetainer(st, storage.RetentionPolicy{MaxBytes: 2e9}, 0, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ret.Once(t.Context(), time.Now()); err != nil {
		t.Fatal(err)
	}
	if len(ret.Status().TableBytes) < 3 {
		t.Fatalf("the retention round measured %d tables, want the store's data tables", len(ret.Status().TableBytes))
	}
	// The figures are the status's "store" key, as serve reports them
	// whether or not it captures live: this server captures nothing.
	srv := httptest.NewServer(api.New(api.Config{UI: ui.Handler(), StoreStatus: func() any { return ret.Status() }}, st, nil).Handler())
	t.Cleanup(srv.Close)
	bare := httptest.NewServer(api.New(api.Config{UI: ui.Handler()}, st, nil).Handler())
	t.Cleanup(bare.Close)
	b := startBrowser(t)

	t.Run("each table's size, the total and the bound are the status API's", func(t *testing.T) {
		resp, err := http.Get(srv.URL + "/api/v1/status")
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		var got struct {
			Store storage.RetentionStatus `json:"store"`
		}
		if err := json.Unmarshal(body, &got); err != nil {
			t.Fatalf("%v: %s", err, body)
		}
		r := got.Store
		names := make([]string, 0, len(r.TableBytes))
		var sum int64
		for name, n := range r.TableBytes {
			names = append(names, name)
			sum += n
		}
		if sum != r.Bytes || r.MaxBytes != 2e9 {
			t.Fatalf("status: tables sum to %d, bytes %d, max_bytes %d", sum, r.Bytes, r.MaxBytes)
		}
		slices.SortFunc(names, func(a, b string) int {
			if r.TableBytes[a] != r.TableBytes[b] {
				return int(r.TableBytes[b] - r.TableBytes[a])
			}
			return strings.Compare(a, b)
		})

		b.do(t, chromedp.Navigate(srv.URL+"/#/admin"))
		b.waitFor(t, `!document.getElementById('disk-table').hidden && document.querySelectorAll('#disk-table tbody tr').length === `+strconv.Itoa(len(names)))
		rows := eval[[][]string](t, b, `[...document.querySelectorAll('#disk-table tr[data-bytes]')].map(r => [r.cells[0].textContent, r.dataset.bytes, r.cells[1].textContent, r.cells[2].textContent])`)
		type line struct {
			label string
			bytes int64
		}
		var want []line
		for _, name := range names {
			want = append(want, line{name, r.TableBytes[name]})
		}
		want = append(want, line{"Total", r.Bytes}, line{"Bound (retention_max_gb)", r.MaxBytes})
		if len(rows) != len(want) {
			t.Fatalf("%d rows %q, want %d", len(rows), rows, len(want))
		}
		for i, w := range want {
			g := rows[i]
			if g[0] != w.label || g[1] != strconv.FormatInt(w.bytes, 10) || !slices.Contains(humanBytesWant(w.bytes), g[2]) {
				t.Errorf("row %d: %q, want %s of %d bytes shown as %q", i, g, w.label, w.bytes, humanBytesWant(w.bytes))
			}
		}
		if used := rows[len(rows)-1][3]; used != strconv.FormatFloat(100*float64(r.Bytes)/float64(r.MaxBytes), 'f', 1, 64)+" % used" {
			t.Errorf("the bound row says %q", used)
		}
		if when := eval[string](t, b, `document.getElementById('disk-when').textContent`); !strings.Contains(when, strings.Replace(r.LastRun[:19], "T", " ", 1)) {
			t.Errorf("the table is dated %q, the round ran at %s", when, r.LastRun)
		}
		callShot(t, b, "admin-disk", true)
		runAxeInBothThemes(b.ctx, t)
	})

	t.Run("without retention figures the page says they are not measured", func(t *testing.T) {
		b.do(t, chromedp.Navigate("about:blank"), chromedp.Navigate(bare.URL+"/#/admin"))
		b.waitFor(t, `document.getElementById('disk-note').textContent.startsWith('Not measured')`)
		if !eval[bool](t, b, `document.getElementById('disk-table').hidden`) {
			t.Errorf("a table or header figure shown without figures")
		}
	})

	if errs := b.pageErrors(); len(errs) > 0 {
		t.Errorf("the page reported errors:\n%s", strings.Join(errs, "\n"))
	}
}
