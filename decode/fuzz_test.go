package decode

import (
	"io"
	"path/filepath"
	"testing"

	"github.com/sipscope/sipscope/capture"
	"github.com/sipscope/sipscope/frame"
)

// FuzzDecode feeds arbitrary frames of any link type to Decode. Invariants:
// no panic, every error is a known sentinel, and a decoded payload lies
// inside the frame (or the reassembly buffer) with a bounded tunnel count.
func FuzzDecode(f *testing.F) {
	for _, c := range append(craftedCases(), errorCases()...) {
		f.Add(uint16(c.link), c.frame)
	}
	// Real frames: the first few of every shared capture.
	files, _ := filepath.Glob(filepath.Join(capturesDir, "*.pcap*"))
	seeded := 0
	for _, path := range files {
		if filepath.Ext(path) == ".txt" {
			continue
		}
		src, err := capture.OpenFile(path)
		if err != nil {
			f.Fatal(err)
		}
		var fr frame.Frame
		for range 40 {
			if err := src.Next(&fr); err == io.EOF {
				break
			} else if err != nil {
				f.Fatal(err)
			}
			f.Add(uint16(fr.LinkType), append([]byte(nil), fr.Data...))
			seeded++
		}
		src.Close()
	}
	if seeded == 0 {
		f.Fatalf("no frames from %s: the shared captures are missing", capturesDir)
	}
	plain := NewDecoder()
	// A second decoder keeps fragments across inputs, so that fuzzing also
	// reaches reassembly; its output may point into its Defragmenter.
	defrag := NewDefragmenter(DefragConfig{MaxDatagrams: 8, MaxBytes: 1 << 16})
	reassembling := NewDecoder()
	reassembling.SetDefragmenter(defrag)
	ts := int64(0)
	f.Fuzz(func(t *testing.T, link uint16, data []byte) {
		check := func(d *Decoder, extra func() []byte) {
			var p Packet
			ts++
			err := d.Decode(frame.LinkType(link), data, ts, &p)
			if err != nil {
				if Reason(err) == "other" {
					t.Fatalf("error %v is not a sentinel", err)
				}
				return
			}
			if p.Transport != TransportUDP && p.Transport != TransportTCP && p.Transport != TransportSCTP {
				t.Fatalf("decoded without a transport: %s", describe(p))
			}
			if !within(data, p.Payload) && !within(extra(), p.Payload) {
				t.Fatalf("payload outside the frame")
			}
			if p.Tunnels > maxTunnels {
				t.Fatalf("%d tunnels", p.Tunnels)
			}
			if !p.Src.IsValid() || !p.Dst.IsValid() || p.TS != ts {
				t.Fatalf("incomplete packet: %s", describe(p))
			}
		}
		check(plain, func() []byte { return nil })
		check(reassembling, func() []byte { return defrag.out })
		checkDefrag(t, defrag)
	})
}
