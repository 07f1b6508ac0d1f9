package stream

import (
	"fmt"
	"time"

	"github.com/sipscope/sipscope/decode/sip"
)

// maxSIPMessage is the longest SIP message sip.FrameLength can frame: a
// full header section and the largest body it accepts.
const maxSIPMessage = sip.MaxHeaderBytes + sip.MaxBodyBytes

// Config bounds a Reassembler. Zero fields take the defaults shown;
// negative ones are refused by Validate.
type Config struct {
	// MaxConns bounds the TCP connections tracked at once; beyond it the
	// least recently used one is evicted (65536).
	MaxConns int
	// MaxBufferPerConn bounds the bytes held for one direction of a
	// connection: the unfinished message plus out-of-order segments
	// (64 KiB + the largest SIP message sip.FrameLength accepts, so that
	// any valid message fits with room for reordering behind it).
	MaxBufferPerConn int
	// MaxTotalBytes bounds the bytes held for all connections together
	// (256 MiB).
	MaxTotalBytes int
	// IdleTimeout is how long, in capture time, a connection may go without
	// a segment before Expire drops it (5 min).
	IdleTimeout time.Duration
	// GapTimeout is how long out-of-order data waits, in capture time, for
	// the segment missing in front of it before the gap is given up as lost
	// (2 s). A capture that dropped a segment never sees it retransmitted.
	GapTimeout time.Duration
}

// Defaults.
const (
	DefaultMaxConns         = 1 << 16
	DefaultMaxBufferPerConn = 64<<10 + maxSIPMessage
	DefaultMaxTotalBytes    = 256 << 20
	DefaultIdleTimeout      = 5 * time.Minute
	DefaultGapTimeout       = 2 * time.Second
)

// Validate names the first bad field.
func (c Config) Validate() error {
	switch {
	case c.MaxConns < 0:
		return fmt.Errorf("%w: MaxConns must be >= 0 (0: default), got %d", ErrBadConfig, c.MaxConns)
	case c.MaxBufferPerConn < 0:
		return fmt.Errorf("%w: MaxBufferPerConn must be >= 0 (0: default), got %d", ErrBadConfig, c.MaxBufferPerConn)
	case c.MaxTotalBytes < 0:
		return fmt.Errorf("%w: MaxTotalBytes must be >= 0 (0: default), got %d", ErrBadConfig, c.MaxTotalBytes)
	case c.IdleTimeout < 0:
		return fmt.Errorf("%w: IdleTimeout must be >= 0 (0: default), got %v", ErrBadConfig, c.IdleTimeout)
	case c.GapTimeout < 0:
		return fmt.Errorf("%w: GapTimeout must be >= 0 (0: default), got %v", ErrBadConfig, c.GapTimeout)
	}
	d := c.withDefaults()
	if d.MaxTotalBytes < d.MaxBufferPerConn {
		return fmt.Errorf("%w: MaxTotalBytes (%d) must be >= MaxBufferPerConn (%d)", ErrBadConfig, d.MaxTotalBytes, d.MaxBufferPerConn)
	}
	return nil
}

// withDefaults fills zero (and, defensively, negative) fields.
func (c Config) withDefaults() Config {
	if c.MaxConns <= 0 {
		c.MaxConns = DefaultMaxConns
	}
	if c.MaxBufferPerConn <= 0 {
		c.MaxBufferPerConn = DefaultMaxBufferPerConn
	}
	if c.MaxTotalBytes <= 0 {
		c.MaxTotalBytes = DefaultMaxTotalBytes
	}
	if c.IdleTimeout <= 0 {
		c.IdleTimeout = DefaultIdleTimeout
	}
	if c.GapTimeout <= 0 {
		c.GapTimeout = DefaultGapTimeout
	}
	return c
}
