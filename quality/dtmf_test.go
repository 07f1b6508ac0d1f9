package quality

import (
	"errors"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/sipscope/sipscope/decode/rtp"
)

// eventPayload is an RFC 4733 payload: event, E bit, volume, duration.
func eventPayload(ev uint8, end bool, volume uint8, dur uint16) []byte {
	b := []byte{ev, volume & 0x3f, byte(dur >> 8), byte(dur)}
	if end {
		b[1] |= 0x80
	}
	return b
}

func TestDTMFTrackerMatchesTsharkOnTheSIPpCapture(t *testing.T) {
	path := capturesDir + "/sipp__dtmf_2833_1.pcap"
	out, err := exec.Command("tshark", "-r", path, "--enable-heuristic", "rtp_udp", "-Y", "rtpevent",
		"-T", "fields", "-e", "frame.time_epoch", "-e", "rtp.timestamp", "-e", "rtpevent.event_id",
		"-e", "rtpevent.end_of_event", "-e", "rtpevent.volume", "-e", "rtpevent.duration").Output()
	if err != nil {
		t.Fatalf("tshark (needed as the DTMF oracle): %v", err)
	}
	lines := strings.Split(strings.TrimRight(string(out), "\n"), "\n")
	if len(lines) != 10 {
		t.Fatalf("tshark shows %d telephone-event packets, the manifest says 10", len(lines))
	}
	// What tshark shows, folded by hand: one event per RTP timestamp, its
	// start the first packet's time, its duration the largest.
	var want DTMFEvent
	for i, l := range lines {
		f := strings.Split(l, "\t")
		sec, frac, _ := strings.Cut(f[0], ".")
		secs, _ := strconv.ParseInt(sec, 10, 64)
		nanos, _ := strconv.ParseInt((frac + "000000000")[:9], 10, 64)
		ts, _ := strconv.ParseUint(f[1], 10, 32)
		ev, _ := strconv.Atoi(f[2])
		end := f[3] == "1" || f[3] == "True"
		vol, _ := strconv.Atoi(f[4])
		dur, _ := strconv.Atoi(f[5])
		if i == 0 {
			want = DTMFEvent{Event: uint8(ev), Digit: strconv.Itoa(ev), Start: time.Unix(secs, nanos).UTC(),
				Timestamp: uint32(ts), StartSeen: true}
		}
		want.DurationMs = max(want.DurationMs, float64(dur)/8)
		want.Volume = uint8(vol)
		want.Ended = want.Ended || end
		want.Packets++
	}

	dgrams, err := readUDP(path)
	if err != nil {
		t.Fatal(err)
	}
	var d DTMFTracker
	var h rtp.Header
	for _, dg := range dgrams {
		if err := h.Unmarshal(dg.payload); err != nil {
			t.Fatalf("frame %d: %v", dg.frame, err)
		}
		if err := d.Observe(h.Payload, h.Timestamp, h.Marker, dg.tsNs); err != nil {
			t.Fatalf("frame %d: %v", dg.frame, err)
		}
	}
	got := d.Events()
	if len(got) != 1 || got[0] != want {
		t.Fatalf("events %+v\nwant [%+v]", got, want)
	}
	if d.Digits() != "1" || got[0].DurationMs != 280 {
		t.Errorf("digits %q, duration %v ms; the capture holds one 280 ms press of 1", d.Digits(), got[0].DurationMs)
	}
}

type dtmfPkt struct {
	ev     uint8
	end    bool
	dur    uint16
	ts     uint32
	marker bool
}

func TestDTMFTrackerFoldsRedundantPackets(t *testing.T) {
	tests := []struct {
		name   string
		pkts   []dtmfPkt
		digits string
		want   []DTMFEvent // Event, Digit, DurationMs, Ended, StartSeen, Packets compared
	}{
		{"a retransmitted start and three end packets make one event", []dtmfPkt{
			{5, false, 0, 1000, true}, {5, false, 0, 1000, true}, {5, false, 160, 1000, false}, {5, false, 320, 1000, false},
			{5, true, 480, 1000, false}, {5, true, 480, 1000, false}, {5, true, 480, 1000, false},
		}, "5", []DTMFEvent{{Event: 5, Digit: "5", DurationMs: 60, Ended: true, StartSeen: true, Packets: 7}}},
		{"a lost start packet still starts the event", []dtmfPkt{
			{11, false, 320, 1000, false}, {11, true, 800, 1000, false},
		}, "#", []DTMFEvent{{Event: 11, Digit: "#", DurationMs: 100, Ended: true, Packets: 2}}},
		{"the same digit twice is two events", []dtmfPkt{
			{1, false, 0, 1000, true}, {1, true, 800, 1000, false}, {1, false, 0, 3000, true}, {1, true, 800, 3000, false},
		}, "11", []DTMFEvent{{Event: 1, Digit: "1", DurationMs: 100, Ended: true, StartSeen: true, Packets: 2}, {Event: 1, Digit: "1", DurationMs: 100, Ended: true, StartSeen: true, Packets: 2}}},
		{"a late end packet of the previous digit joins it", []dtmfPkt{
			{2, false, 0, 1000, true}, {2, true, 800, 1000, false}, {3, false, 0, 2000, true}, {2, true, 800, 1000, false}, {3, true, 400, 2000, false},
		}, "23", []DTMFEvent{{Event: 2, Digit: "2", DurationMs: 100, Ended: true, StartSeen: true, Packets: 3}, {Event: 3, Digit: "3", DurationMs: 50, Ended: true, StartSeen: true, Packets: 2}}},
		{"an event longer than the duration field continues in a new segment", []dtmfPkt{
			{0, false, 0, 1000, true}, {0, false, 65535, 1000, false}, {0, false, 800, 1000 + 65535, false}, {0, true, 1600, 1000 + 65535, false},
		}, "0", []DTMFEvent{{Event: 0, Digit: "0", DurationMs: (65535 + 1600) / 8.0, Ended: true, StartSeen: true, Packets: 4}}},
		{"events beyond DTMF keep their number", []dtmfPkt{{16, true, 160, 10, true}, {15, true, 160, 900, true}, {10, true, 160, 1900, true}},
			"16D*", []DTMFEvent{{Event: 16, Digit: "16", DurationMs: 20, Ended: true, StartSeen: true, Packets: 1}, {Event: 15, Digit: "D", DurationMs: 20, Ended: true, StartSeen: true, Packets: 1}, {Event: 10, Digit: "*", DurationMs: 20, Ended: true, StartSeen: true, Packets: 1}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var d DTMFTracker
			for i, p := range tt.pkts {
				if err := d.Observe(eventPayload(p.ev, p.end, 10, p.dur), p.ts, p.marker, int64(i)*20e6); err != nil {
					t.Fatal(err)
				}
			}
			got := d.Events()
			if d.Digits() != tt.digits || len(got) != len(tt.want) {
				t.Fatalf("digits %q events %+v, want %q", d.Digits(), got, tt.digits)
			}
			for i, w := range tt.want {
				g := got[i]
				if g.Event != w.Event || g.Digit != w.Digit || g.DurationMs != w.DurationMs || g.Ended != w.Ended || g.StartSeen != w.StartSeen || g.Packets != w.Packets {
					t.Errorf("event %d: %+v, want %+v", i, g, w)
				}
			}
		})
	}
}

func TestDTMFTrackerClockBoundAndBadPayloads(t *testing.T) {
	var d DTMFTracker
	d.SetClockRate(16000)
	d.SetMaxEvents(2)
	for i := range 4 {
		if err := d.Observe(eventPayload(uint8(i), true, 10, 1600), uint32(i)*10000, true, 0); err != nil {
			t.Fatal(err)
		}
	}
	if err := d.Observe([]byte{1, 2}, 99, false, 0); !errors.Is(err, rtp.ErrEventTooShort) {
		t.Errorf("short payload: %v", err)
	}
	if len(d.Events()) != 2 || d.Dropped() != 2 || d.Malformed() != 1 || d.Events()[0].DurationMs != 100 {
		t.Errorf("events %+v dropped %d malformed %d", d.Events(), d.Dropped(), d.Malformed())
	}
}

// FuzzDTMFTracker feeds arbitrary packets (8 bytes each: 4 of payload,
// timestamp) and checks that nothing panics and the bound holds.
func FuzzDTMFTracker(f *testing.F) {
	f.Add([]byte("\x01\x0a\x00\x00\x00\x00\x33\xe0\x01\x8a\x08\xc0\x00\x00\x33\xe0"))
	f.Fuzz(func(t *testing.T, data []byte) {
		var d DTMFTracker
		d.SetMaxEvents(5)
		for i := 0; len(data) >= 8; data, i = data[8:], i+1 {
			ts := uint32(data[4])<<24 | uint32(data[5])<<16 | uint32(data[6])<<8 | uint32(data[7])
			if err := d.Observe(data[:4], ts, data[1]&0x40 != 0, int64(i)); err != nil {
				t.Fatal(err)
			}
		}
		if len(d.Events()) > 5 {
			t.Fatalf("%d events", len(d.Events()))
		}
		for _, e := range d.Events() {
			if e.DurationMs < 0 || e.Digit == "" || e.Packets < 1 {
				t.Fatalf("event %+v", e)
			}
		}
	})
}
