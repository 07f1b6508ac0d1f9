package api_test

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"

	"github.com/sipscope/sipscope/api"
	"github.com/sipscope/sipscope/storage"
)

// BenchmarkWritePCAP measures exporting one 7-message call.
func BenchmarkWritePCAP(b *testing.B) {
	msgs := fixtures()[0].msgs
	size := 0
	for _, m := range msgs {
		size += len(m.Raw)
	}
	b.SetBytes(int64(size))
	b.ReportAllocs()
	for b.Loop() {
		if err := api.WritePCAP(io.Discard, msgs); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkCallDetailJSON measures turning a stored call into its JSON body.
func BenchmarkCallDetailJSON(b *testing.B) {
	f := fixtures()[0]
	d := storage.CallDetail{Call: f.call, Messages: f.msgs, Streams: f.streams}
	var buf bytes.Buffer
	b.ReportAllocs()
	for b.Loop() {
		buf.Reset()
		if err := json.NewEncoder(&buf).Encode(api.NewCallDetailView(d)); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkEndpointsOverEmbeddedStore measures whole requests through the
// handler against the real chDB store holding the three fixture calls.
func BenchmarkEndpointsOverEmbeddedStore(b *testing.B) {
	st := openStore(b, fixtures())
	h := api.New(api.Config{}, st, nil).Handler()
	for _, path := range []string{
		"/api/v1/calls",
		"/api/v1/calls?q=alice&state=answered",
		"/api/v1/calls/" + url.PathEscape(answeredID),
		"/api/v1/calls/" + url.PathEscape(answeredID) + "/pcap",
	} {
		b.Run(path, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				rec := httptest.NewRecorder()
				h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
				if rec.Code != http.StatusOK {
					b.Fatalf("%s: %d %s", path, rec.Code, rec.Body)
				}
			}
		})
	}
}
