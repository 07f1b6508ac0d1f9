package api_test

import (
	"errors"
	"math"
	"net/url"
	"testing"

	"github.com/sipscope/sipscope/api"
	"github.com/sipscope/sipscope/storage"
)

// FuzzParseListFilters: the registration and stream filter parsers take
// any query string without panicking; what they accept is within bounds
// and what they refuse wraps ErrInvalidParam.
func FuzzParseListFilters(f *testing.F) {
	for _, s := range []string{
		"", "result=ok&challenged=1", "aor=%27%3B--", "final_code=403&limit=1000&offset=0",
		"ssrc=0xffffffff", "ssrc=-1", "port=0", "mos_below=NaN", "loss_above=1e309", "unbound=true&call_id=x",
		"from=2024-01-01T00:00:00Z&to=2024-01-01T00:00:00Z", "ip=::ffff:10.0.0.1", "codec=%00",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		q, err := url.ParseQuery(raw)
		if err != nil {
			return
		}
		if r, err := api.ParseRegistrationFilter(q); err != nil {
			if !errors.Is(err, api.ErrInvalidParam) {
				t.Fatalf("registration filter error %v does not wrap ErrInvalidParam", err)
			}
		} else if r.Limit < 0 || r.Limit > storage.MaxLimit || r.Offset < 0 || len(r.AoR) > 256 ||
			(r.FinalCode != 0 && (r.FinalCode < 100 || r.FinalCode > 699)) {
			t.Fatalf("registration filter out of bounds: %+v", r)
		}
		s, err := api.ParseStreamFilter(q)
		if err != nil {
			if !errors.Is(err, api.ErrInvalidParam) {
				t.Fatalf("stream filter error %v does not wrap ErrInvalidParam", err)
			}
			return
		}
		if s.Limit < 0 || s.Limit > storage.MaxLimit || s.Offset < 0 || s.Port < 0 || s.Port > 65535 ||
			math.IsNaN(s.MOSBelow) || math.IsNaN(s.LossAbove) || s.MOSBelow > 5 || s.LossAbove > 100 || s.LossAbove < 0 ||
			(s.Unbound && s.CallID != "") {
			t.Fatalf("stream filter out of bounds: %+v", s)
		}
	})
}
