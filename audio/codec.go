package audio

import (
	"fmt"
	"strings"
)

// Codec is a payload format this package can play.
type Codec uint8

const (
	// PCMU is G.711 µ-law (static payload type 0).
	PCMU Codec = iota + 1
	// PCMA is G.711 A-law (static payload type 8).
	PCMA
)

// SampleRate is the rate of every WAV written: G.711's 8 kHz.
const SampleRate = 8000

func (c Codec) String() string {
	switch c {
	case PCMU:
		return "PCMU"
	case PCMA:
		return "PCMA"
	}
	return "unknown"
}

// samples is how many samples payload carries: one a byte for G.711.
func (c Codec) samples(payload []byte) int { return len(payload) }

// decode expands payload into dst, which holds at least c.samples(payload).
func (c Codec) decode(dst []int16, payload []byte) {
	table := &ulawTable
	if c == PCMA {
		table = &alawTable
	}
	for i, b := range payload {
		dst[i] = table[b]
	}
}

// CodecByName finds the codec of an SDP rtpmap encoding name ("PCMU",
// "pcma"; case does not matter). Any other name is ErrUnsupportedCodec
// naming it.
func CodecByName(name string) (Codec, error) {
	switch strings.ToUpper(name) {
	case "PCMU":
		return PCMU, nil
	case "PCMA":
		return PCMA, nil
	}
	return 0, fmt.Errorf("%w: %s", ErrUnsupportedCodec, name)
}

// StaticCodec is the codec of a static RTP payload type (RFC 3551): PCMU
// for 0, PCMA for 8, ErrUnsupportedCodec for any other.
func StaticCodec(pt uint8) (Codec, error) {
	switch pt {
	case 0:
		return PCMU, nil
	case 8:
		return PCMA, nil
	}
	return 0, fmt.Errorf("%w: RTP payload type %d", ErrUnsupportedCodec, pt)
}
