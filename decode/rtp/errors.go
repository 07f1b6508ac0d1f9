package rtp

import "errors"

// Sentinel errors of Header.Unmarshal and Event.Unmarshal, returned bare so
// that decoding never allocates.
var (
	ErrTooShort       = errors.New("rtp: packet shorter than the 12-byte fixed header")
	ErrVersion        = errors.New("rtp: version is not 2")
	ErrHeaderOverflow = errors.New("rtp: CSRC list or header extension runs past the packet")
	ErrPadding        = errors.New("rtp: padding length is zero or longer than the payload")
	ErrEventTooShort  = errors.New("rtp: telephone-event payload shorter than 4 bytes")
)
