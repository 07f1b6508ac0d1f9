package storage

import (
	"testing"
	"time"
)

func TestParseServerVersion(t *testing.T) {
	cases := []struct {
		in     string
		want   ServerVersion
		modern bool
	}{
		{"18.16.1", ServerVersion{18, 16}, false},
		{"26.5.1.1", ServerVersion{26, 5}, true},
		{"20.3.19.4", ServerVersion{20, 3}, true},
		{"20.2.1", ServerVersion{20, 2}, false},
		{" 24.8.4.13\n", ServerVersion{24, 8}, true},
		{"", ServerVersion{}, false},
		{"garbage", ServerVersion{}, false},
		{"x.1.2", ServerVersion{}, false},
		{"-1.2", ServerVersion{}, false},
	}
	for _, c := range cases {
		v := ParseServerVersion(c.in)
		if v != c.want || v.modern() != c.modern {
			t.Errorf("%q: %+v modern=%v, want %+v modern=%v", c.in, v, v.modern(), c.want, c.modern)
		}
	}
}

func TestVersionClockNeverRepeatsEvenWhenTheWallClockGoesBack(t *testing.T) {
	now := time.Unix(1000, 0)
	c := VersionClock{now: func() time.Time { return now }}
	a := c.Next()
	if a != uint64(now.UnixNano()) {
		t.Errorf("first version %d, want the wall clock %d", a, now.UnixNano())
	}
	first := c.Reserve(10)
	if first != a+1 {
		t.Errorf("reserve after %d started at %d", a, first)
	}
	now = now.Add(-time.Hour)
	if b := c.Next(); b != first+10 {
		t.Errorf("after a clock step back: %d, want %d", b, first+10)
	}
	now = now.Add(2 * time.Hour)
	if b := c.Next(); b != uint64(now.UnixNano()) {
		t.Errorf("after the clock moved on: %d, want %d", b, now.UnixNano())
	}
}

func TestVersionClockZeroValueUsesTheWallClock(t *testing.T) {
	var c VersionClock
	before := uint64(time.Now().UnixNano())
	if v := c.Next(); v < before {
		t.Errorf("version %d before the wall clock %d", v, before)
	}
}
