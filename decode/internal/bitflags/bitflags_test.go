package bitflags

import "testing"

func TestStringNamesEachSetBitInOrder(t *testing.T) {
	name := func(b uint8) string { return map[uint8]string{1: "a", 2: "b", 128: "h"}[b] }
	for _, tt := range []struct {
		f    uint8
		want string
	}{{0, ""}, {1, "a"}, {3, "a|b"}, {129, "a|h"}} {
		if got := String(tt.f, name); got != tt.want {
			t.Errorf("String(%d) = %q, want %q", tt.f, got, tt.want)
		}
	}
}
