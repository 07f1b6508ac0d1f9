package capture

import (
	"errors"
	"os"
	"strings"
	"testing"
	"time"
)

func TestLiveConfigValidate(t *testing.T) {
	page := os.Getpagesize()
	tests := []struct {
		name  string
		cfg   LiveConfig
		field string // "" means valid
	}{
		{"an interface name alone is valid", LiveConfig{Interface: "eth0"}, ""},
		{"every field set within bounds is valid", LiveConfig{Interface: "eth0", SnapLen: 1500, BlockSize: 64 * page, NumBlocks: 4, BlockTimeout: 10 * time.Millisecond, Promiscuous: true, FanoutGroup: 7}, ""},
		{"an empty interface is named", LiveConfig{}, "Interface"},
		{"a 16-byte interface name is named", LiveConfig{Interface: "abcdefghijklmnop"}, "Interface"},
		{"a tiny snap length is named", LiveConfig{Interface: "eth0", SnapLen: 20}, "SnapLen"},
		{"a snap length above tcpdump's is named", LiveConfig{Interface: "eth0", SnapLen: 300000}, "SnapLen"},
		{"a negative block size is named", LiveConfig{Interface: "eth0", BlockSize: -1}, "BlockSize"},
		{"a block size off the page size is named", LiveConfig{Interface: "eth0", BlockSize: 4*page + 1}, "BlockSize"},
		{"a block too small for the snap length is named", LiveConfig{Interface: "eth0", BlockSize: page, SnapLen: 65535}, "BlockSize"},
		{"a negative block count is named", LiveConfig{Interface: "eth0", NumBlocks: -3}, "NumBlocks"},
		{"a ring over 2 GiB is named", LiveConfig{Interface: "eth0", NumBlocks: 1024}, "NumBlocks"},
		{"a sub-millisecond block timeout is named", LiveConfig{Interface: "eth0", BlockTimeout: time.Microsecond}, "BlockTimeout"},
		{"an hour-long block timeout is named", LiveConfig{Interface: "eth0", BlockTimeout: time.Hour}, "BlockTimeout"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.cfg.Validate()
			if tt.field == "" {
				if err != nil {
					t.Fatalf("Validate: %v, want nil", err)
				}
				return
			}
			if !errors.Is(err, ErrLiveConfig) {
				t.Fatalf("Validate: %v, want ErrLiveConfig", err)
			}
			if msg := err.Error() + " "; !strings.Contains(msg, ": "+tt.field+" ") && !strings.Contains(msg, ": "+tt.field+": ") {
				t.Errorf("Validate: %q does not name field %s", err, tt.field)
			}
		})
	}
}

func TestLiveConfigDefaults(t *testing.T) {
	d := LiveConfig{Interface: "eth0"}.withDefaults()
	if d.SnapLen != 65535 || d.BlockSize != 4<<20 || d.NumBlocks != 16 || d.BlockTimeout != 50*time.Millisecond {
		t.Errorf("defaults = %+v, want snaplen 65535, 4 MiB × 16 blocks, 50 ms", d)
	}
}
