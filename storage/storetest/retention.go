package storetest

import (
	"fmt"
	"net/netip"
	"time"

	"github.com/sipscope/sipscope/correlate"
	"github.com/sipscope/sipscope/quality"
	"github.com/sipscope/sipscope/storage"
)

// RetentionDay is day n of May 2024, noon UTC.
func RetentionDay(n int) time.Time { return time.Date(2024, time.May, n, 12, 0, 0, 0, time.UTC) }

// RetentionBatch is, for each of May 1 to 10 (RetentionDay), one call
// "call-DD@example.com" with three SIP messages, one RTP stream and one
// registration: one partition per table and day.
func RetentionBatch() storage.Batch {
	var b storage.Batch
	src, dst := netip.MustParseAddrPort("192.0.2.1:5060"), netip.MustParseAddrPort("198.51.100.2:5060")
	for d := 1; d <= 10; d++ {
		at := RetentionDay(d)
		id := fmt.Sprintf("call-%02d@example.com", d)
		b.Calls = append(b.Calls, correlate.Call{CallID: id, Start: at, End: at.Add(time.Minute), State: correlate.StateAnswered,
			SrcIP: src.Addr(), DstIP: dst.Addr(), Messages: 3, Finished: true, LastUpdate: at.Add(time.Minute)})
		for i := range 3 {
			b.Messages = append(b.Messages, correlate.Message{TS: at.Add(time.Duration(i) * time.Second), Src: src, Dst: dst,
				Transport: "udp", CallID: id, IsRequest: i == 0, Method: "INVITE", CSeq: 1, CSeqMethod: "INVITE",
				Raw: fmt.Appendf(nil, "INVITE sip:bob@example.com SIP/2.0\r\nCall-ID: %s\r\nX-N: %d\r\n\r\n", id, i)})
		}
		b.Streams = append(b.Streams, quality.Stream{SSRC: uint32(d), Src: netip.MustParseAddrPort("192.0.2.1:40000"),
			Dst: netip.MustParseAddrPort("198.51.100.2:40000"), Start: at, End: at.Add(time.Minute), Packets: 3000, CallID: id})
		b.Registrations = append(b.Registrations, correlate.Registration{CallID: "reg-" + id, AoR: "sip:alice@example.com",
			Start: at, End: at.Add(time.Second), SrcIP: src.Addr(), FinalCode: 200, Messages: 2})
	}
	return b
}
