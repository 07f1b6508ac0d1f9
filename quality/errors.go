package quality

import "errors"

// Sentinel errors. RTCP errors are wrapped with the packet type or the
// decoder's own error; callers test them with errors.Is.
var (
	ErrRTCPTruncated  = errors.New("quality: RTCP packet shorter than its header or length field says")
	ErrRTCPVersion    = errors.New("quality: RTCP version is not 2")
	ErrRTCPMalformed  = errors.New("quality: RTCP packet does not decode")
	ErrBadInterval    = errors.New("quality: timeline interval must be between 100ms and 1h")
	ErrBadMaxInterval = errors.New("quality: timeline MaxIntervals must be 0 (default) or at least 2")
	ErrBadJitterMode  = errors.New("quality: unknown jitter buffer mode")
	ErrBadMaxSSRCs    = errors.New("quality: RTCP MaxSSRCs must be 0 (default) or positive")
)
