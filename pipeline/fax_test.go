package pipeline

import (
	"encoding/binary"
	"errors"
	"io"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/sipscope/sipscope/capture"
	"github.com/sipscope/sipscope/correlate"
	"github.com/sipscope/sipscope/decode"
	"github.com/sipscope/sipscope/frame"
	"github.com/sipscope/sipscope/gen"
)

// writeFaxCapture generates T.38 calls (with a plain call beside them) with
// RTP loss and returns the file and its truth.
func writeFaxCapture(t *testing.T) (string, *gen.Truth) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "fax.pcap")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	truth, err := gen.Write(f, gen.Config{Calls: 4, Seed: 38, Mix: []gen.Scenario{gen.ScenarioT38, gen.ScenarioAnswered},
		CallDuration: 4 * time.Second, LossPct: 5, BurstLen: 2})
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		t.Fatal(err)
	}
	return path, truth
}

// TestT38SwitchEndsTheRTPStreamAndStartsAT38Stream: a re-INVITE to
// m=image udptl t38 on the same ports ends the audio streams there; the
// UDPTL packets (whose first byte reads as RTP version 2) are T.38 streams
// with the truth's packets, loss and duplicates; the audio after the
// switch back is new streams. Every audio stream has the truth's figures,
// which gen's tshark test holds equal to tshark's.
func TestT38SwitchEndsTheRTPStreamAndStartsAT38Stream(t *testing.T) {
	path, truth := writeFaxCapture(t)
	if len(truth.FaxStreams) != 4 {
		t.Fatalf("truth has %d T.38 streams, want 4", len(truth.FaxStreams))
	}
	r, err := AnalyzeFile(path, QualityOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var audio, fax int
	for _, s := range r.RTPStreams {
		if s.Payload == "t38" {
			fax++
			i := slices.IndexFunc(truth.FaxStreams, func(w gen.FaxTruth) bool {
				return w.Src.String() == s.Src && w.Dst.String() == s.Dst
			})
			if i < 0 {
				t.Errorf("T.38 stream %s -> %s is not in the truth", s.Src, s.Dst)
				continue
			}
			w := truth.FaxStreams[i]
			if s.Packets != w.Packets || s.Lost != w.Lost || s.Duplicates != w.Duplicates || s.Expected != w.Sent || s.CallID != w.CallID {
				t.Errorf("T.38 stream %s -> %s: packets %d lost %d duplicates %d expected %d call %q; truth %d %d %d %d %q",
					s.Src, s.Dst, s.Packets, s.Lost, s.Duplicates, s.Expected, s.CallID, w.Packets, w.Lost, w.Duplicates, w.Sent, w.CallID)
			}
			continue
		}
		audio++
		i := slices.IndexFunc(truth.Streams, func(w gen.StreamTruth) bool { return w.SSRC == s.SSRC })
		if i < 0 {
			t.Errorf("RTP stream %s is not in the truth", s.SSRC)
			continue
		}
		w := truth.Streams[i]
		if s.Packets != w.Packets || s.Lost != w.Lost || s.Src != w.Src.String() || s.Payload != w.Payload || s.CallID != w.CallID {
			t.Errorf("RTP stream %s: %s -> %s %s packets %d lost %d call %q; truth %s -> %s %s %d %d %q", s.SSRC,
				s.Src, s.Dst, s.Payload, s.Packets, s.Lost, s.CallID, w.Src, w.Dst, w.Payload, w.Packets, w.Lost, w.CallID)
		}
	}
	if audio != len(truth.Streams) || fax != len(truth.FaxStreams) {
		t.Errorf("%d RTP and %d T.38 streams, truth has %d and %d", audio, fax, len(truth.Streams), len(truth.FaxStreams))
	}
	if n := r.DecodeErrors["media_not_rtp"] + r.DecodeErrors["udptl_malformed"]; n != 0 {
		t.Errorf("%d media datagrams not understood: %v", n, r.DecodeErrors)
	}
	for _, c := range r.Calls {
		want := ""
		for _, w := range truth.Calls {
			if w.CallID == c.CallID {
				want = w.Fax
			}
		}
		if c.Fax != want || c.State != "answered" {
			t.Errorf("call %s: fax %q state %s, want fax %q answered", c.CallID, c.Fax, c.State, want)
		}
		if hasT38 := slices.Contains(c.Findings, "t38_fax"); hasT38 != (want == "t38") {
			t.Errorf("call %s: findings %v, fax %q", c.CallID, c.Findings, want)
		}
	}
}

// readFrames reads a capture into memory.
func readFrames(t *testing.T, path string) []frame.Frame {
	t.Helper()
	src, err := capture.OpenFile(path)
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	var out []frame.Frame
	for {
		var f frame.Frame
		err := src.Next(&f)
		if errors.Is(err, io.EOF) {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		f.Data = slices.Clone(f.Data)
		out = append(out, f)
	}
}

// TestRTPWithTheSameSSRCAfterAFaxIsANewStream: a gateway that keeps its
// SSRC and sequence numbers across the fax still gets a new stream when
// the call returns to audio, and the packets in T.38 mode are not RTP.
func TestRTPWithTheSameSSRCAfterAFaxIsANewStream(t *testing.T) {
	path, truth := writeFaxCapture(t)
	frames := readFrames(t, path)
	// Rewrite the SSRC of every RTP packet of the first fax call's caller
	// to one value: what was two streams apart by SSRC is now one flow.
	first := truth.Streams[0] // the caller's audio before the fax
	var dec decode.Decoder
	var pkt decode.Packet
	const ssrc = 0x5eed0038
	rewritten := 0
	for i := range frames {
		f := &frames[i]
		if dec.Decode(f.LinkType, f.Data, f.TS, &pkt) != nil || pkt.Src != first.Src || pkt.Dst != first.Dst || len(pkt.Payload) != 172 {
			continue
		}
		binary.BigEndian.PutUint32(pkt.Payload[8:], ssrc)
		rewritten++
	}
	p := New(correlate.DefaultConfig())
	for i := range frames {
		p.HandleFrame(&frames[i])
	}
	var same []int
	for _, s := range p.FinishStreams(QualityOptions{}) {
		if s.SSRC == ssrc {
			same = append(same, s.Packets)
		}
	}
	want := []int{}
	for _, w := range truth.Streams {
		if w.Src == first.Src && w.Dst == first.Dst {
			want = append(want, w.Packets)
		}
	}
	if len(want) != 2 || !slices.Equal(same, want) || rewritten != want[0]+want[1] {
		t.Errorf("SSRC %#x makes streams of %v packets (%d rewritten), want %v", ssrc, same, rewritten, want)
	}
}

// TestFaxPathDoesNotAllocate: once a call has moved to T.38 (FlowMode is
// then asked for every UDP datagram), a UDPTL packet of its stream and an
// RTP packet of an audio stream go through without allocating.
func TestFaxPathDoesNotAllocate(t *testing.T) {
	path, truth := writeFaxCapture(t)
	frames := readFrames(t, path)
	fs := truth.FaxStreams[0]
	var dec decode.Decoder
	var pkt decode.Packet
	cut := -1
	for i := range frames {
		f := &frames[i]
		if dec.Decode(f.LinkType, f.Data, f.TS, &pkt) == nil && pkt.Src == fs.Src && pkt.Dst == fs.Dst && len(pkt.Payload) == 14 {
			cut = i + 10 // the fax stream and its flow exist by then
			break
		}
	}
	if cut < 0 {
		t.Fatal("no UDPTL packet in the capture")
	}
	p := New(correlate.DefaultConfig())
	for i := range frames[:cut] {
		p.HandleFrame(&frames[i])
	}
	fax := frames[cut-1] // a UDPTL datagram of the fax stream (its neighbours may be RTP)
	for i := cut - 1; i >= 0; i-- {
		if dec.Decode(frames[i].LinkType, frames[i].Data, frames[i].TS, &pkt) == nil && pkt.Src == fs.Src && len(pkt.Payload) == 14 {
			fax = frames[i]
			break
		}
	}
	if err := dec.Decode(fax.LinkType, fax.Data, fax.TS, &pkt); err != nil {
		t.Fatal(err)
	}
	off := len(fax.Data) - len(pkt.Payload)
	seq := binary.BigEndian.Uint16(fax.Data[off:])
	before := p.counts.udptlPackets
	next := func() {
		seq++
		fax.TS += 30e6
		binary.BigEndian.PutUint16(fax.Data[off:], seq)
		p.HandleFrame(&fax)
	}
	if n := testing.AllocsPerRun(100, next); n != 0 {
		t.Errorf("UDPTL path allocates %.2f times per packet", n)
	}
	if got := p.counts.udptlPackets - before; got != 101 {
		t.Errorf("counted %d UDPTL packets, want 101", got)
	}

	// An RTP packet (172-byte G.711) of another call's audio stream:
	// FlowMode is asked for it too.
	var audio frame.Frame
	for i := cut - 1; i >= 0; i-- {
		if dec.Decode(frames[i].LinkType, frames[i].Data, frames[i].TS, &pkt) == nil && len(pkt.Payload) == 172 &&
			pkt.Src != fs.Src && pkt.Src != fs.Dst {
			audio = frames[i]
			break
		}
	}
	if audio.Data == nil {
		t.Fatal("no RTP packet before the fax")
	}
	if err := dec.Decode(audio.LinkType, audio.Data, audio.TS, &pkt); err != nil {
		t.Fatal(err)
	}
	off = len(audio.Data) - len(pkt.Payload)
	rtpSeq := binary.BigEndian.Uint16(audio.Data[off+2:])
	rtpBefore := p.counts.rtpPackets
	nextRTP := func() {
		rtpSeq++
		audio.TS += 20e6
		binary.BigEndian.PutUint16(audio.Data[off+2:], rtpSeq)
		p.HandleFrame(&audio)
	}
	if n := testing.AllocsPerRun(100, nextRTP); n != 0 {
		t.Errorf("RTP path with T.38 flows about allocates %.2f times per packet", n)
	}
	if got := p.counts.rtpPackets - rtpBefore; got != 101 {
		t.Errorf("counted %d RTP packets, want 101", got)
	}
}
