package diagnose

import (
	"bytes"
	"errors"
	"io"
	"net/netip"
	"slices"
	"testing"
	"time"

	"github.com/sipscope/sipscope/capture"
	"github.com/sipscope/sipscope/correlate"
	"github.com/sipscope/sipscope/decode"
	"github.com/sipscope/sipscope/decode/rtp"
	"github.com/sipscope/sipscope/decode/sip"
	"github.com/sipscope/sipscope/frame"
	"github.com/sipscope/sipscope/quality"
)

// The tests run the real stages on real captures: decode, correlate and
// quality as the pipeline chains them (SIP over UDP and whole-message TCP
// segments, RTP bound through SDP), then diagnose. keep, when set, chooses
// which decoded packets reach the stages: a test cuts one direction of
// audio, or the start of a call, out of a generated capture with it.

type streamKey struct {
	src, dst netip.AddrPort
	ssrc     uint32
}

type testStream struct {
	q           quality.StreamQuality
	first, last int64
	callID      string
}

// packetFilter tells whether a decoded packet is kept; isSIP says what it is.
type packetFilter func(pkt *decode.Packet, isSIP bool) bool

// analyzeCapture returns the calls and streams of the capture at path,
// with Apply run over them, as an offline analysis sees them at the end of
// the file.
func analyzeCapture(t testing.TB, path string, keep packetFilter) ([]correlate.Call, []quality.Stream) {
	t.Helper()
	src, err := capture.OpenFile(path)
	if err != nil {
		t.Fatalf("the test needs %s: %v", path, err)
	}
	defer src.Close()
	corr := correlate.New(correlate.DefaultConfig())
	dec := decode.NewDecoder()
	streams := map[streamKey]*testStream{}
	var (
		order  []*testStream
		keys   []streamKey
		f      frame.Frame
		pkt    decode.Packet
		m      sip.Message
		h      rtp.Header
		base   int64
		lastTS int64
	)
	handleSIP := func(b []byte) {
		if m.Unmarshal(b) == nil && (keep == nil || keep(&pkt, true)) {
			corr.HandleSIP(pkt.TS, pkt.Src, pkt.Dst, pkt.Transport, &m)
		}
	}
	for {
		err := src.Next(&f)
		if err == io.EOF || errors.Is(err, capture.ErrTruncated) {
			break
		}
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		if base == 0 {
			base = f.TS
		}
		lastTS = max(lastTS, f.TS)
		if dec.Decode(f.LinkType, f.Data, f.TS, &pkt) != nil {
			continue
		}
		pl := pkt.Payload
		switch pkt.Transport {
		case decode.TransportUDP:
			switch {
			case sip.LooksLikeSIP(pl):
				handleSIP(pl)
			case rtp.LooksLikeRTCP(pl):
			case rtp.LooksLikeRTP(pl) && h.Unmarshal(pl) == nil:
				if keep != nil && !keep(&pkt, false) {
					continue
				}
				k := streamKey{pkt.Src, pkt.Dst, h.SSRC}
				s := streams[k]
				if s == nil {
					s = &testStream{first: pkt.TS, callID: corr.BindMedia(pkt.Src, pkt.Dst).CallID}
					streams[k] = s
					order = append(order, s)
					keys = append(keys, k)
				}
				s.last = pkt.TS
				s.q.Update(quality.RelMs(pkt.TS, base), h.SequenceNumber, h.Timestamp, h.PayloadType, h.Marker,
					quality.ClockRate(h.PayloadType), len(h.Payload))
			}
		case decode.TransportTCP:
			for pl = bytes.TrimLeft(pl, "\r\n"); len(pl) > 0 && sip.LooksLikeSIP(pl); pl = bytes.TrimLeft(pl, "\r\n") {
				n, err := sip.FrameLength(pl)
				if err != nil {
					break
				}
				handleSIP(pl[:n])
				pl = pl[n:]
			}
		}
	}
	corr.EndOfCapture(lastTS)
	var out []quality.Stream
	for i, s := range order {
		if id := corr.MediaCallID(keys[i].src, keys[i].dst); id != "" {
			s.callID = id
		}
		if s.callID == "" {
			continue // heuristic RTP no SDP explains belongs to no call
		}
		var st quality.Stream
		s.q.Fill(&st, "")
		st.SSRC, st.Src, st.Dst = keys[i].ssrc, keys[i].src, keys[i].dst
		st.PayloadType = s.q.Stats().PayloadType()
		st.Payload = s.q.Stats().PayloadNames()
		st.Start, st.End = time.Unix(0, s.first).UTC(), time.Unix(0, s.last).UTC()
		st.CallID = s.callID
		out = append(out, st)
	}
	slices.SortStableFunc(out, func(a, b quality.Stream) int { return a.Start.Compare(b.Start) })
	calls := corr.Calls()
	Apply(calls, out)
	return calls, out
}
