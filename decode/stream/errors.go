package stream

import "errors"

// Sentinel errors. ParseFrame returns them bare (it runs per frame and must
// not allocate); Config.Validate wraps ErrBadConfig with the field at fault.
var (
	// ErrBadConfig means a Config field is out of range.
	ErrBadConfig = errors.New("stream: bad config")
	// ErrIncomplete means b holds only part of a WebSocket frame.
	ErrIncomplete = errors.New("stream: incomplete WebSocket frame")
	// ErrBadFrame means a WebSocket frame header breaks RFC 6455: a reserved
	// opcode, a fragmented or oversized control frame, or a 64-bit length
	// with its top bit set. (A length not in its shortest form is accepted:
	// a passive observer gains nothing by refusing it.)
	ErrBadFrame = errors.New("stream: malformed WebSocket frame")
	// ErrFrameTooLarge means a WebSocket frame announces a payload longer
	// than MaxFramePayload.
	ErrFrameTooLarge = errors.New("stream: WebSocket frame too large")
)
