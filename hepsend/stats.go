package hepsend

import (
	"math"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/sipscope/sipscope/hep"
	"github.com/sipscope/sipscope/quality"
)

// hepStatsEvery is how often a stream that keeps receiving packets is
// reported while it lasts (in stream time); a last report follows when the
// stream ends.
const hepStatsEvery = 10 * time.Second

// sendStats queues one stream's statistics as an RTP agent report: HEP
// type 34, the JSON below as payload, the Call-ID as correlation id. Homer
// lists these under the call's QoS tab (homer-app reads them from
// hep_proto_35_default, where heplify-server files every report type with a
// correlation id) and heplify-server turns DELTA, JITTER, MOS and
// PACKET_LOSS into its rtpagent metrics. A live stream is reported at most
// every statsEvery, as "PERIODIC"; final sends the last one, "FINAL".
// A stream no SDP tied to a call is counted (once, when it ends) and not
// sent. It runs on the pipeline goroutine, with send's rules.
func (s *Sender) sendStats(st *quality.Stream, final bool) {
	if s.closed {
		return
	}
	c := &s.counts[hepKindStats]
	if st.CallID == "" {
		if final {
			c.noCall.Add(1)
		}
		return
	}
	key := streamKey{src: st.Src, dst: st.Dst, ssrc: st.SSRC}
	end := st.End.UnixNano()
	last, seen := s.lastRep[key]
	switch {
	case final:
		delete(s.lastRep, key)
	case seen && end-last < s.statsEvery:
		return
	default:
		s.lastRep[key] = end
	}
	s.json = appendStatsJSON(s.json[:0], st, final)
	s.cid = append(s.cid[:0], st.CallID...)
	s.setFlow(st.Src, st.Dst, end)
	h := &s.hdr
	h.ProtoType = hep.ProtoMOSFull
	h.Protocol = 17
	h.Payload, h.CorrelationID = s.json, s.cid
	s.enqueue(hepKindStats)
}

// appendStatsJSON writes st with the key names of the RTP agent reports
// Homer knows (TOTAL_PK, EXPECTED_PK, PACKET_LOSS, JITTER, DELTA, MOS, ...).
// Values are cumulative over the stream so far; times are Unix seconds,
// delays milliseconds; PACKET_LOSS is never negative (duplicates do not
// cancel loss).
func appendStatsJSON(b []byte, st *quality.Stream, final bool) []byte {
	b = append(b, `{"CORRELATION_ID":`...)
	b = appendJSONString(b, st.CallID)
	b = append(b, `,"RTP_SIP_CALL_ID":`...)
	b = appendJSONString(b, st.CallID)
	b = append(b, `,"REPORT_TS":`...)
	b = strconv.AppendInt(b, st.End.Unix(), 10)
	b = append(b, `,"REPORT_START":`...)
	b = strconv.AppendInt(b, st.Start.Unix(), 10)
	b = append(b, `,"REPORT_END":`...)
	b = strconv.AppendInt(b, st.End.Unix(), 10)
	if final {
		b = append(b, `,"TYPE":"FINAL"`...)
	} else {
		b = append(b, `,"TYPE":"PERIODIC"`...)
	}
	b = append(b, `,"SSRC":"0x`...)
	b = appendHex8(b, st.SSRC)
	b = append(b, `","SRC_IP":"`...)
	b = st.Src.Addr().Unmap().AppendTo(b)
	b = append(b, `","SRC_PORT":`...)
	b = strconv.AppendUint(b, uint64(st.Src.Port()), 10)
	b = append(b, `,"DST_IP":"`...)
	b = st.Dst.Addr().Unmap().AppendTo(b)
	b = append(b, `","DST_PORT":`...)
	b = strconv.AppendUint(b, uint64(st.Dst.Port()), 10)
	b = append(b, `,"CODEC_PT":`...)
	b = strconv.AppendUint(b, uint64(st.PayloadType), 10)
	b = append(b, `,"CODEC_NAME":`...)
	b = appendJSONString(b, st.Payload)
	b = append(b, `,"CLOCK":`...)
	b = strconv.AppendUint(b, uint64(quality.ClockRate(st.PayloadType)), 10)
	b = append(b, `,"TOTAL_PK":`...)
	b = strconv.AppendInt(b, int64(st.Packets), 10)
	b = append(b, `,"EXPECTED_PK":`...)
	b = strconv.AppendInt(b, int64(st.Expected), 10)
	b = append(b, `,"PACKET_LOSS":`...)
	b = strconv.AppendInt(b, int64(max(st.Lost, 0)), 10)
	minMOS, meanMOS := timelineMOS(st)
	for _, f := range []struct {
		key string
		v   float64
	}{
		{`,"DELTA":`, st.MeanDeltaMs},
		{`,"MAX_DELTA":`, st.MaxDeltaMs},
		{`,"JITTER":`, st.MeanJitterMs},
		{`,"MEAN_JITTER":`, st.MeanJitterMs},
		{`,"MAX_JITTER":`, st.MaxJitterMs},
		{`,"MOS":`, st.MOS},
		{`,"MIN_MOS":`, minMOS},
		{`,"MEAN_MOS":`, meanMOS},
		{`,"RFACTOR":`, st.R},
	} {
		b = append(b, f.key...)
		b = appendJSONFloat(b, f.v)
	}
	return append(b, '}')
}

// timelineMOS is the lowest and the mean MOS of the stream's intervals
// that had packets due; without any, both are the stream's MOS.
func timelineMOS(st *quality.Stream) (minMOS, meanMOS float64) {
	n := 0
	for _, iv := range st.MOSTimeline {
		if iv.MOS <= 0 {
			continue
		}
		if n == 0 || iv.MOS < minMOS {
			minMOS = iv.MOS
		}
		meanMOS += iv.MOS
		n++
	}
	if n == 0 {
		return st.MOS, st.MOS
	}
	return minMOS, meanMOS / float64(n)
}

// appendJSONFloat writes v with 3 decimals; JSON has no NaN or infinity,
// so those are written as 0.
func appendJSONFloat(b []byte, v float64) []byte {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		v = 0
	}
	return strconv.AppendFloat(b, v, 'f', 3, 64)
}

func appendHex8(b []byte, v uint32) []byte {
	const digits = "0123456789abcdef"
	for shift := 28; shift >= 0; shift -= 4 {
		b = append(b, digits[v>>uint(shift)&0xf])
	}
	return b
}

// appendJSONString writes s as a JSON string. A Call-ID may hold quotes
// and backslashes (RFC 3261's word), and a captured one any byte, so it is
// escaped, with bytes that are not UTF-8 replaced by U+FFFD.
func appendJSONString(b []byte, s string) []byte {
	const hex = "0123456789abcdef"
	b = append(b, '"')
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			switch {
			case c == '"' || c == '\\':
				b = append(b, '\\', c)
			case c < 0x20:
				b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
			default:
				b = append(b, c)
			}
			i++
			continue
		}
		r, n := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && n == 1 {
			b = append(b, `\ufffd`...)
		} else {
			b = append(b, s[i:i+n]...)
		}
		i += n
	}
	return append(b, '"')
}
