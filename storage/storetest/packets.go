package storetest

import (
	"bytes"
	"context"
	"testing"

	"github.com/sipscope/sipscope/storage"
)

// PacketStore is a store that keeps captured frames.
type PacketStore interface {
	Write(ctx context.Context, b storage.Batch) error
	CallPackets(ctx context.Context, callIDs []string) ([]storage.Packet, error)
}

// RunPackets writes the frames of two calls (any byte values, a frame of
// 64 KiB, two link types, a frame cut to its headers) and reads them back
// byte for byte in capture order, each call alone and both together; a
// second write of the same frames (a re-imported capture) stores them once.
func RunPackets(t *testing.T, st PacketStore) {
	ctx := t.Context()
	base := day(5).UnixNano() + 123_456_000 // whole microseconds: what is stored
	mk := func(callID string, us int64, seq uint64, kind string, lt uint16, data []byte) storage.Packet {
		return storage.Packet{CallID: callID, TS: base + us*1000, Seq: seq, Kind: kind, LinkType: lt,
			OrigLen: uint32(len(data)), Data: data, Node: "eth0"}
	}
	cut := mk("pk-a", 40, 5, storage.PacketRTP, 1, bytes.Repeat([]byte{0x80}, 54))
	cut.OrigLen = 214 // store_rtp headers: 160 bytes of payload left out
	a := []storage.Packet{
		mk("pk-a", 0, 1, storage.PacketSIP, 1, hostileBytes()),
		mk("pk-a", 20, 2, storage.PacketRTP, 1, bigMessage()),
		mk("pk-a", 20, 3, storage.PacketRTCP, 113, []byte{0, 1, 2, 3}), // same microsecond: frame number orders
		cut,
	}
	b := []storage.Packet{
		mk("pk-b", 10, 4, storage.PacketSIP, 101, []byte("BYE sip:x SIP/2.0\r\n\r\n")),
	}
	all := append(append([]storage.Packet{}, a...), b...)
	// Out of order and twice: the store orders, and collapses the copy.
	rev := []storage.Packet{all[4], all[3], all[2], all[1], all[0]}
	for _, batch := range [][]storage.Packet{rev, all} {
		if err := st.Write(ctx, storage.Batch{Packets: batch}); err != nil {
			t.Fatalf("write packets: %v", err)
		}
	}
	check := func(name string, ids []string, want []storage.Packet) {
		t.Run(name, func(t *testing.T) {
			got, err := st.CallPackets(ctx, ids)
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(want) {
				t.Fatalf("%d packets, want %d", len(got), len(want))
			}
			for i := range want {
				g, w := got[i], want[i]
				if g.CallID != w.CallID || g.TS != w.TS || g.Seq != w.Seq || g.Kind != w.Kind ||
					g.LinkType != w.LinkType || g.OrigLen != w.OrigLen || g.Node != w.Node {
					t.Errorf("packet %d: got %+v\nwant %+v", i, brief(g), brief(w))
				}
				if !bytes.Equal(g.Data, w.Data) {
					t.Errorf("packet %d: %d bytes differ from the %d written", i, len(g.Data), len(w.Data))
				}
			}
		})
	}
	check("one call's frames read back in capture order", []string{"pk-a"}, a)
	check("a call and its leg read back interleaved by time", []string{"pk-a", "pk-b"},
		[]storage.Packet{all[0], all[4], all[1], all[2], all[3]})
	check("a call without frames has none", []string{"pk-none"}, nil)
}

func brief(p storage.Packet) storage.Packet {
	p.Data = nil
	return p
}
