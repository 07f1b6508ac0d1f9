package api

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/sipscope/sipscope/audio"
	"github.com/sipscope/sipscope/decode"
	"github.com/sipscope/sipscope/decode/rtp"
	"github.com/sipscope/sipscope/decode/sdp"
	"github.com/sipscope/sipscope/decode/sip"
	"github.com/sipscope/sipscope/frame"
	"github.com/sipscope/sipscope/quality"
	"github.com/sipscope/sipscope/storage"
)

// Audio directions of GET /calls/:id/audio.
const (
	audioCaller = "caller" // the caller → callee stream(s): what the callee heard
	audioCallee = "callee" // the callee → caller stream(s)
	audioBoth   = "both"   // stereo: caller → callee left, callee → caller right
)

// Bounds of one audio render beyond audio.DefaultMaxDuration: RTP streams
// (SSRC, source, destination) of one call, and media addresses taken from
// its SDP per side. What is past them is left out.
const (
	maxAudioStreams    = 64
	maxAnnouncedMedia  = 32
	audioLengthSlackNs = int64(time.Minute) // stream records vs. the packets
)

var audioParams = []param{
	idParam,
	{name: "direction", in: "query", typ: "string", enum: []string{audioCaller, audioCallee, audioBoth},
		desc: "caller: the audio the caller sent (default); callee: what the callee sent; both: stereo, caller left, callee right, aligned on capture time", bad: "up"},
	{name: "stream", in: "query", typ: "string",
		desc: "one RTP stream by SSRC, decimal or 0x hex, instead of a direction (with direction too when the SSRC flows both ways)", bad: "0xZZ"},
}

// callAudio answers the call's RTP as a WAV file: G.711 decoded to 16-bit
// PCM at 8 kHz, lost packets as silence of their length. The packets are
// the stored frames (store_rtp full); a call whose media was not stored,
// or stored without payload, gets an answer saying so.
func (s *Server) callAudio(c *gin.Context) {
	q := c.Request.URL.Query()
	dir := q.Get("direction")
	switch dir {
	case "", audioCaller, audioCallee, audioBoth:
	default:
		s.badRequest(c, badParam("direction", "want caller, callee or both, got %q", dir))
		return
	}
	var ssrc uint32
	haveSSRC := false
	if v := q.Get("stream"); v != "" {
		n, err := strconv.ParseUint(v, 0, 32)
		if err != nil {
			s.badRequest(c, badParam("stream", "want an SSRC, decimal or 0x hex, got %q", v))
			return
		}
		ssrc, haveSSRC = uint32(n), true
		if dir == audioBoth {
			s.badRequest(c, badParam("direction", "a single stream is one channel: want caller or callee with stream"))
			return
		}
	}
	detail, ok := s.loadCall(c)
	if !ok {
		return
	}
	call := &detail.Call
	fs, ok := s.store.(FrameStore)
	if !ok {
		c.JSON(http.StatusNotImplemented, gin.H{"error": "this store keeps no captured frames, so it has no audio"})
		return
	}
	sides := mediaSides(detail)
	if span := sides.longestSpan(detail.Streams); span > int64(audio.DefaultMaxDuration)+audioLengthSlackNs {
		c.JSON(http.StatusRequestEntityTooLarge, gin.H{"error": fmt.Sprintf("the call's audio lasts %v, more than the %v one file may hold",
			time.Duration(span).Round(time.Second), audio.DefaultMaxDuration)})
		return
	}
	release, ok := s.exportSlot(c)
	if !ok {
		return
	}
	defer release()
	ctx := c.Request.Context()
	pkts, err := fs.CallPackets(ctx, []string{call.CallID})
	if err != nil {
		s.storeFailed(c, "get call packets", err)
		return
	}
	groups, cut, skipped := rtpGroups(pkts)
	if len(groups) == 0 {
		s.noAudio(c, call.CallID, len(detail.Streams), cut)
		return
	}
	for _, g := range groups {
		g.dir = sides.direction(g.src, g.dst)
	}

	name := strings.TrimSuffix(PCAPFilename(call.CallID), ".pcap")
	var chans [][]*rtpGroup
	switch {
	case haveSSRC:
		sel := selectStream(groups, ssrc, dir)
		if len(sel) == 0 {
			c.JSON(http.StatusNotFound, gin.H{"error": fmt.Sprintf("no stored RTP stream of this call has SSRC 0x%08X", ssrc), "call_id": call.CallID})
			return
		}
		chans, name = [][]*rtpGroup{sel}, fmt.Sprintf("%s-ssrc-0x%08X", name, ssrc)
	case dir == audioBoth:
		chans, name = [][]*rtpGroup{byDirection(groups, 0), byDirection(groups, 1)}, name+"-both"
		if len(chans[0])+len(chans[1]) == 0 {
			c.JSON(http.StatusNotFound, gin.H{"error": "no stored RTP stream of this call could be told to go either way between caller and callee", "call_id": call.CallID})
			return
		}
	default:
		d, word := 0, "from the caller to the callee"
		if dir == audioCallee {
			d, word = 1, "from the callee to the caller"
		}
		if dir == "" {
			dir = audioCaller
		}
		chans, name = [][]*rtpGroup{byDirection(groups, d)}, name+"-"+dir
		if len(chans[0]) == 0 {
			c.JSON(http.StatusNotFound, gin.H{"error": "no RTP went " + word + " in this call's stored packets", "call_id": call.CallID})
			return
		}
	}

	channels := make([]*audio.Channel, len(chans))
	var unsupported []string
	for i, gs := range chans {
		var streams []audio.Stream
		for _, g := range gs {
			st, err := g.stream(sides.rtpmap)
			if errors.Is(err, audio.ErrUnsupportedCodec) {
				unsupported = append(unsupported, g.codecName(sides.rtpmap))
				continue
			}
			if err != nil {
				continue // nothing but comfort noise or events: silence
			}
			streams = append(streams, st)
		}
		channels[i] = audio.NewChannel(streams...)
	}
	r, err := audio.NewRender(audio.DefaultMaxDuration, channels...)
	switch {
	case errors.Is(err, audio.ErrNoAudio) && len(unsupported) > 0:
		slices.Sort(unsupported)
		unsupported = slices.Compact(unsupported)
		c.JSON(http.StatusUnsupportedMediaType, gin.H{
			"error": "cannot play " + strings.Join(unsupported, ", ") + " audio: only G.711 (PCMU, PCMA) is decoded",
			"codec": unsupported[0], "call_id": call.CallID})
		return
	case errors.Is(err, audio.ErrNoAudio):
		c.JSON(http.StatusNotFound, gin.H{"error": "the stored RTP of this call carries no audio (only comfort noise or events)", "call_id": call.CallID})
		return
	case errors.Is(err, audio.ErrTooLong):
		c.JSON(http.StatusRequestEntityTooLarge, gin.H{"error": err.Error()})
		return
	case err != nil:
		s.log.Error("api audio render failed", "call_id", call.CallID, "err", err, "request_id", requestIDOf(c))
		c.JSON(http.StatusInternalServerError, gin.H{"error": "cannot render this call's audio", "request_id": requestIDOf(c)})
		return
	}
	lost := 0
	for _, ch := range channels {
		lost += ch.Stats.Lost
	}
	h := c.Writer.Header()
	h.Set("Content-Type", "audio/wav")
	h.Set("Content-Disposition", `attachment; filename="`+name+`.wav"`)
	h.Set("Content-Length", strconv.FormatInt(r.Size(), 10))
	h.Set("X-Sipscope-Audio-Start", time.Unix(0, r.Start()).UTC().Format(time.RFC3339Nano))
	h.Set("X-Sipscope-Audio-Lost", strconv.Itoa(lost))
	if len(unsupported) > 0 {
		// Streams in a codec this cannot decode, played as silence
		// next to those it could.
		slices.Sort(unsupported)
		h.Set("X-Sipscope-Audio-Unsupported", strings.Join(slices.Compact(unsupported), ", "))
	}
	if skipped > 0 {
		// Packets of streams past maxAudioStreams, left out.
		h.Set("X-Sipscope-Audio-Skipped", strconv.Itoa(skipped))
	}
	c.Status(http.StatusOK)
	if _, err := r.WriteTo(c.Writer); err != nil {
		// Headers are gone: all that is left is to stop. A client that
		// hung up is not worth more than a debug line.
		level := s.log.Warn
		if errors.Is(ctx.Err(), context.Canceled) {
			level = s.log.Debug
		}
		level("api audio write stopped", "call_id", call.CallID, "err", err)
	}
}

// noAudio explains why a call with no playable RTP packet has none.
func (s *Server) noAudio(c *gin.Context, callID string, streams, cut int) {
	switch {
	case cut > 0:
		c.JSON(http.StatusConflict, gin.H{"error": "only the RTP headers of this call were stored (store_rtp headers), so there is no audio to play", "call_id": callID})
	case streams > 0:
		c.JSON(http.StatusConflict, gin.H{"error": "this call had RTP but its packets were not stored (store_rtp none, or they aged out), so there is no audio to play", "call_id": callID})
	default:
		c.JSON(http.StatusNotFound, gin.H{"error": "this call has no stored RTP packets", "call_id": callID})
	}
}

// rtpGroup is the stored packets of one RTP stream of the call.
type rtpGroup struct {
	ssrc     uint32
	src, dst netip.AddrPort
	dir      int // 0 caller → callee, 1 callee → caller, -1 unknown
	packets  []audio.Packet
	ptCount  [128]int
}

// rtpGroups decodes the stored RTP frames and groups them by stream, in
// capture order. Frames cut short (store_rtp headers, a snap length) have
// lost their payload and are counted instead (cut); so are the packets of
// streams past maxAudioStreams (skipped).
func rtpGroups(pkts []storage.Packet) (groups []*rtpGroup, cut, skipped int) {
	type key struct {
		ssrc     uint32
		src, dst netip.AddrPort
	}
	index := map[key]*rtpGroup{}
	dec := decode.NewDecoder()
	var p decode.Packet
	var h rtp.Header
	for i := range pkts {
		sp := &pkts[i]
		if sp.Kind != storage.PacketRTP {
			continue
		}
		if int(sp.OrigLen) > len(sp.Data) {
			cut++
			continue
		}
		if dec.Decode(frame.LinkType(sp.LinkType), sp.Data, sp.TS, &p) != nil || p.Transport != decode.TransportUDP {
			continue
		}
		if h.Unmarshal(p.Payload) != nil {
			continue
		}
		k := key{h.SSRC, p.Src, p.Dst}
		g := index[k]
		if g == nil {
			if len(index) == maxAudioStreams {
				skipped++
				continue
			}
			g = &rtpGroup{ssrc: h.SSRC, src: p.Src, dst: p.Dst}
			index[k] = g
			groups = append(groups, g)
		}
		g.ptCount[h.PayloadType]++
		g.packets = append(g.packets, audio.Packet{TS: sp.TS, Seq: h.SequenceNumber, Timestamp: h.Timestamp,
			PayloadType: h.PayloadType, Payload: h.Payload})
	}
	return groups, cut, skipped
}

// nonAudio are payload names that carry no sound of their own.
var nonAudio = []string{"telephone-event", "cn", "rtpevent", "cn(old)"}

// audioPT is the stream's most frequent payload type that is sound
// (not comfort noise nor an event); false when it has none.
func (g *rtpGroup) audioPT(rtpmap map[uint8]string) (uint8, bool) {
	best, n := uint8(0), 0
	for pt, c := range g.ptCount {
		if c > n && !slices.Contains(nonAudio, strings.ToLower(codecName(uint8(pt), rtpmap))) {
			best, n = uint8(pt), c
		}
	}
	return best, n > 0
}

func (g *rtpGroup) codecName(rtpmap map[uint8]string) string {
	pt, _ := g.audioPT(rtpmap)
	return codecName(pt, rtpmap)
}

// codecName names payload type pt: as the call's SDP did, else by the
// static table in tshark's words (g729, g722, ...).
func codecName(pt uint8, rtpmap map[uint8]string) string {
	if n := rtpmap[pt]; n != "" {
		return n
	}
	switch pt {
	case 0:
		return "PCMU"
	case 8:
		return "PCMA"
	}
	return quality.PayloadName(pt)
}

// errSilentStream: a stream of only comfort noise or events.
var errSilentStream = errors.New("api: stream carries no audio payload type")

func (g *rtpGroup) stream(rtpmap map[uint8]string) (audio.Stream, error) {
	pt, ok := g.audioPT(rtpmap)
	if !ok {
		return audio.Stream{}, errSilentStream
	}
	codec, err := audio.CodecByName(codecName(pt, rtpmap))
	if err != nil {
		return audio.Stream{}, err
	}
	return audio.Stream{Codec: codec, PayloadType: pt, Packets: g.packets}, nil
}

func byDirection(groups []*rtpGroup, d int) []*rtpGroup {
	var out []*rtpGroup
	for _, g := range groups {
		if g.dir == d {
			out = append(out, g)
		}
	}
	return out
}

// selectStream picks the streams with ssrc: those of direction dir when
// given, else those of the first direction (caller → callee, callee →
// caller, unknown) that has one, since mixing both ways in one channel
// would play both parties over each other.
func selectStream(groups []*rtpGroup, ssrc uint32, dir string) []*rtpGroup {
	var same []*rtpGroup
	for _, g := range groups {
		if g.ssrc == ssrc {
			same = append(same, g)
		}
	}
	order := []int{0, 1, -1}
	switch dir {
	case audioCaller:
		order = []int{0}
	case audioCallee:
		order = []int{1}
	}
	for _, d := range order {
		if sel := byDirection(same, d); len(sel) > 0 {
			return sel
		}
	}
	return nil
}

// sides is what the call's signalling says about its media: where each
// side's SIP came from and where each side asked to receive audio, and
// the payload types its SDP named.
type sides struct {
	callerIP, calleeIP       netip.Addr
	callerSIP, calleeSIP     netip.AddrPort
	callerMedia, calleeMedia []netip.AddrPort
	rtpmap                   map[uint8]string
}

// mediaSides reads the SDP of the call's stored messages. A message comes
// from the caller when it comes from where the first INVITE came from.
func mediaSides(d storage.CallDetail) *sides {
	sd := &sides{callerIP: d.Call.SrcIP.Unmap(), calleeIP: d.Call.DstIP.Unmap(), rtpmap: map[uint8]string{}}
	for i := range d.Messages {
		m := &d.Messages[i]
		if m.IsRequest && m.Method == "INVITE" {
			sd.callerSIP, sd.calleeSIP = unmapAP(m.Src), unmapAP(m.Dst)
			break
		}
	}
	var msg sip.Message
	var sess sdp.Session
	for i := range d.Messages {
		m := &d.Messages[i]
		if msg.Unmarshal(m.Raw) != nil {
			continue
		}
		body := msg.SDP()
		if body == nil || sess.Unmarshal(body) != nil {
			continue
		}
		var list *[]netip.AddrPort
		switch sd.sideOf(unmapAP(m.Src)) {
		case 0:
			list = &sd.callerMedia
		case 1:
			list = &sd.calleeMedia
		}
		for k := range sess.NumMedia {
			md := &sess.Media[k]
			if !strings.EqualFold(string(md.Type), "audio") {
				continue
			}
			for j := range md.NumRTPMaps {
				rm := &md.RTPMaps[j]
				if _, seen := sd.rtpmap[rm.PT]; !seen && rm.PT < 128 {
					sd.rtpmap[rm.PT] = string(rm.Encoding)
				}
			}
			ap := unmapAP(sess.RTPAddr(k))
			if list != nil && ap.Port() != 0 && !slices.Contains(*list, ap) && len(*list) < maxAnnouncedMedia {
				*list = append(*list, ap)
			}
		}
	}
	return sd
}

// sideOf tells who sent a message from src: 0 the caller, 1 the callee,
// -1 neither. By address when the two sides have different ones (a TCP
// caller sends from more than one port), else by address and port.
func (sd *sides) sideOf(src netip.AddrPort) int {
	if sd.callerIP != sd.calleeIP {
		switch src.Addr() {
		case sd.callerIP:
			return 0
		case sd.calleeIP:
			return 1
		}
		return -1
	}
	switch src {
	case sd.callerSIP:
		return 0
	case sd.calleeSIP:
		return 1
	}
	return -1
}

func unmapAP(ap netip.AddrPort) netip.AddrPort {
	return netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port())
}

// direction tells which way a stream goes, by the rule diagnose uses for
// the call's findings (so the player and the diagnosis agree): to where a
// side asked to receive, else from where a side announced (symmetric
// RTP), else by the signalling addresses; -1 when nothing tells.
func (sd *sides) direction(src, dst netip.AddrPort) int {
	src, dst = unmapAP(src), unmapAP(dst)
	switch {
	case slices.Contains(sd.calleeMedia, dst):
		return 0
	case slices.Contains(sd.callerMedia, dst):
		return 1
	case slices.Contains(sd.callerMedia, src):
		return 0
	case slices.Contains(sd.calleeMedia, src):
		return 1
	case src.Addr() == sd.callerIP || dst.Addr() == sd.calleeIP:
		return 0
	case src.Addr() == sd.calleeIP || dst.Addr() == sd.callerIP:
		return 1
	}
	return -1
}

// longestSpan is the longest time any one direction's stored streams
// cover, from the stream records: enough to refuse a render that cannot
// fit before reading its packets.
func (sd *sides) longestSpan(streams []quality.Stream) int64 {
	var first, last [3]int64
	for i := range streams {
		s := &streams[i]
		if s.Payload == "t38" {
			continue
		}
		d := sd.direction(s.Src, s.Dst) + 1
		a, b := s.Start.UnixNano(), s.End.UnixNano()
		if first[d] == 0 || a < first[d] {
			first[d] = a
		}
		last[d] = max(last[d], b)
	}
	span := int64(0)
	for d := range first {
		span = max(span, last[d]-first[d])
	}
	return span
}
