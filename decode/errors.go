package decode

import "errors"

// Sentinel errors of Decode. They are returned bare, never wrapped: Decode
// runs once per frame and must not allocate, and the drop reason is all a
// caller does with them (see Reason).
var (
	ErrTruncated       = errors.New("decode: header runs past the captured bytes")
	ErrUnsupportedLink = errors.New("decode: unsupported link type")
	ErrNotIP           = errors.New("decode: frame does not carry IP")
	ErrMalformedIP     = errors.New("decode: bad IP version or length")
	// ErrFragment is a fragment dropped: no Defragmenter is set, or it
	// refused the fragment (see DefragStats.Rejected).
	ErrFragment = errors.New("decode: IP fragment")
	// ErrFragmentHeld is a fragment kept for reassembly: not a loss.
	ErrFragmentHeld         = errors.New("decode: IP fragment held for reassembly")
	ErrUnsupportedTransport = errors.New("decode: transport is neither UDP nor TCP")
	ErrMalformedTransport   = errors.New("decode: bad UDP length or TCP data offset")
	ErrTunnelTooDeep        = errors.New("decode: too many nested tunnels")
	ErrUnsupportedTunnel    = errors.New("decode: unsupported tunnel header")
	ErrTooManyTags          = errors.New("decode: too many VLAN tags or MPLS labels")
)

// Reason maps an error from Decode to a short, stable snake_case drop
// reason, used as a metric label and a key of decode_errors in reports.
// It returns "" for nil and "other" for errors that are not this package's.
func Reason(err error) string {
	switch {
	case err == nil:
		return ""
	case errors.Is(err, ErrTruncated):
		return "truncated"
	case errors.Is(err, ErrUnsupportedLink):
		return "unsupported_link"
	case errors.Is(err, ErrNotIP):
		return "not_ip"
	case errors.Is(err, ErrMalformedIP):
		return "malformed_ip"
	case errors.Is(err, ErrFragment):
		return "fragment"
	case errors.Is(err, ErrFragmentHeld):
		return "fragment_held"
	case errors.Is(err, ErrUnsupportedTransport):
		return "unsupported_transport"
	case errors.Is(err, ErrMalformedTransport):
		return "malformed_transport"
	case errors.Is(err, ErrTunnelTooDeep):
		return "tunnel_too_deep"
	case errors.Is(err, ErrUnsupportedTunnel):
		return "unsupported_tunnel"
	case errors.Is(err, ErrTooManyTags):
		return "too_many_tags"
	case errors.Is(err, ErrMalformedHEP):
		return "malformed_hep"
	case errors.Is(err, ErrUnsupportedHEP):
		return "unsupported_hep"
	}
	return "other"
}

// Reasons lists every value Reason can return for a non-nil error, so that
// counters can be created up front and show zeros instead of being absent.
func Reasons() []string {
	return []string{
		"truncated", "unsupported_link", "not_ip", "malformed_ip", "fragment", "fragment_held",
		"unsupported_transport", "malformed_transport", "tunnel_too_deep",
		"unsupported_tunnel", "too_many_tags", "malformed_hep", "unsupported_hep", "other",
	}
}
