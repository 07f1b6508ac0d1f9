package api_test

import (
	"errors"
	"net/url"
	"testing"

	"github.com/sipscope/sipscope/api"
	"github.com/sipscope/sipscope/storage"
)

func TestParseCallFilterFillsEveryField(t *testing.T) {
	q := url.Values{
		"from": {"2024-03-05T10:00:00+01:00"}, "to": {"2024-03-05T11:00:00.5Z"},
		"from_user": {"alice"}, "to_user": {"bob"}, "call_id": {"x@y"}, "ip": {"::ffff:192.0.2.1"},
		"state": {"cancelled"}, "end_reason": {"no_answer"}, "final_code": {"487"}, "q": {"abc"}, "limit": {"25"}, "offset": {"50"},
		"unknown": {"ignored"},
	}
	f, err := api.ParseCallFilter(q)
	if err != nil {
		t.Fatal(err)
	}
	if got := f.From.Format("2006-01-02T15:04:05.999Z07:00"); got != "2024-03-05T09:00:00Z" {
		t.Errorf("From %s, want 09:00 UTC", got)
	}
	if got := f.To.Format("2006-01-02T15:04:05.999Z07:00"); got != "2024-03-05T11:00:00.5Z" {
		t.Errorf("To %s", got)
	}
	if f.FromUser != "alice" || f.ToUser != "bob" || f.CallID != "x@y" || f.Query != "abc" ||
		f.State != "cancelled" || f.EndReason != "no_answer" || f.FinalCode != 487 || f.Limit != 25 || f.Offset != 50 {
		t.Errorf("filter %+v", f)
	}
	if f.IP.String() != "192.0.2.1" {
		t.Errorf("IP %s: an IPv4-mapped address must match the IPv4 one", f.IP)
	}
}

// FuzzParseCallFilter: any query string either gives a filter within the
// documented bounds or an error wrapping ErrInvalidParam; never a panic.
func FuzzParseCallFilter(f *testing.F) {
	for _, s := range []string{
		"", "state=failed&limit=10", "from=2024-01-01T00:00:00Z&to=2023-01-01T00:00:00Z",
		"ip=fe80::1%25eth0", "final_code=%2B200", "limit=1e3", "offset=99999999999999999999",
		"q=%00%FF", "from=2024-02-30T00:00:00Z", "end_reason=busy", "end_reason=BUSY",
		"q=%zz", "q='; DROP TABLE calls; --", "from_user=%5C%27",
		"ip=10.0.0.0/8", "ip=2001:db8::/33", "from_user=sip:*@x", "to_user=%2B49*", "final_class=4xx", "finding=one_way_audio",
		"min_duration=1&max_duration=2", "min_mos=1e-300", "partial=1&has_rtp=false", "sort=mos&order=asc",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		q, err := url.ParseQuery(raw)
		if err != nil {
			return
		}
		flt, err := api.ParseCallFilter(q)
		if err != nil {
			if !errors.Is(err, api.ErrInvalidParam) {
				t.Fatalf("error %v does not wrap ErrInvalidParam", err)
			}
			return
		}
		if flt.Limit < 0 || flt.Limit > storage.MaxLimit || flt.Offset < 0 {
			t.Fatalf("paging out of bounds: %+v", flt)
		}
		if len(flt.FromUser) > 256 || len(flt.ToUser) > 256 || len(flt.Query) > 256 || len(flt.CallID) > 1024 {
			t.Fatalf("oversized text accepted: %d %d %d %d", len(flt.FromUser), len(flt.ToUser), len(flt.Query), len(flt.CallID))
		}
		if flt.FinalClass < 0 || flt.FinalClass > 6 || len(flt.Finding) > 64 || flt.MinMOS < 0 || flt.MaxMOS > 5 ||
			flt.MinDurationMs < 0 || (flt.MaxDurationMs != 0 && flt.MinDurationMs > flt.MaxDurationMs) ||
			(flt.MaxMOS != 0 && flt.MinMOS > flt.MaxMOS) {
			t.Fatalf("extension out of bounds: %+v", flt)
		}
		if flt.IPPrefix.IsValid() && flt.IP.IsValid() {
			t.Fatalf("both an address and a prefix: %+v", flt)
		}
		if flt.FinalCode != 0 && (flt.FinalCode < 100 || flt.FinalCode > 699) {
			t.Fatalf("final code %d", flt.FinalCode)
		}
		if !flt.From.IsZero() && !flt.To.IsZero() && !flt.To.After(flt.From) {
			t.Fatalf("empty range accepted: %+v", flt)
		}
		switch flt.State {
		case "", "answered", "failed", "cancelled", "no_final":
		default:
			t.Fatalf("state %q", flt.State)
		}
		switch flt.EndReason {
		case "", "caller_bye", "callee_bye", "no_bye", "busy", "no_answer", "cancelled", "rejected", "auth_failed", "in_progress", "no_final":
		default:
			t.Fatalf("end reason %q", flt.EndReason)
		}
		if flt.IP.IsValid() && (flt.IP.Is4In6() || flt.IP.Zone() != "") {
			t.Fatalf("IP %s not normalised", flt.IP)
		}
	})
}
