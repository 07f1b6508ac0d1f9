package pipeline

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"testing"

	"github.com/sipscope/sipscope/correlate"
	"github.com/sipscope/sipscope/frame"
	"github.com/sipscope/sipscope/storage"
)

// sdpInvite is an INVITE from 192.0.2.1 whose SDP announces 192.0.2.2:50000,
// where frameOf's RTP goes, so that the RTP is bound to its call.
func sdpInvite() []byte {
	body := "v=0\r\no=bob 1 1 IN IP4 192.0.2.2\r\ns=-\r\nc=IN IP4 192.0.2.2\r\nt=0 0\r\nm=audio 50000 RTP/AVP 8\r\na=rtpmap:8 PCMA/8000\r\n"
	return []byte("INVITE sip:bob@example.com SIP/2.0\r\n" +
		"Via: SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bK776asdhds\r\nMax-Forwards: 70\r\n" +
		"To: Bob <sip:bob@example.com>\r\nFrom: Alice <sip:alice@example.com>;tag=1928301774\r\n" +
		"Call-ID: frames-1@example.com\r\nCSeq: 1 INVITE\r\nContact: <sip:alice@192.0.2.1>\r\n" +
		"Content-Type: application/sdp\r\nContent-Length: " + itoa(len(body)) + "\r\n\r\n" + body)
}

func itoa(n int) string {
	var b []byte
	for ; n > 0 || len(b) == 0; n /= 10 {
		b = append([]byte{byte('0' + n%10)}, b...)
	}
	return string(b)
}

// TestKeptRTPFramesDoNotAllocateInSteadyState: with frames kept, an RTP
// packet of a call is copied into the batch's arena without allocating once
// the arena has served one batch, in both media modes; the frames kept are
// the frame's bytes, whole or cut after the RTP header.
func TestKeptRTPFramesDoNotAllocateInSteadyState(t *testing.T) {
	for _, c := range []struct {
		name string
		mode StoreRTP
		keep int // bytes of each 214-byte frame kept
	}{
		{"full mode keeps the whole frame", StoreRTPFull, 14 + 20 + 8 + 12 + 160},
		{"headers mode keeps Ethernet, IP, UDP and RTP headers", StoreRTPHeaders, 14 + 20 + 8 + 12},
	} {
		t.Run(c.name, func(t *testing.T) {
			p, data, next := rtpAfterInvite(t, c.mode)
			for range 300 {
				next()
			}
			first := p.pendingFrames()
			if len(first) != 301 || first[0].Kind != storage.PacketSIP || first[0].CallID != "frames-1@example.com" {
				t.Fatalf("kept %d frames, first %+v; want the INVITE and 300 RTP frames of its call", len(first), brief(first))
			}
			last := first[len(first)-1]
			if last.Kind != storage.PacketRTP || len(last.Data) != c.keep || int(last.OrigLen) != len(data) || !bytes.Equal(last.Data, data[:c.keep]) {
				t.Fatalf("last frame: %s, %d of %d bytes; want rtp, %d bytes of the frame", last.Kind, len(last.Data), last.OrigLen, c.keep)
			}
			p.reuseFrames() // written: the next batch reuses the memory
			if n := testing.AllocsPerRun(200, next); n != 0 {
				t.Errorf("keeping an RTP frame allocates %.2f times per packet", n)
			}
			if kept, dropped := p.FrameCounts(); kept != 301+201 || dropped != 0 {
				t.Errorf("kept %d, dropped %d; want 502 and 0", kept, dropped)
			}
		})
	}
}

// rtpAfterInvite is a pipeline keeping frames in mode that has seen
// sdpInvite's INVITE, the 214-byte RTP frame of the stream it announces,
// and next, which hands that frame to the pipeline again as the stream's
// next packet (sequence, RTP timestamp and capture time advanced).
func rtpAfterInvite(t *testing.T, mode StoreRTP) (p *Pipeline, data []byte, next func()) {
	t.Helper()
	p = New(correlate.DefaultConfig())
	p.SetStoreFrames(mode, 0)
	inv := frame.Frame{LinkType: frame.LinkEthernet, Data: frameOf(t, false, 5060, 5060, sdpInvite()), TS: 1_700_000_000e9}
	p.HandleFrame(&inv)
	data, next = rtpFrames(t, p, inv.TS)
	return p, data, next
}

func brief(ps []storage.Packet) []storage.Packet {
	out := make([]storage.Packet, len(ps))
	for i, p := range ps {
		p.Data = nil
		out[i] = p
	}
	return out
}

// TestAFullArenaDropsAndCountsFrames: a batch's frames are bounded in
// bytes; what does not fit is dropped and counted, not grown into.
func TestAFullArenaDropsAndCountsFrames(t *testing.T) {
	p := New(correlate.DefaultConfig())
	p.SetStoreFrames(StoreRTPFull, 4096)
	inv := frame.Frame{LinkType: frame.LinkEthernet, Data: frameOf(t, false, 5060, 5060, sdpInvite()), TS: 1_700_000_000e9}
	p.HandleFrame(&inv)
	rtpPkt := make([]byte, 12+160)
	rtpPkt[0], rtpPkt[1] = 0x80, 8
	data := frameOf(t, false, 40000, 50000, rtpPkt)
	for i := range 100 {
		binary.BigEndian.PutUint16(data[14+20+8+2:], uint16(i))
		f := frame.Frame{LinkType: frame.LinkEthernet, Data: data, TS: inv.TS + int64(i+1)*20e6}
		p.HandleFrame(&f)
	}
	kept, dropped := p.FrameCounts()
	var bytes int
	for _, pk := range p.pendingFrames() {
		bytes += len(pk.Data)
	}
	if bytes > 4096 || kept+dropped != 101 || dropped == 0 || len(p.pendingFrames()) != kept {
		t.Errorf("kept %d (%d bytes), dropped %d of 101 frames with a 4096-byte arena", kept, bytes, dropped)
	}
	if st := p.Stats(); st.FramesDropped != dropped || st.FramesStored != kept {
		t.Errorf("stats say %d stored, %d dropped", st.FramesStored, st.FramesDropped)
	}
}

// frameRecorder keeps copies of the frames an import writes (the import
// reuses their memory after each write).
type frameRecorder struct {
	pkts    []storage.Packet
	streams []storageStream
	writes  int
}

type storageStream struct {
	callID  string
	packets int
}

func (r *frameRecorder) Write(_ context.Context, b storage.Batch) error {
	r.writes++
	for _, p := range b.Packets {
		p.Data = bytes.Clone(p.Data)
		r.pkts = append(r.pkts, p)
	}
	for _, s := range b.Streams {
		r.streams = append(r.streams, storageStream{s.CallID, s.Packets})
	}
	return nil
}

// TestImportKeepsEachCallsSIPFramesAndMediaAsCaptured imports a real
// capture of calls with RTP and RTCP: every kept frame is the capture's
// frame of that number, byte for byte (cut in headers mode), every SIP
// frame carries its call's Call-ID, and the RTP frames kept of each call
// are as many as its streams' packets.
func TestImportKeepsEachCallsSIPFramesAndMediaAsCaptured(t *testing.T) {
	const path = "../testdata/captures/heplify__rtp_rtcp_sip_ipv4_udp.pcap"
	frames, err := LoadFrames(path)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name string
		opts ImportOptions
	}{
		{"full media in small batches", ImportOptions{StoreRTP: StoreRTPFull, FrameArenaBytes: 64 << 10}},
		{"headers only", ImportOptions{StoreRTP: StoreRTPHeaders}},
		{"no media", ImportOptions{StoreRTP: StoreRTPNone}},
	} {
		t.Run(c.name, func(t *testing.T) {
			var rec frameRecorder
			if _, err := ImportFileWith(t.Context(), &rec, path, c.opts); err != nil {
				t.Fatal(err)
			}
			kinds := map[string]int{}
			rtpByCall := map[string]int{}
			for _, pk := range rec.pkts {
				kinds[pk.Kind]++
				f := frames[pk.Seq-1]
				want := f.Data
				if pk.Kind == storage.PacketRTP && c.opts.StoreRTP == StoreRTPHeaders {
					want = want[:len(pk.Data)]
					if len(pk.Data) >= len(f.Data) {
						t.Fatalf("frame %d: headers mode kept all %d bytes", pk.Seq, len(f.Data))
					}
				}
				if !bytes.Equal(pk.Data, want) || pk.TS != f.TS || pk.LinkType != uint16(f.LinkType) {
					t.Fatalf("frame %d (%s) differs from the capture's", pk.Seq, pk.Kind)
				}
				if pk.Kind == storage.PacketSIP && !bytes.Contains(pk.Data, []byte(pk.CallID)) {
					t.Fatalf("SIP frame %d kept for call %q does not carry that Call-ID", pk.Seq, pk.CallID)
				}
				if pk.Kind == storage.PacketRTP {
					rtpByCall[pk.CallID]++
				}
			}
			if kinds[storage.PacketSIP] == 0 {
				t.Fatal("no SIP frames kept")
			}
			if c.opts.StoreRTP == StoreRTPNone {
				if kinds[storage.PacketRTP]+kinds[storage.PacketRTCP] != 0 {
					t.Errorf("no media mode kept %v", kinds)
				}
				return
			}
			if kinds[storage.PacketRTCP] == 0 {
				t.Errorf("no RTCP kept: %v", kinds)
			}
			streamPackets := map[string]int{}
			for _, s := range rec.streams {
				if s.callID != "" {
					streamPackets[s.callID] += s.packets
				}
			}
			if len(streamPackets) == 0 {
				t.Fatal("no stream is bound to a call")
			}
			for id, n := range streamPackets {
				if rtpByCall[id] != n {
					t.Errorf("call %s: %d RTP frames kept, its streams counted %d packets", id, rtpByCall[id], n)
				}
			}
			if c.opts.FrameArenaBytes > 0 && rec.writes < 3 {
				t.Errorf("%d writes with a 64 KiB arena: the import did not write at half the arena", rec.writes)
			}
			t.Logf("%v frames kept in %d writes", kinds, rec.writes)
		})
	}
}

func TestParseStoreRTP(t *testing.T) {
	for in, want := range map[string]StoreRTP{"": StoreRTPFull, "full": StoreRTPFull, "headers": StoreRTPHeaders, "none": StoreRTPNone} {
		if got, err := ParseStoreRTP(in); err != nil || got != want {
			t.Errorf("ParseStoreRTP(%q) = %v, %v", in, got, err)
		}
	}
	if _, err := ParseStoreRTP("all"); !errors.Is(err, ErrBadOption) {
		t.Errorf("ParseStoreRTP(all) = %v, want ErrBadOption", err)
	}
}

// TestLiveBatchesCarryTheFramesTheyOwn replays a capture through the live
// pipeline, a batch every 100 frames into reused batch memory, as the
// runner does: every kept frame reaches exactly one batch and still holds
// the capture's bytes after later frames were kept (a batch owns its
// frames' memory; the arena starts a new buffer).
func TestLiveBatchesCarryTheFramesTheyOwn(t *testing.T) {
	const path = "../testdata/captures/heplify__rtp_rtcp_sip_ipv4_udp.pcap"
	frames, err := LoadFrames(path)
	if err != nil {
		t.Fatal(err)
	}
	cfg := correlate.DefaultConfig()
	cfg.KeepMessages = true
	cfg.Retain = false
	p := New(cfg)
	p.SetStoreFrames(StoreRTPFull, 0)
	var kept []storage.Packet
	var b storage.Batch
	for i := range frames {
		p.HandleFrame(&frames[i])
		if i%100 == 99 || i == len(frames)-1 {
			p.AppendLiveBatch(&b, p.lastPktTS, i == len(frames)-1)
			kept = append(kept, b.Packets...) // the batch's records, memory not copied
			b = emptied(b)
		}
	}
	n, _ := p.FrameCounts()
	if len(kept) != n || n < 1400 {
		t.Fatalf("batches carried %d frames, %d were kept", len(kept), n)
	}
	for _, pk := range kept {
		if !bytes.Equal(pk.Data, frames[pk.Seq-1].Data) {
			t.Fatalf("frame %d (%s) changed after its batch was taken", pk.Seq, pk.Kind)
		}
	}
}

// TestImportKeepsTheTCPSegmentsThatCarriedWholeSIPMessages: over TCP a
// message carried whole by one segment keeps that frame; the others (split
// over segments) are rebuilt by the PCAP export, so no kept frame is a
// part of a message.
func TestImportKeepsTheTCPSegmentsThatCarriedWholeSIPMessages(t *testing.T) {
	for _, path := range []string{"../testdata/sip_tcp.pcap", "../testdata/captures/heplify__sip_ipv4_tcp.pcap"} {
		t.Run(path, func(t *testing.T) {
			frames, err := LoadFrames(path)
			if err != nil {
				t.Fatal(err)
			}
			var rec frameRecorder
			if _, err := ImportFile(t.Context(), &rec, path); err != nil {
				t.Fatal(err)
			}
			sip := 0
			for _, pk := range rec.pkts {
				if pk.Kind != storage.PacketSIP {
					continue
				}
				sip++
				if !bytes.Equal(pk.Data, frames[pk.Seq-1].Data) || !bytes.Contains(pk.Data, []byte(pk.CallID)) {
					t.Fatalf("frame %d (%s, call %s) is not a capture frame carrying its call's message", pk.Seq, pk.Kind, pk.CallID)
				}
			}
			if sip == 0 {
				t.Fatal("no SIP frame kept")
			}
			t.Logf("%d SIP frames kept of %d frames", sip, len(frames))
		})
	}
}

// TestDetachedFramesStayIntactWhileTheNextBatchFills: an import writes a
// detached batch while the next one is kept into other memory; keeping
// must not touch the detached frames, and once the spare memory has grown
// keeping allocates nothing.
func TestDetachedFramesStayIntactWhileTheNextBatchFills(t *testing.T) {
	p, _, next := rtpAfterInvite(t, StoreRTPFull)
	for range 100 {
		next()
	}
	var spare frameSet
	for batch := range 4 {
		detached := p.detachFrames(spare)
		if len(detached.pkts) != 100+btoi(batch == 0) {
			t.Fatalf("batch %d: %d frames detached", batch, len(detached.pkts))
		}
		want := make([][]byte, len(detached.pkts))
		for i, pk := range detached.pkts {
			want[i] = bytes.Clone(pk.Data)
		}
		for range 100 {
			next()
		}
		for i, pk := range detached.pkts {
			if !bytes.Equal(pk.Data, want[i]) {
				t.Fatalf("batch %d: frame %d changed while the next batch was kept", batch, i)
			}
		}
		spare = detached // written: its memory serves the batch after next
	}
	p.detachFrames(spare)
	if n := testing.AllocsPerRun(50, next); n != 0 {
		t.Errorf("keeping a frame into reused memory allocates %.2f times", n)
	}
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}
