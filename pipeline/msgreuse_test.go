package pipeline

import (
	"testing"

	"github.com/sipscope/sipscope/correlate"
)

// TestReusedMessageSlicesKeepEveryMessage takes the retained SIP messages
// every 20 frames and hands the slice before back (as an import does once
// its write finished): the messages taken are those of a run that takes
// fresh slices, in the same order, and most batches land in a slice
// handed back instead of a new one (a batch larger than the slice it
// got still grows it).
func TestReusedMessageSlicesKeepEveryMessage(t *testing.T) {
	frames, err := LoadFrames("../testdata/calls.pcap")
	if err != nil {
		t.Fatal(err)
	}
	type seen struct {
		callID string
		ts     int64
		raw    string
	}
	run := func(reuse bool) (out []seen, takes, inHandedBack int) {
		cfg := correlate.DefaultConfig()
		cfg.KeepMessages = true
		p := New(cfg)
		handedBack := map[*correlate.Message]bool{}
		var spare []correlate.Message
		take := func() {
			msgs := p.corr.TakeMessages()
			for _, m := range msgs {
				out = append(out, seen{m.CallID, m.TS.UnixNano(), string(m.Raw)})
			}
			if cap(msgs) == 0 {
				return
			}
			takes++
			if handedBack[&msgs[:1][0]] {
				inHandedBack++
			}
			if reuse {
				p.corr.ReuseMessages(spare)
				if cap(spare) > 0 {
					handedBack[&spare[:1][0]] = true
				}
				spare = msgs
			}
		}
		for i := range frames {
			p.HandleFrame(&frames[i])
			if i%20 == 19 {
				take()
			}
		}
		take()
		return out, takes, inHandedBack
	}
	want, _, _ := run(false)
	got, takes, reused := run(true)
	if len(want) < 20 {
		t.Fatalf("%d messages retained, want the capture's", len(want))
	}
	if len(got) != len(want) {
		t.Fatalf("with reuse %d messages, without %d", len(got), len(want))
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("message %d: %+v, without reuse %+v", i, got[i], want[i])
		}
	}
	if reused < takes/2 {
		t.Errorf("%d of %d batches were taken from a slice handed back", reused, takes)
	}
	t.Logf("%d of %d batches were taken from a slice handed back", reused, takes)
}
