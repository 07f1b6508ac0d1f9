package sdp

import "errors"

// Sentinel errors; Unmarshal wraps them with the offending line. Match
// them with errors.Is.
var (
	// ErrNotSDP means the first line is not a "v=" line.
	ErrNotSDP = errors.New("sdp: not a session description")
	// ErrBadConnection means a c= line is not "IN IP4|IP6 address[/ttl][/n]"
	// or its address does not match its address type.
	ErrBadConnection = errors.New("sdp: malformed c= line")
	// ErrBadMedia means an m= line is not "media port[/n] proto fmt..." or
	// its port is out of range.
	ErrBadMedia = errors.New("sdp: malformed m= line")
	// ErrTooLong means the description exceeds MaxBytes.
	ErrTooLong = errors.New("sdp: description too long")
)
