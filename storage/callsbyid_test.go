package storage

import (
	"bytes"
	"net/netip"
	"testing"
	"time"

	"github.com/sipscope/sipscope/correlate"
)

// pack is the packed row of c at version v.
func pack(t *testing.T, c correlate.Call, v uint64) []byte {
	t.Helper()
	rows, err := callsByIDRows([][]any{callRow(&c, v)})
	if err != nil {
		t.Fatal(err)
	}
	return rows[0][4].([]byte)
}

func TestOnlyACallIDAloneInStartOrderIsAnsweredFromThePackedRows(t *testing.T) {
	yes := []CallFilter{
		{CallID: "a"},
		{CallID: "a", Limit: 1, Offset: 2, Ascending: true, NoTotal: true, Sort: SortStart},
	}
	no := []CallFilter{
		{},
		{CallID: "a", Sort: SortMOS},
		{CallID: "a", State: correlate.StateAnswered},
		{CallID: "a", From: time.Unix(1, 0)},
		{CallID: "a", After: &CallKey{CallID: "a"}},
		{CallID: "a", Limit: -1},
		{CallID: "a", Offset: -1},
	}
	for _, f := range yes {
		if !onlyCallID(f) {
			t.Errorf("%+v: not answered from calls_by_id", f)
		}
	}
	for _, f := range no {
		if onlyCallID(f) {
			t.Errorf("%+v: answered from calls_by_id, which cannot apply it", f)
		}
	}
}

// Whatever bytes a corrupt row holds, decoding it returns an error or a
// call, never a panic; a call decoded once packs and decodes to itself.
func FuzzPackedCall(f *testing.F) {
	start := time.Date(2026, 3, 1, 9, 30, 0, 0, time.UTC)
	seeds := []correlate.Call{
		{CallID: "a@example.com", Start: start},
		{CallID: "b@example.com", FromUser: "alice", ToUser: "bob", SrcIP: netip.MustParseAddr("192.0.2.1"),
			DstIP: netip.MustParseAddr("2001:db8::2"), State: correlate.StateAnswered, FinalCode: 200, Start: start,
			End: start.Add(time.Minute), MOS: 4.1, LinkedCallIDs: []string{"c@sbc"}, Findings: []string{"partial"},
			Nodes: []string{"eth0"}, Diagnosis: "Answered."},
	}
	for i, c := range seeds {
		rows, err := callsByIDRows([][]any{callRow(&c, uint64(i+1))})
		if err != nil {
			f.Fatal(err)
		}
		f.Add(rows[0][4].([]byte))
	}
	f.Add([]byte{})
	f.Add([]byte{0xff, 0xff, 0xff, 0xff, 0x0f})
	f.Fuzz(func(t *testing.T, row []byte) {
		c, v, err := packedCall(row)
		if err != nil {
			return
		}
		once := pack(t, c, v)
		c2, v2, err := packedCall(once)
		if err != nil {
			t.Fatalf("a call decoded from %q packs to %q, which does not decode: %v", row, once, err)
		}
		if twice := pack(t, c2, v2); !bytes.Equal(once, twice) {
			t.Fatalf("packing is not stable:\n%q\n%q", once, twice)
		}
	})
}
