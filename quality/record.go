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
}
