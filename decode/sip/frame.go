package sip

import (
	"bytes"
	"errors"
	"fmt"
)

// FrameLength returns the length of the first complete SIP message in b, a
// stream (TCP, TLS, WebSocket-less SCTP stream) buffer: the start line,
// headers, empty line and Content-Length bytes of body (none when
// Content-Length is absent, as RFC 3261 §18.3 requires it on streams).
//
// It returns ErrIncomplete when b holds only part of a message; n is then
// the total length needed once the headers are complete, or 0 while they
// are not. When b starts with CR or LF bytes (RFC 5626 keep-alives), it
// returns their count and ErrKeepAlive: the caller drops them and calls
// again. Limit errors (ErrLineTooLong, ErrHeaderTooLong, ErrTooManyHeaders,
// ErrBadContentLength) and ErrBadHeader mean the stream cannot be framed.
// FrameLength does not check the start line; Unmarshal does.
func FrameLength(b []byte) (n int, err error) {
	if len(b) == 0 {
		return 0, ErrIncomplete
	}
	if b[0] == '\r' || b[0] == '\n' {
		for n < len(b) && (b[n] == '\r' || b[n] == '\n') {
			n++
		}
		return n, ErrKeepAlive
	}
	i := bytes.IndexByte(b, '\n')
	if i < 0 || i > MaxLineBytes {
		if len(b) > MaxLineBytes {
			return 0, fmt.Errorf("%w: start line longer than %d bytes", ErrLineTooLong, MaxLineBytes)
		}
		return 0, ErrIncomplete
	}
	r := headerReader{b: b, off: i + 1}
	contentLength, headers := -1, 0
	for {
		id, _, value, end, err := r.next()
		if err != nil {
			if errors.Is(err, ErrTruncatedHeader) {
				return 0, ErrIncomplete
			}
			return 0, err
		}
		if end {
			break
		}
		if headers++; headers > MaxHeaders {
			return 0, fmt.Errorf("%w: more than %d", ErrTooManyHeaders, MaxHeaders)
		}
		if id != hContentLength {
			continue
		}
		v, ok := parseUint(value, MaxBodyBytes)
		if !ok {
			return 0, fmt.Errorf("%w: %q", ErrBadContentLength, value[:min(len(value), 24)])
		}
		if contentLength >= 0 && int(v) != contentLength {
			return 0, fmt.Errorf("%w: conflicting values %d and %d", ErrBadContentLength, contentLength, v)
		}
		contentLength = int(v)
	}
	n = r.off + max(contentLength, 0)
	if n > len(b) {
		return n, ErrIncomplete
	}
	return n, nil
}
