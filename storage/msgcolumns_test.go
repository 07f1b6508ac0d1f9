package storage

import (
	"math/rand/v2"
	"net/netip"
	"reflect"
	"testing"
	"time"

	"github.com/sipscope/sipscope/correlate"
)

func TestMessageColumnsAreTheMessageRows(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	addrs := []netip.AddrPort{{}, netip.MustParseAddrPort("192.0.2.1:5060"), netip.MustParseAddrPort("[2001:db8::1]:5061"),
		netip.MustParseAddrPort("[fe80::1%eth0]:1")}
	times := []time.Time{{}, time.Date(1960, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(2026, 12, 7, 10, 0, 0, 123456789, time.UTC),
		time.Unix(1<<33, 0)}
	msgs := make([]correlate.Message, 200)
	for i := range msgs {
		var raw []byte
		if rng.IntN(4) > 0 {
			raw = make([]byte, rng.IntN(700))
			for k := range raw {
				raw[k] = byte(rng.IntN(256))
			}
		}
		msgs[i] = correlate.Message{TS: times[rng.IntN(len(times))], Src: addrs[rng.IntN(len(addrs))], Dst: addrs[rng.IntN(len(addrs))],
			Transport: []string{"udp", "tcp", ""}[rng.IntN(3)], CallID: string(rune('a' + rng.IntN(26))), IsRequest: rng.IntN(2) == 0,
			Method: "INVITE", StatusCode: []int{0, 200, -1, 70000}[rng.IntN(4)], Reason: "OK", CSeq: rng.Uint32(), CSeqMethod: "BYE",
			FromUser: "alice", ToUser: "bob", Raw: raw, Node: []string{"", "edge-1"}[rng.IntN(2)]}
	}
	const seq = 1000
	cols := messageColumns(msgs, seq)
	if len(cols) != len(messagesTable().columns) {
		t.Fatalf("%d columns, the table has %d", len(cols), len(messagesTable().columns))
	}
	for i := range msgs {
		row := messageRow(&msgs[i], seq+uint64(i))
		for c := range cols {
			got := reflect.ValueOf(cols[c]).Index(i).Interface()
			if !reflect.DeepEqual(got, row[c]) {
				t.Errorf("message %d column %s: %#v, the row has %#v", i, messagesTable().columns[c].Name, got, row[c])
			}
		}
	}
}
