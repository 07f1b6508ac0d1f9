package gen

import (
	"bytes"
	"errors"
	"io"
	"testing"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"
)

// TestRewritePayloadTypeChangesOnlyTheMediaPayloadType: every RTP packet of
// a generated capture (callers' from 10000 up) gets payload type 18 with
// its marker bit and every other byte kept; SIP and the callee's media
// (below the source port bound) are copied as they were.
func TestRewritePayloadTypeChangesOnlyTheMediaPayloadType(t *testing.T) {
	var orig bytes.Buffer
	truth, err := Write(&orig, Config{Calls: 3, Seed: 4})
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	n, err := RewritePayloadType(bytes.NewReader(orig.Bytes()), &out, 18, 20000)
	if err != nil {
		t.Fatal(err)
	}
	a, err := pcapgo.NewReader(bytes.NewReader(orig.Bytes()))
	if err != nil {
		t.Fatal(err)
	}
	b, err := pcapgo.NewReader(&out)
	if err != nil {
		t.Fatal(err)
	}
	var frames, rewritten, markers int
	for {
		was, wci, err := a.ReadPacketData()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		got, gci, err := b.ReadPacketData()
		if err != nil {
			t.Fatalf("frame %d: %v", frames+1, err)
		}
		frames++
		if !gci.Timestamp.Equal(wci.Timestamp) || len(got) != len(was) {
			t.Fatalf("frame %d: %v %d bytes, was %v %d", frames, gci.Timestamp, len(got), wci.Timestamp, len(was))
		}
		udp, _ := gopacket.NewPacket(was, layers.LayerTypeEthernet, gopacket.Default).Layer(layers.LayerTypeUDP).(*layers.UDP)
		if udp == nil || udp.SrcPort < 20000 || udp.DstPort < 10000 {
			if !bytes.Equal(got, was) {
				t.Fatalf("frame %d (not the rewritten media) changed", frames)
			}
			continue
		}
		off := len(was) - len(udp.Payload)
		if got[off+1] != was[off+1]&0x80|18 || !bytes.Equal(got[:off+1], was[:off+1]) || !bytes.Equal(got[off+2:], was[off+2:]) {
			t.Fatalf("frame %d: RTP byte 1 %#x (was %#x) or other bytes changed", frames, got[off+1], was[off+1])
		}
		rewritten++
		if was[off+1]&0x80 != 0 {
			markers++
		}
	}
	if _, _, err := b.ReadPacketData(); !errors.Is(err, io.EOF) {
		t.Errorf("the copy has frames after the original's %d", frames)
	}
	// Half of the calls' RTP is the callee's (sent from 20000 up).
	if rewritten != n || n == 0 || n >= truth.Totals.RTPPackets {
		t.Errorf("rewrote %d frames, says %d, of %d RTP packets", rewritten, n, truth.Totals.RTPPackets)
	}
	if markers == 0 {
		t.Error("no marker bit among the rewritten packets: the check that it is kept proved nothing")
	}
}

func TestRewritePayloadTypeRefusesACaptureWithoutMedia(t *testing.T) {
	var orig bytes.Buffer
	if _, err := Write(&orig, Config{Calls: 2, Seed: 1, Mix: []Scenario{ScenarioBusy}}); err != nil {
		t.Fatal(err)
	}
	if _, err := RewritePayloadType(&orig, io.Discard, 18, 10000); err == nil {
		t.Error("a capture without RTP rewritten without an error")
	}
	if _, err := RewritePayloadType(bytes.NewReader(nil), io.Discard, 200, 10000); err == nil {
		t.Error("payload type 200 accepted")
	}
}
