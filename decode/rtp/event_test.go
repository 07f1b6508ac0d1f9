package rtp

import "testing"

func TestEventUnmarshalReadsRFC4733Fields(t *testing.T) {
	cases := []struct {
		name    string
		payload []byte
		want    Event
	}{
		{"the start of digit 1 at -10 dBm0", []byte{1, 10, 0, 0}, Event{Event: 1, Volume: 10}},
		{"the end of '#' after 2240 units", []byte{11, 0x80 | 10, 0x08, 0xc0}, Event{Event: 11, End: true, Volume: 10, Duration: 2240}},
		{"the reserved bit is ignored", []byte{5, 0x40 | 63, 0xff, 0xff}, Event{Event: 5, Volume: 63, Duration: 65535}},
		{"only the first of two packed events is read", []byte{2, 0x80, 0, 160, 3, 0, 0, 80}, Event{Event: 2, End: true, Duration: 160}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			e := Event{Event: 99, End: true, Volume: 99, Duration: 99}
			if err := e.Unmarshal(c.payload); err != nil {
				t.Fatal(err)
			}
			if e != c.want {
				t.Errorf("got %+v, want %+v", e, c.want)
			}
		})
	}
	var e Event
	if err := e.Unmarshal([]byte{1, 2, 3}); err != ErrEventTooShort {
		t.Errorf("three bytes: err = %v, want ErrEventTooShort", err)
	}
}
