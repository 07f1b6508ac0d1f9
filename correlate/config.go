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
	// been idle longest (Stats.Evicted). It is what bounds memory under a
	// flood of new Call-IDs: each held dialog costs about 1.8 KB of heap
	// (an unanswered INVITE with SDP, measured by
	// TestAnUnansweredInviteFloodStaysWithinItsHeapBound).
	MaxDialogs int
	// MaxRegistrations bounds the REGISTER dialogs among them, so a
	// registration storm (a mass re-registration after an outage, a
	// scanner) cannot push calls out of the table: a new registration
	// beyond it evicts the registration idle longest
	// (Stats.RegistrationsEvicted). Above MaxDialogs it changes nothing.
	MaxRegistrations int
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
		MaxDialogs:         DefaultMaxDialogs,
		MaxRegistrations:   DefaultMaxRegistrations,
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

// Default caps of the dialog table. A held dialog costs about 1.8 KB of
// heap (1,764 bytes measured for an unanswered INVITE with SDP, its media
// binding and tombstone included; 1,170 before calls carried the SDP media
// and moments their diagnosis reads), so DefaultMaxDialogs holds about
// 460 MB of live heap at worst (517 MB measured at the peak of a flood); with
// the garbage collector's headroom (GOGC 100 doubles it) and the rest of a
// serve process that stays well under 2 GB of RSS. 262,144 dialogs are a
// day's peak of a large PBX, or 32 s (the INVITE timeout) of a flood of
// 8,000 new Call-IDs per second before eviction begins. Registrations,
// which linger 32 s and come in storms, get a quarter of the table.
const (
	DefaultMaxDialogs       = 1 << 18
	DefaultMaxRegistrations = 1 << 16
)

// Validate names the first bad field.
func (c Config) Validate() error {
	if c.MaxDialogs <= 0 {
		return fmt.Errorf("%w: MaxDialogs must be > 0, got %d", ErrBadConfig, c.MaxDialogs)
	}
	if c.MaxRegistrations <= 0 {
		return fmt.Errorf("%w: MaxRegistrations must be > 0, got %d", ErrBadConfig, c.MaxRegistrations)
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
