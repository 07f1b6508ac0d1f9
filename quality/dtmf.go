package quality

import (
	"strconv"
	"time"

	"github.com/sipscope/sipscope/decode/rtp"
)

// DTMFEvent is one RFC 4733 telephone event (a key press, for events 0-15)
// as the packets of one stream carried it.
type DTMFEvent struct {
	Event      uint8     // RFC 4733 event code
	Digit      string    // "0"-"9", "*", "#", "A"-"D", or the decimal event code
	Start      time.Time // arrival of the event's first packet
	Timestamp  uint32    // RTP timestamp of the event's start
	DurationMs float64   // the longest duration its packets reported, at the event clock
	Volume     uint8     // power level, -dBm0 (0-63), from the latest packet
	Ended      bool      // an end packet arrived
	StartSeen  bool      // the start packet (marker bit) arrived; false when it was lost
	Packets    int       // packets that carried it, retransmissions included
}

// DefaultMaxDTMFEvents bounds the events one DTMFTracker keeps.
const DefaultMaxDTMFEvents = 1024

// dtmfLookback is how many recent events a packet may belong to: a late
// retransmitted end packet of the previous digit can arrive after the next
// digit began.
const dtmfLookback = 4

// DTMFTracker turns the RFC 4733 telephone-event packets of one RTP stream
// into events. All packets of an event share its start timestamp (RFC 4733
// §2.5.1.2), so the timestamp identifies the event: the start packet
// retransmitted with the marker bit and the end packet sent three times
// (§2.5.1.4) fold into one event with the longest duration reported. An
// event longer than the 16-bit duration field (about 8 s at 8 kHz) goes on
// in a new segment whose timestamp is the old one plus the old duration
// (§2.5.1.3); that segment extends the same event. Only the first event of
// a packet is read; the rarely used packing of several (§2.5.1.5) carries
// older events redundantly.
//
// The zero value is ready, with an 8000 Hz event clock. Observe allocates
// only when a new event starts (its slice grows, and an event code above 15
// names its digit with strconv). DTMFTracker is not safe for concurrent use.
type DTMFTracker struct {
	clock     uint32
	maxEvents int
	events    []DTMFEvent
	segBase   []uint32 // per event: duration units of earlier segments
	segTS     []uint32 // per event: timestamp of the current segment
	segDur    []uint16 // per event: longest duration of the current segment
	dropped   int
	malformed int
}

// SetClockRate sets the telephone-event clock from the SDP's rtpmap (0:
// 8000 Hz).
func (d *DTMFTracker) SetClockRate(hz uint32) { d.clock = hz }

// SetMaxEvents bounds the events kept (0: DefaultMaxDTMFEvents); later
// events are counted in Dropped.
func (d *DTMFTracker) SetMaxEvents(n int) { d.maxEvents = n }

// Observe takes the payload of one telephone-event packet with its RTP
// timestamp, marker bit and arrival time (Unix ns). A payload shorter than
// an event is counted and its error returned.
func (d *DTMFTracker) Observe(payload []byte, ts uint32, marker bool, arrivalNs int64) error {
	var ev rtp.Event
	if err := ev.Unmarshal(payload); err != nil {
		d.malformed++
		return err
	}
	lo := max(0, len(d.events)-dtmfLookback)
	for i := len(d.events) - 1; i >= lo; i-- {
		e := &d.events[i]
		if e.Event != ev.Event {
			continue
		}
		switch {
		case d.segTS[i] == ts:
			d.segDur[i] = max(d.segDur[i], ev.Duration)
		case !e.Ended && ts-d.segTS[i] == uint32(d.segDur[i]) && d.segDur[i] != 0:
			// A new segment of a long event.
			d.segBase[i] += uint32(d.segDur[i])
			d.segTS[i], d.segDur[i] = ts, ev.Duration
		default:
			continue
		}
		e.Packets++
		e.StartSeen = e.StartSeen || marker
		e.Volume = ev.Volume
		e.Ended = e.Ended || ev.End
		e.DurationMs = d.ms(d.segBase[i] + uint32(d.segDur[i]))
		return nil
	}
	limit := d.maxEvents
	if limit <= 0 {
		limit = DefaultMaxDTMFEvents
	}
	if len(d.events) >= limit {
		d.dropped++
		return nil
	}
	d.events = append(d.events, DTMFEvent{
		Event:      ev.Event,
		Digit:      dtmfDigit(ev.Event),
		Start:      time.Unix(0, arrivalNs).UTC(),
		Timestamp:  ts,
		DurationMs: d.ms(uint32(ev.Duration)),
		Volume:     ev.Volume,
		Ended:      ev.End,
		StartSeen:  marker,
		Packets:    1,
	})
	d.segBase = append(d.segBase, 0)
	d.segTS = append(d.segTS, ts)
	d.segDur = append(d.segDur, ev.Duration)
	return nil
}

func (d *DTMFTracker) ms(units uint32) float64 {
	clock := d.clock
	if clock == 0 {
		clock = 8000
	}
	return float64(units) * 1000 / float64(clock)
}

// Events returns the events so far, oldest first. The slice is the
// tracker's own: copy it to keep it past the next Observe.
func (d *DTMFTracker) Events() []DTMFEvent { return d.events }

// Digits joins the events' digits, e.g. "1234#".
func (d *DTMFTracker) Digits() string {
	var b []byte
	for i := range d.events {
		b = append(b, d.events[i].Digit...)
	}
	return string(b)
}

// Dropped is the number of events beyond the bound.
func (d *DTMFTracker) Dropped() int { return d.dropped }

// Malformed is the number of payloads too short for an event.
func (d *DTMFTracker) Malformed() int { return d.malformed }

// dtmfDigit names an RFC 4733 event: the DTMF keys for 0-15 (RFC 4733
// Table 7), the decimal code for the rest (RFC 4734's tones and signals).
func dtmfDigit(ev uint8) string {
	const keys = "0123456789*#ABCD"
	if int(ev) < len(keys) {
		return keys[ev : ev+1]
	}
	return strconv.Itoa(int(ev))
}
