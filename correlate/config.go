package correlate

import (
	"fmt"
	"net/netip"
	"strings"
	"time"
)

// Config bounds the correlator's memory, chooses what it retains and sets
// the timers that end dialogs.
type Config struct {
	// KeepMessages retains a copy of every SIP message for storage; analyze
	// only needs counts and leaves it off.
	KeepMessages bool
	// Retain keeps finished calls and registrations for Calls and
	// Registrations after Expire or eviction has dropped their dialogs
	// (offline analysis wants every call at the end). A live correlator
	// leaves it off: finished records leave memory once Updates and
	// UpdatedRegistrations have handed them out.
	Retain bool
	// MaxDialogs bounds the Call-IDs held at once (calls, registrations and
	// other dialogs). A new Call-ID beyond it evicts the dialog that has
	// been idle longest (Stats.Evicted).
	MaxDialogs int
	// MaxMedia bounds the media endpoints remembered for RTP binding.
	MaxMedia int
	// OnMedia, when set, is told each media endpoint the correlator starts
	// or stops expecting RTP/RTCP on (live capture keeps those ports in its
	// kernel filter). It runs on the correlator's goroutine.
	OnMedia func(ap netip.AddrPort, bound bool)

	// InviteTimeout ends a transaction that got no response at all, like
	// RFC 3261 Timer B/F (64*T1 = 32 s).
	InviteTimeout time.Duration
	// ProceedingTimeout ends an INVITE that got a provisional response but
	// no final one, like RFC 3261 Timer C (> 3 min).
	ProceedingTimeout time.Duration
	// MaxCallAge ends an answered call that never saw a BYE, counted from
	// its first message.
	MaxCallAge time.Duration
	// AuthTimeout keeps an INVITE answered 401/407 waiting this long for
	// the retry with credentials; phones that ask the user for a password
	// take tens of seconds.
	AuthTimeout time.Duration
	// Linger keeps a finished call or other dialog this long after its last
	// message, so retransmissions and late ACKs still find it (Timer D/J).
	Linger time.Duration
	// RegistrationLinger keeps a REGISTER exchange this long after its last
	// message: a challenged one waits for the retry with credentials, a
	// finished one absorbs retransmissions.
	RegistrationLinger time.Duration

	// LegHeaders are the headers, in order of preference, whose value
	// links the legs of a call through a B2BUA or SBC (usually the Call-ID
	// of the other leg).
	LegHeaders []string
	// LegWindow links legs without such a header when they have the same
	// caller and callee numbers and start within this time of each other;
	// 0 turns the fallback off.
	LegWindow time.Duration
}

// defaultLegHeaders are the headers sip.Message.XCallID already extracts,
// in its order of preference.
func defaultLegHeaders() []string { return []string{"X-CID", "X-Call-ID", "X-Orig-Call-ID"} }

// DefaultConfig returns limits suitable for one box and offline analysis
// (Retain on); a live correlator turns Retain off.
func DefaultConfig() Config {
	return Config{
		Retain:             true,
		MaxDialogs:         1 << 20,
		MaxMedia:           1 << 21,
		InviteTimeout:      32 * time.Second,
		ProceedingTimeout:  3 * time.Minute,
		MaxCallAge:         4 * time.Hour,
		AuthTimeout:        2 * time.Minute,
		Linger:             32 * time.Second,
		RegistrationLinger: 32 * time.Second,
		LegHeaders:         defaultLegHeaders(),
		LegWindow:          2 * time.Second,
	}
}

// Validate names the first bad field.
func (c Config) Validate() error {
	if c.MaxDialogs <= 0 {
		return fmt.Errorf("%w: MaxDialogs must be > 0, got %d", ErrBadConfig, c.MaxDialogs)
	}
	if c.MaxMedia <= 0 {
		return fmt.Errorf("%w: MaxMedia must be > 0, got %d", ErrBadConfig, c.MaxMedia)
	}
	for _, d := range []struct {
		name string
		v    time.Duration
	}{
		{"InviteTimeout", c.InviteTimeout},
		{"ProceedingTimeout", c.ProceedingTimeout},
		{"MaxCallAge", c.MaxCallAge},
		{"AuthTimeout", c.AuthTimeout},
		{"Linger", c.Linger},
		{"RegistrationLinger", c.RegistrationLinger},
	} {
		if d.v <= 0 {
			return fmt.Errorf("%w: %s must be > 0, got %v", ErrBadConfig, d.name, d.v)
		}
	}
	if c.LegWindow < 0 {
		return fmt.Errorf("%w: LegWindow must be >= 0, got %v", ErrBadConfig, c.LegWindow)
	}
	for i, h := range c.LegHeaders {
		if h == "" || strings.ContainsAny(h, ": \t\r\n") {
			return fmt.Errorf("%w: LegHeaders[%d] %q is not a header name", ErrBadConfig, i, h)
		}
	}
	return nil
}

// usesDefaultLegHeaders tells whether the decoder's XCallID already holds
// the leg header, so no header search is needed.
func (c Config) usesDefaultLegHeaders() bool {
	def := defaultLegHeaders()
	if len(c.LegHeaders) != len(def) {
		return false
	}
	for i, h := range c.LegHeaders {
		if !strings.EqualFold(h, def[i]) {
			return false
		}
	}
	return true
}
