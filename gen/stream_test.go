package gen

import (
	"bytes"
	"errors"
	"io"
	"runtime"
	"testing"
	"time"

	"github.com/gopacket/gopacket/pcapgo"
)

func TestStreamWritesTheBytesOfWrite(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  Config
	}{
		{"calls with media, jitter and late packets", Config{Calls: 12, Seed: 7, JitterMs: 30, LatePct: 5, LateMs: 60, LossPct: 3}},
		{"HEP, which leaves the media out", Config{Calls: 10, Seed: 3, Encap: EncapHEP}},
		{"TCP segments reordered and retransmitted", Config{Calls: 10, Seed: 5, Transport: TransportTCP, TCPSegmentSize: 300, TCPReorderPct: 30, TCPRetransmitPct: 20}},
		{"SIP only at a fixed rate from a given start", Config{Calls: 50, Seed: 9, SIPOnly: true, CPS: 20, Start: time.Date(2025, 3, 1, 0, 0, 0, 0, time.UTC)}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var w, s bytes.Buffer
			truth, err := Write(&w, tc.cfg)
			if err != nil {
				t.Fatal(err)
			}
			totals, err := Stream(&s, tc.cfg)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(w.Bytes(), s.Bytes()) {
				t.Errorf("Stream wrote %d bytes that differ from Write's %d", s.Len(), w.Len())
			}
			if totals.Packets != truth.Totals.Packets || totals.CallIDs != truth.Totals.CallIDs ||
				totals.RTPStreams != truth.Totals.RTPStreams || totals.RTPPackets != truth.Totals.RTPPackets ||
				totals.SIPMessages != truth.Totals.SIPMessages {
				t.Errorf("Stream totals %+v, Write's %+v", totals, truth.Totals)
			}
		})
	}
}

// peakHeap records the largest live heap seen while a capture is written,
// sampled every 4096 writes (two per frame; ReadMemStats stops the world).
type peakHeap struct {
	writes int
	peak   uint64
}

func (p *peakHeap) Write(b []byte) (int, error) {
	p.writes++
	if p.writes%4096 == 0 {
		runtime.GC()
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		p.peak = max(p.peak, ms.HeapAlloc)
	}
	return len(b), nil
}

func TestStreamMemoryDoesNotGrowWithTheCalls(t *testing.T) {
	// Past 51,200 calls every host address has been used (hostAddr), so
	// the per-host IPv4 ID counters are all there: what remains would be
	// growth per call.
	peak := func(calls int) uint64 {
		var p peakHeap
		totals, err := Stream(&p, Config{Calls: calls, Seed: 1, SIPOnly: true, CPS: 200})
		if err != nil {
			t.Fatal(err)
		}
		if totals.CallIDs != calls {
			t.Fatalf("%d Call-IDs written, want %d", totals.CallIDs, calls)
		}
		return p.peak
	}
	small, large := peak(55_000), peak(110_000)
	t.Logf("peak live heap: %d KB over 55,000 calls, %d KB over 110,000", small>>10, large>>10)
	if large > small+small/4+(1<<20) {
		t.Errorf("peak live heap grew from %d KB to %d KB with twice the calls", small>>10, large>>10)
	}
}

func TestStartAndCPSPlaceEveryCallAtItsTime(t *testing.T) {
	start := time.Date(2025, 6, 30, 23, 59, 58, 0, time.UTC)
	cfg := Config{Calls: 40, Seed: 4, SIPOnly: true, CPS: 8, Start: start, Mix: []Scenario{ScenarioBusy}}
	var buf bytes.Buffer
	truth, err := Write(&buf, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if len(truth.Calls) != 40 {
		t.Fatalf("%d calls, want 40", len(truth.Calls))
	}
	for i, c := range truth.Calls {
		// call i starts at Start + i/CPS: its INVITE is its first message.
		if want := start.Add(time.Duration(i) * time.Second / 8); !c.Start.Equal(want) {
			t.Errorf("call %d starts at %s, want %s", i, c.Start.Format(timeLayout), want.Format(timeLayout))
		}
	}
	r, err := pcapgo.NewReader(&buf)
	if err != nil {
		t.Fatal(err)
	}
	first, last := time.Time{}, time.Time{}
	n := 0
	for {
		_, ci, err := r.ReadPacketData()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if n == 0 {
			first = ci.Timestamp
		}
		if ci.Timestamp.Before(last) {
			t.Fatalf("frame %d at %s is before the one before it (%s)", n, ci.Timestamp, last)
		}
		last = ci.Timestamp
		n++
	}
	if !first.Equal(start) {
		t.Errorf("the capture begins at %s, want %s", first, start)
	}
	if n != truth.Totals.Packets || n != 40*4 {
		t.Errorf("%d frames, truth says %d, want 160 (INVITE, 100, 486, ACK per call)", n, truth.Totals.Packets)
	}
}

func TestSIPOnlyCapturesNoMediaButTheSameCalls(t *testing.T) {
	cfg := Config{Calls: 10, Seed: 2}
	var a, b bytes.Buffer
	withMedia, err := Write(&a, cfg)
	if err != nil {
		t.Fatal(err)
	}
	cfg.SIPOnly = true
	sipOnly, err := Write(&b, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if sipOnly.Totals.RTPPackets != 0 || len(sipOnly.Streams) != 0 || sipOnly.Totals.Packets != sipOnly.Totals.SIPMessages {
		t.Errorf("SIP-only totals %+v, %d streams: want SIP messages only", sipOnly.Totals, len(sipOnly.Streams))
	}
	if sipOnly.Totals.SIPMessages != withMedia.Totals.SIPMessages || len(sipOnly.Calls) != len(withMedia.Calls) {
		t.Errorf("SIP-only: %d messages in %d calls, with media %d in %d", sipOnly.Totals.SIPMessages, len(sipOnly.Calls),
			withMedia.Totals.SIPMessages, len(withMedia.Calls))
	}
	for i := range sipOnly.Calls {
		s, m := sipOnly.Calls[i], withMedia.Calls[i]
		if s.CallID != m.CallID || s.State != m.State || s.FinalCode != m.FinalCode || s.Messages != m.Messages {
			t.Errorf("call %d: SIP-only %+v, with media %+v", i, s, m)
		}
	}
}
