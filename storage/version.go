package storage

import (
	"strconv"
	"strings"
	"sync"
	"time"
)

// ServerVersion is the major.minor of a ClickHouse server, as SELECT
// version() reports it ("18.16.1", "26.5.1.1").
type ServerVersion struct {
	Major, Minor int
}

// ParseServerVersion reads the first two numbers of a version string. An
// unreadable string gives the zero ServerVersion, which gates every optional
// feature off: the schema then is the one that runs on 18.16.
func ParseServerVersion(s string) ServerVersion {
	parts := strings.SplitN(strings.TrimSpace(s), ".", 3)
	if len(parts) < 2 {
		return ServerVersion{}
	}
	major, err1 := strconv.Atoi(parts[0])
	minor, err2 := strconv.Atoi(parts[1])
	if err1 != nil || err2 != nil || major < 0 || minor < 0 {
		return ServerVersion{}
	}
	return ServerVersion{Major: major, Minor: minor}
}

// AtLeast reports whether v is major.minor or newer.
func (v ServerVersion) AtLeast(major, minor int) bool {
	return v.Major > major || v.Major == major && v.Minor >= minor
}

// modern is the line from which the schema uses TTL, CODEC and
// LowCardinality without settings. All three exist from 19.x on, but 20.3
// is the first LTS where they are stable together; 18.16 has none of them.
func (v ServerVersion) modern() bool { return v.AtLeast(20, 3) }

// IsModern tells whether a SELECT version() string is a server of the
// current generation (20.3 and later) rather than 18.16's.
func IsModern(version string) bool { return ParseServerVersion(version).modern() }

// VersionClock hands out the version column of ReplacingMergeTree tables
// and the insertion sequence of SIP messages: wall-clock nanoseconds, strictly
// increasing within one clock. Wall-clock based so that a restarted process,
// or another collector writing to the same cluster, still produces later
// versions than what is stored. The zero value is ready to use.
type VersionClock struct {
	mu   sync.Mutex
	last uint64
	// now is replaced in tests; nil means time.Now.
	now func() time.Time
}

// Next returns a version larger than every one this clock returned before.
func (c *VersionClock) Next() uint64 { return c.Reserve(1) }

// Reserve returns the first of n consecutive versions, all larger than
// every one this clock returned before: one lock for a whole batch.
func (c *VersionClock) Reserve(n int) uint64 {
	if n < 1 {
		n = 1
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	now := time.Now
	if c.now != nil {
		now = c.now
	}
	v := uint64(0)
	if ns := now().UnixNano(); ns > 0 {
		v = uint64(ns)
	}
	if v <= c.last {
		v = c.last + 1
	}
	c.last = v + uint64(n) - 1
	return v
}
