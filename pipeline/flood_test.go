package pipeline

import (
	"encoding/binary"
	"fmt"
	"runtime"
	"testing"

	"github.com/sipscope/sipscope/correlate"
	"github.com/sipscope/sipscope/frame"
	"github.com/sipscope/sipscope/storage"
)

// heapInUse is the live heap after a collection.
func heapInUse() uint64 {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapInuse
}

// A flood of 1,000,000 RTP packets, each with a new SSRC (a spoofing
// attacker, or a broken sender), through the live pipeline: the stream
// table stays at its bound, the evicted junk is counted and dropped
// unwritten, and the heap stays under the bound's worth of streams.
func TestLivePipelineHoldsAFloodOfSSRCsWithinItsStreamBound(t *testing.T) {
	const (
		bound  = 20_000
		floods = 1_000_000
		// perStream bounds the price of one held stream: its statistics,
		// loss pattern, jitter buffer and timeline (1.4 KB inline, about
		// 4 KB with what they allocate and the table's entry).
		perStream = 5 << 10
	)
	rtpPkt := make([]byte, 12+160)
	rtpPkt[0], rtpPkt[1] = 0x80, 0
	data := frameOf(t, false, 40000, 50000, rtpPkt)
	const ipUDP = 14 + 20 + 8
	cfg := correlate.DefaultConfig()
	cfg.KeepMessages, cfg.Retain = true, false
	p := New(cfg)
	p.SetMaxStreams(bound)
	f := frame.Frame{LinkType: frame.LinkEthernet, Data: data, TS: 1_700_000_000e9}
	before := heapInUse()
	var peak uint64
	var b storage.Batch
	for i := range floods {
		binary.BigEndian.PutUint32(data[ipUDP+8:], uint32(i)+1)
		f.TS += 10e3 // 100 k packets per second
		p.HandleFrame(&f)
		if i%100_000 == 99_999 {
			b = storage.Batch{}
			p.AppendLiveBatch(&b, f.TS, false)
			peak = max(peak, heapInUse())
		}
	}
	st := p.Stats()
	grown := int64(peak) - int64(before)
	t.Logf("%d SSRCs: %d streams held, %d evicted (%d dropped unwritten); heap grew at most %d MB (bound %d MB)",
		floods, st.RTPStreamsActive, st.RTPStreamsEvicted, st.RTPStreamsDropped, grown>>20, bound*perStream>>20)
	if st.RTPStreamsActive > bound {
		t.Errorf("%d streams held, bound %d", st.RTPStreamsActive, bound)
	}
	if st.RTPStreamsEvicted < floods-bound || st.RTPStreamsDropped != st.RTPStreamsEvicted {
		t.Errorf("evicted %d, dropped %d; want every one of the %d beyond the bound, all dropped", st.RTPStreamsEvicted, st.RTPStreamsDropped, floods-bound)
	}
	if grown > bound*perStream {
		t.Errorf("heap grew %d MB, bound %d MB", grown>>20, bound*perStream>>20)
	}
	if len(p.order) > 2*bound+1 {
		t.Errorf("%d streams wait in the write order, want at most %d", len(p.order), 2*bound+1)
	}
}

// Evicting a stream that carries a call's media writes it a last time
// instead of losing it.
func TestAnEvictedStreamOfSubstanceIsWrittenOnce(t *testing.T) {
	rtpPkt := make([]byte, 12+160)
	rtpPkt[0], rtpPkt[1] = 0x80, 0
	data := frameOf(t, false, 40000, 50000, rtpPkt)
	const ipUDP = 14 + 20 + 8
	p := New(correlate.DefaultConfig())
	p.SetMaxStreams(1)
	f := frame.Frame{LinkType: frame.LinkEthernet, Data: data, TS: 1_700_000_000e9}
	send := func(ssrc uint32, n int) {
		binary.BigEndian.PutUint32(data[ipUDP+8:], ssrc)
		for i := range n {
			binary.BigEndian.PutUint16(data[ipUDP+2:], uint16(i))
			binary.BigEndian.PutUint32(data[ipUDP+4:], uint32(i)*160)
			f.TS += 20e6
			p.HandleFrame(&f)
		}
	}
	send(1, worthKeeping) // a real stream
	send(2, 1)            // evicts it
	var b storage.Batch
	p.AppendLiveBatch(&b, f.TS, false)
	got := map[string]int{}
	for _, s := range b.Streams {
		got[fmt.Sprint(s.SSRC)] = s.Packets
	}
	if got["1"] != worthKeeping || got["2"] != 1 || len(got) != 2 {
		t.Errorf("streams written: %v; want the evicted one with its %d packets and the new one", got, worthKeeping)
	}
	if st := p.Stats(); st.RTPStreamsEvicted != 1 || st.RTPStreamsDropped != 0 || st.RTPStreamsActive != 1 {
		t.Errorf("stats %+v", st)
	}
	b = storage.Batch{}
	p.AppendLiveBatch(&b, f.TS, false)
	for _, s := range b.Streams {
		if s.SSRC == 1 {
			t.Error("the evicted stream was written twice")
		}
	}
}

// 20,000 distinct method tokens on the wire are counted under "other": the
// counts do not grow a key per token.
func TestTwentyThousandMethodsAreCountedUnderOther(t *testing.T) {
	p := New(correlate.DefaultConfig())
	f := frame.Frame{LinkType: frame.LinkEthernet, TS: 1_700_000_000e9}
	const n = 20_000
	for i := range n {
		m := fmt.Sprintf("X%05d sip:a@example.com SIP/2.0\r\nVia: SIP/2.0/UDP 192.0.2.1;branch=z9hG4bK%d\r\n"+
			"From: <sip:a@example.com>;tag=%d\r\nTo: <sip:b@example.com>\r\nCall-ID: m%d@example.com\r\n"+
			"CSeq: 1 X%05d\r\nContent-Length: 0\r\n\r\n", i, i, i, i, i)
		f.Data = frameOf(t, false, 5060, 5060, []byte(m))
		f.TS += 1e6
		p.HandleFrame(&f)
	}
	r := BuildReport("flood", p, QualityOptions{})
	if r.SIP.Messages != n || r.SIP.Requests["other"] != n || len(r.SIP.Requests) != 1 {
		t.Errorf("%d messages, requests %v; want %d under other alone", r.SIP.Messages, r.SIP.Requests, n)
	}
}
