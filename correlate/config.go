package correlate

import "fmt"

// Config bounds the correlator's memory and chooses what it retains.
type Config struct {
	// KeepMessages retains a copy of every SIP message for storage; analyze
	// only needs counts and leaves it off.
	KeepMessages bool
	// MaxDialogs bounds the Call-IDs tracked at once (calls, registrations
	// and other dialogs); beyond it new Call-IDs are counted and ignored.
	MaxDialogs int
	// MaxMedia bounds the SDP media endpoints remembered for RTP binding.
	MaxMedia int
}

// DefaultConfig returns limits suitable for one box.
func DefaultConfig() Config {
	return Config{MaxDialogs: 1 << 20, MaxMedia: 1 << 21}
}

// Validate names the first bad field.
func (c Config) Validate() error {
	if c.MaxDialogs <= 0 {
		return fmt.Errorf("%w: MaxDialogs must be > 0, got %d", ErrBadConfig, c.MaxDialogs)
	}
	if c.MaxMedia <= 0 {
		return fmt.Errorf("%w: MaxMedia must be > 0, got %d", ErrBadConfig, c.MaxMedia)
	}
	return nil
}
