package pipeline

import (
	"testing"

	"github.com/sipscope/sipscope/capture"
)

func TestRingGeometry(t *testing.T) {
	for _, c := range []struct {
		mb, size, blocks int
		bad              bool
	}{
		{mb: 2, size: 128 << 10, blocks: 16},
		{mb: 8, size: 512 << 10, blocks: 16},
		{mb: 64, size: 4 << 20, blocks: 16},
		{mb: 128, size: 4 << 20, blocks: 32},
		{mb: 1, bad: true},
		{mb: -4, bad: true},
		{mb: 66, bad: true},
	} {
		size, blocks, err := RingGeometry(c.mb)
		if c.bad {
			if err == nil {
				t.Errorf("--ring-mb %d: accepted as %d × %d", c.mb, blocks, size)
			}
			continue
		}
		if err != nil || size != c.size || blocks != c.blocks {
			t.Errorf("--ring-mb %d: %d × %d (%v), want %d × %d", c.mb, blocks, size, err, c.blocks, c.size)
			continue
		}
		cfg := capture.LiveConfig{Interface: "lo", BlockSize: size, NumBlocks: blocks}
		if err := cfg.Validate(); err != nil {
			t.Errorf("--ring-mb %d: the capture refuses its geometry: %v", c.mb, err)
		}
	}
}
