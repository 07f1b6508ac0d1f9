package quality

import (
	"net/netip"
	"time"
)

// Stream is the finished statistics of one RTP stream (one SSRC from one
// source to one destination), computed the way tshark -z rtp,streams does.
// Times in milliseconds.
type Stream struct {
	SSRC         uint32
	Src, Dst     netip.AddrPort
	PayloadType  uint8
	Payload      string // tshark's name: "g711U", "g711A", "g722", "g729", or "RTPType-N"
	Start, End   time.Time
	Packets      int // received
	Expected     int
	Lost         int // Expected - Packets (negative with duplicates, as tshark)
	SeqErrors    int
	MinDeltaMs   float64
	MeanDeltaMs  float64
	MaxDeltaMs   float64
	MinJitterMs  float64
	MeanJitterMs float64
	MaxJitterMs  float64
	MOS          float64 // E-model MOS-CQ of this direction
	CallID       string  // bound through SDP; empty when nothing bound it
	// Duplicates are packets whose sequence number came again; only a
	// T.38 stream (Payload "t38") counts them apart from Lost.
	Duplicates int

	// What the listener got, filled by StreamQuality.Fill. The fields above
	// stay tshark-exact; these add the receiver's view on top.
	Late           int     // packets that arrived after the simulated jitter buffer's playout time
	EffectiveLost  int     // sequence numbers never heard, missing or late: max(Lost, 0) + Late unless reordering throws tshark's Lost
	JitterBuffer   string  // the simulated buffer: "adaptive", "fixed-50ms" or "fixed-200ms"
	JitterBufferMs float64 // mean delay the simulated buffer adds (to the E-model's one-way delay)
	BurstR         float64 // G.107 burst ratio of the effective loss (network + late); 1 = random
	RTTMs          float64 // RTCP round trip (mean) used for the E-model delay (one way = RTT/2); 0 = none seen
	R              float64 // E-model rating R behind MOS
	MOSTimeline    []IntervalMOS
	RTCP           RTCPReport  // what the endpoints reported about this SSRC; RTCP.Reports == 0 when nothing
	DTMF           []DTMFEvent // RFC 4733 events the stream carried (DTMFTracker.Events, copied)
}
