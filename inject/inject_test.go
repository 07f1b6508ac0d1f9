package inject

import (
	"strings"
	"testing"
	"time"

	"github.com/sipscope/sipscope/frame"
)

func TestPacerGrantsTheRateItIsGiven(t *testing.T) {
	tests := []struct {
		name  string
		rate  float64
		batch int
		send  time.Duration // how long sending a grant takes
		late  time.Duration // how much longer than asked the sender sleeps
	}{
		{"a slow rate is paced a frame or a few at a time", 1000, 64, 10 * time.Microsecond, 0},
		{"a fast rate is paced a millisecond's worth at a time", 200_000, 256, 50 * time.Microsecond, 0},
		{"a sender that oversleeps still gets the full rate", 200_000, 256, 50 * time.Microsecond, 4 * time.Millisecond},
		{"a rate below one frame per millisecond still flows", 10, 256, time.Microsecond, time.Millisecond},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := newPacer(tt.rate, tt.batch)
			start := time.Unix(1000, 0)
			now := start
			var total int
			for now.Sub(start) < 2*time.Second {
				n, wait := p.grant(now, tt.batch)
				if n > tt.batch {
					t.Fatalf("granted %d frames, more than the batch of %d asked for", n, tt.batch)
				}
				if n == 0 && wait <= 0 {
					t.Fatalf("granted nothing and no time to wait at %v", now.Sub(start))
				}
				total += n
				if n > 0 {
					now = now.Add(tt.send)
				} else {
					now = now.Add(wait + tt.late)
				}
			}
			want := tt.rate * now.Sub(start).Seconds()
			if got := float64(total); got > want+1 || got < want-float64(tt.batch)-tt.rate/100 {
				t.Errorf("granted %d frames in %v at %v/s, want about %.0f", total, now.Sub(start), tt.rate, want)
			}
		})
	}
}

func TestPacerForfeitsWhatAStalledSenderMissed(t *testing.T) {
	p := newPacer(100_000, 256)
	start := time.Unix(1000, 0)
	if n, _ := p.grant(start, 256); n != 0 {
		t.Fatalf("granted %d frames at the start, want 0", n)
	}
	// A one-second stall: 100,000 frames due, but only the 10 ms burst
	// (1,000 frames) may be caught up, a batch at a time.
	now := start.Add(time.Second)
	var caught int
	for {
		n, _ := p.grant(now, 256)
		if n == 0 {
			break
		}
		caught += n
	}
	if caught != 1000 {
		t.Errorf("caught up %d frames after a 1 s stall, want the 1000-frame burst", caught)
	}
}

func TestPacerAtRateZeroGrantsEverythingAtOnce(t *testing.T) {
	p := newPacer(0, 256)
	if n, wait := p.grant(time.Unix(1000, 0), 256); n != 256 || wait != 0 {
		t.Errorf("grant = %d, %v; want 256, 0", n, wait)
	}
}

func TestSenderSharesTogetherHoldEveryFrameOnce(t *testing.T) {
	frames := make([]frame.Frame, 10)
	for i := range frames {
		frames[i].Data = []byte{byte(i)}
	}
	seen := make(map[byte]int)
	for i := range 3 {
		for _, b := range senderShare(frames, i, 3) {
			seen[b[0]]++
		}
	}
	for i := range frames {
		if seen[byte(i)] != 1 {
			t.Errorf("frame %d is in %d shares, want 1", i, seen[byte(i)])
		}
	}
}

func TestInjectConfigValidateNamesTheBadField(t *testing.T) {
	good := Config{Iface: "eth0", Senders: 1, Method: MethodRing, Batch: 256}
	tests := []struct {
		name string
		edit func(*Config)
		want string
	}{
		{"no interface", func(c *Config) { c.Iface = "" }, "--iface"},
		{"a negative rate", func(c *Config) { c.PPS = -1 }, "--pps"},
		{"looping without a time limit", func(c *Config) { c.Loop = true }, "--loop"},
		{"no senders", func(c *Config) { c.Senders = 0 }, "--senders"},
		{"an unknown method", func(c *Config) { c.Method = "write" }, "--method"},
		{"a zero batch", func(c *Config) { c.Batch = 0 }, "--batch"},
	}
	if err := good.Validate(); err != nil {
		t.Fatalf("a good config: %v", err)
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := good
			tt.edit(&c)
			err := c.Validate()
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Validate() = %v, want an error naming %s", err, tt.want)
			}
		})
	}
}
