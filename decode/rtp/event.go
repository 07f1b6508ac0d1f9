package rtp

import "encoding/binary"

// Event is one RFC 4733 telephone event (a DTMF digit, for events 0-15).
type Event struct {
	Event    uint8  // 0-9, 10 '*', 11 '#', 12-15 A-D, others per RFC 4734
	End      bool   // the last packets of an event carry E
	Volume   uint8  // power level in -dBm0, 0-63
	Duration uint16 // in RTP timestamp units since the event began
}

// Unmarshal reads the first event of a telephone-event payload. Several
// events may follow in the same payload (RFC 4733 section 2.5.1.5); callers
// that want them call Unmarshal on payload[4:], payload[8:], ...
func (e *Event) Unmarshal(payload []byte) error {
	if len(payload) < 4 {
		return ErrEventTooShort
	}
	e.Event = payload[0]
	e.End = payload[1]&0x80 != 0
	e.Volume = payload[1] & 0x3f
	e.Duration = binary.BigEndian.Uint16(payload[2:])
	return nil
}
