package storetest

import (
	"context"
	"errors"
	"net/netip"
	"slices"
	"testing"
	"time"

	"github.com/sipscope/sipscope/correlate"
	"github.com/sipscope/sipscope/quality"
	"github.com/sipscope/sipscope/storage"
)

// ListingStore is what RunListing exercises: the registration and stream
// lists both backends have.
type ListingStore interface {
	Write(ctx context.Context, b storage.Batch) error
	ListRegistrations(ctx context.Context, f storage.RegistrationFilter) (storage.RegistrationPage, error)
	GetRegistration(ctx context.Context, callID string) (storage.RegistrationDetail, error)
	ListStreams(ctx context.Context, f storage.StreamFilter) (storage.StreamPage, error)
	Close() error
}

// RunListing runs the registration and stream list suite on an empty store.
func RunListing(t *testing.T, st ListingStore) {
	ctx := context.Background()
	base := time.Date(2025, 6, 1, 8, 0, 0, 0, time.UTC)
	yes, no := true, false
	regs := []correlate.Registration{
		{CallID: "r1@pbx", AoR: "sip:alice@example.com", Challenged: true, FinalCode: 200, Start: base, End: base.Add(time.Second),
			Messages: 4, SrcIP: netip.MustParseAddr("192.0.2.10"), Contact: "sip:alice@192.0.2.10:5060", Expires: 3600,
			UserAgent: "Yealink T46", Attempts: 2, SucceededAt: base.Add(time.Second)},
		// A refresh on the same Call-ID an hour later.
		{CallID: "r1@pbx", AoR: "sip:alice@example.com", FinalCode: 200, Start: base.Add(time.Hour), End: base.Add(time.Hour + time.Second),
			Messages: 2, SrcIP: netip.MustParseAddr("192.0.2.10"), Contact: "sip:alice@192.0.2.10:5060", Expires: 3600,
			UserAgent: "Yealink T46", Attempts: 1, SucceededAt: base.Add(time.Hour + time.Second)},
		{CallID: "r2@pbx", AoR: "sip:bob@example.com", Challenged: true, FinalCode: 403, Start: base.Add(30 * time.Minute),
			End: base.Add(30*time.Minute + time.Second), Messages: 4, SrcIP: netip.MustParseAddr("2001:db8::7"),
			Contact: "sip:bob@[2001:db8::7]", Expires: -1, UserAgent: "friendly-scanner", Attempts: 2, Failed: true},
	}
	msgs := []correlate.Message{
		{TS: base, Src: ap("192.0.2.10:5060"), Dst: ap("192.0.2.1:5060"), Transport: "udp", CallID: "r1@pbx",
			IsRequest: true, Method: "REGISTER", CSeq: 1, CSeqMethod: "REGISTER", Raw: []byte("REGISTER sip:example.com SIP/2.0\r\n\r\n")},
		{TS: base.Add(time.Millisecond), Src: ap("192.0.2.1:5060"), Dst: ap("192.0.2.10:5060"), Transport: "udp", CallID: "r1@pbx",
			StatusCode: 401, Reason: "Unauthorized", CSeq: 1, CSeqMethod: "REGISTER", Raw: []byte("SIP/2.0 401 Unauthorized\r\n\r\n")},
	}
	bound := quality.Stream{SSRC: 0, Src: ap("192.0.2.10:40000"), Dst: ap("198.51.100.2:30000"), Payload: "g711U",
		Start: base, End: base.Add(time.Minute), Packets: 3000, Expected: 3000, MOS: 4.4, CallID: "call-1@pbx"}
	lossy := quality.Stream{SSRC: 0xfeedface, Src: ap("198.51.100.2:30000"), Dst: ap("192.0.2.10:40000"), Payload: "g711A",
		Start: base.Add(time.Second), End: base.Add(time.Minute), Packets: 2700, Expected: 3000, Lost: 300, MOS: 2.9, CallID: "call-1@pbx"}
	unbound := quality.Stream{SSRC: 42, Src: ap("[2001:db8::9]:16384"), Dst: ap("[2001:db8::a]:16386"), Payload: "RTPType-96",
		Start: base.Add(2 * time.Minute), End: base.Add(3 * time.Minute), Packets: 10, Expected: 10}
	if err := st.Write(ctx, storage.Batch{Registrations: regs, Messages: msgs, Streams: []quality.Stream{bound, lossy, unbound}}); err != nil {
		t.Fatalf("write: %v", err)
	}

	regCases := []struct {
		name      string
		f         storage.RegistrationFilter
		wantStart []time.Duration // starts after base, in list order
	}{
		{"all registrations, newest first", storage.RegistrationFilter{}, []time.Duration{time.Hour, 30 * time.Minute, 0}},
		{"the AoR matches a substring case-insensitively", storage.RegistrationFilter{AoR: "ALICE"}, []time.Duration{time.Hour, 0}},
		{"failed selects the refused one", storage.RegistrationFilter{Failed: &yes}, []time.Duration{30 * time.Minute}},
		{"not failed selects the others", storage.RegistrationFilter{Failed: &no}, []time.Duration{time.Hour, 0}},
		{"challenged and final code combine", storage.RegistrationFilter{Challenged: &yes, FinalCode: 200}, []time.Duration{0}},
		{"the IPv6 source matches", storage.RegistrationFilter{IP: netip.MustParseAddr("2001:db8::7")}, []time.Duration{30 * time.Minute}},
		{"the user agent matches", storage.RegistrationFilter{UserAgent: "scanner"}, []time.Duration{30 * time.Minute}},
		{"the contact matches", storage.RegistrationFilter{Contact: "192.0.2.10:5060"}, []time.Duration{time.Hour, 0}},
		{"the time range bounds the start", storage.RegistrationFilter{From: base.Add(time.Minute), To: base.Add(time.Hour)}, []time.Duration{30 * time.Minute}},
		{"paging skips and limits", storage.RegistrationFilter{Offset: 1, Limit: 1}, []time.Duration{30 * time.Minute}},
		{"a quote in a filter is matched literally", storage.RegistrationFilter{AoR: "' OR 1=1 --"}, nil},
	}
	for _, tc := range regCases {
		t.Run("registrations: "+tc.name, func(t *testing.T) {
			p, err := st.ListRegistrations(ctx, tc.f)
			if err != nil {
				t.Fatal(err)
			}
			var got []time.Duration
			for _, r := range p.Registrations {
				got = append(got, r.Start.Sub(base))
			}
			if !slices.Equal(got, tc.wantStart) {
				t.Fatalf("starts %v, want %v", got, tc.wantStart)
			}
			if tc.f.Limit == 0 && p.Total != len(tc.wantStart) {
				t.Fatalf("total %d, want %d", p.Total, len(tc.wantStart))
			}
		})
	}
	t.Run("registrations: a Call-ID reads back whole with its messages", func(t *testing.T) {
		d, err := st.GetRegistration(ctx, "r1@pbx")
		if err != nil {
			t.Fatal(err)
		}
		if len(d.Registrations) != 2 || len(d.Messages) != 2 || d.Messages[1].StatusCode != 401 {
			t.Fatalf("detail %+v", d)
		}
		r := d.Registrations[0]
		if r != regs[0] {
			t.Fatalf("registration read back as\n%+v\nwant\n%+v", r, regs[0])
		}
		if _, err := st.GetRegistration(ctx, "nope"); !errors.Is(err, storage.ErrNotFound) {
			t.Fatalf("unknown: %v", err)
		}
	})

	streamCases := []struct {
		name string
		f    storage.StreamFilter
		want []uint32 // SSRCs in list order
	}{
		{"all streams, newest first", storage.StreamFilter{}, []uint32{42, 0xfeedface, 0}},
		{"unbound streams only", storage.StreamFilter{Unbound: true}, []uint32{42}},
		{"a call's streams", storage.StreamFilter{CallID: "call-1@pbx"}, []uint32{0xfeedface, 0}},
		{"SSRC 0 is a real SSRC", storage.StreamFilter{HasSSRC: true, SSRC: 0}, []uint32{0}},
		{"an address on either side", storage.StreamFilter{IP: netip.MustParseAddr("198.51.100.2")}, []uint32{0xfeedface, 0}},
		{"a port on either side", storage.StreamFilter{Port: 16386}, []uint32{42}},
		{"the codec case-insensitively", storage.StreamFilter{Codec: "G711a"}, []uint32{0xfeedface}},
		{"MOS below a bound skips unmeasured streams", storage.StreamFilter{MOSBelow: 3.1}, []uint32{0xfeedface}},
		{"loss above a percentage", storage.StreamFilter{LossAbove: 5}, []uint32{0xfeedface}},
		{"loss above a higher percentage matches nothing", storage.StreamFilter{LossAbove: 10}, nil},
		{"the time range bounds the start", storage.StreamFilter{From: base.Add(time.Second), To: base.Add(time.Hour)}, []uint32{42, 0xfeedface}},
	}
	for _, tc := range streamCases {
		t.Run("streams: "+tc.name, func(t *testing.T) {
			p, err := st.ListStreams(ctx, tc.f)
			if err != nil {
				t.Fatal(err)
			}
			var got []uint32
			for _, s := range p.Streams {
				got = append(got, s.SSRC)
			}
			if !slices.Equal(got, tc.want) || p.Total != len(tc.want) {
				t.Fatalf("SSRCs %x (total %d), want %x", got, p.Total, tc.want)
			}
		})
	}
	t.Run("invalid filters are refused", func(t *testing.T) {
		for _, f := range []storage.StreamFilter{{Port: 70000}, {Limit: -1}, {Unbound: true, CallID: "x"}} {
			if _, err := st.ListStreams(ctx, f); !errors.Is(err, storage.ErrInvalidFilter) {
				t.Errorf("%+v: %v", f, err)
			}
		}
		if _, err := st.ListRegistrations(ctx, storage.RegistrationFilter{Offset: -1}); !errors.Is(err, storage.ErrInvalidFilter) {
			t.Errorf("negative offset: %v", err)
		}
	})
}
