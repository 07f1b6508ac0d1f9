package sip

import (
	"errors"
	"fmt"
)

// Sentinel errors. Unmarshal and FrameLength wrap them with context (the
// offending header, the numbers involved); match them with errors.Is.
var (
	// ErrNotSIP means no SIP request line or status line was found at the
	// start of the input (after any skipped junk).
	ErrNotSIP = errors.New("sip: not a SIP message")
	// ErrBadStartLine means the first line looks like SIP but is malformed
	// (whitespace inside the Request-URI, trailing whitespace, bad status code).
	ErrBadStartLine = errors.New("sip: malformed start line")
	// ErrBadVersion means the start line names a SIP version other than 2.0.
	ErrBadVersion = errors.New("sip: unsupported SIP version")
	// ErrBadHeader means a header line or a header value that the parser
	// interprets (From, To, ...) is malformed.
	ErrBadHeader = errors.New("sip: malformed header")
	// ErrDuplicateHeader means a header that must appear once (Call-ID,
	// From, To, CSeq, Content-Length) appears more than once.
	ErrDuplicateHeader = errors.New("sip: single-valued header repeated")
	// ErrLineTooLong means a physical line exceeds MaxLineBytes.
	ErrLineTooLong = errors.New("sip: line too long")
	// ErrHeaderTooLong means the start line plus headers exceed MaxHeaderBytes.
	ErrHeaderTooLong = errors.New("sip: header section too long")
	// ErrTooManyHeaders means the message has more than MaxHeaders header lines.
	ErrTooManyHeaders = errors.New("sip: too many headers")
	// ErrTruncatedHeader means the input ends in the middle of a header line.
	ErrTruncatedHeader = errors.New("sip: header section truncated")
	// ErrMissingCallID, ErrMissingFrom, ErrMissingTo, ErrMissingCSeq and
	// ErrMissingVia report an absent or empty mandatory header (RFC 3261 §8.1.1).
	ErrMissingCallID = errors.New("sip: missing Call-ID")
	ErrMissingFrom   = errors.New("sip: missing From")
	ErrMissingTo     = errors.New("sip: missing To")
	ErrMissingCSeq   = errors.New("sip: missing CSeq")
	ErrMissingVia    = errors.New("sip: missing Via")
	// ErrBadCSeq means the CSeq value is not "number SP method" or the number
	// does not fit in 32 bits.
	ErrBadCSeq = errors.New("sip: malformed CSeq")
	// ErrCSeqMethodMismatch means a request's CSeq method differs from its
	// request-line method (RFC 3261 §8.1.1.5).
	ErrCSeqMethodMismatch = errors.New("sip: CSeq method does not match request method")
	// ErrBadContentLength means Content-Length is not a decimal number within
	// MaxBodyBytes, or two Content-Lengths disagree: FrameLength cannot cut
	// a stream with it (Unmarshal keeps a datagram, see
	// FlagBadContentLength).
	ErrBadContentLength = errors.New("sip: malformed Content-Length")
	// ErrTruncatedBody means Content-Length promises more bytes than the
	// datagram holds (RFC 3261 §18.3: discard).
	ErrTruncatedBody = errors.New("sip: body shorter than Content-Length")
	// ErrIncomplete is returned by FrameLength when b does not yet hold a
	// whole message.
	ErrIncomplete = errors.New("sip: incomplete message")
	// ErrKeepAlive is returned by FrameLength when b starts with CR/LF
	// keep-alive bytes (RFC 5626 §3.5.1); n is their count and the caller
	// discards them.
	ErrKeepAlive = errors.New("sip: keep-alive")
)

// errNoEmptyLine is internal: the input ended exactly at a line boundary
// before the empty line that ends the header section. Unmarshal tolerates
// it for a datagram; FrameLength reports ErrIncomplete.
var errNoEmptyLine = fmt.Errorf("%w: no empty line after the headers", ErrTruncatedHeader)
