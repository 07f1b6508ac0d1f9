package storage

import "errors"

// Sentinel errors of the package and the store implementations.
var (
	// ErrNotFound is returned when a requested call does not exist.
	ErrNotFound = errors.New("storage: not found")
	// ErrInvalidConfig is returned by Config.Validate; the message names the field.
	ErrInvalidConfig = errors.New("storage: invalid config")
	// ErrInvalidFilter is returned for a CallFilter that cannot be run
	// (negative limit or offset, an inverted time range).
	ErrInvalidFilter = errors.New("storage: invalid filter")
	// ErrBadRow is returned when a stored row cannot be turned back into a
	// record (an unparsable address, a result with the wrong shape).
	ErrBadRow = errors.New("storage: malformed row")
	// ErrUnsupportedValue is returned when a row value has a Go type the
	// column type cannot take; it means a bug in the caller, not bad input.
	ErrUnsupportedValue = errors.New("storage: unsupported value type")
	// ErrClosed is returned by a store used after Close.
	ErrClosed = errors.New("storage: store closed")
	// ErrInvalidRecord is returned for a user or token that cannot be
	// stored (an empty or oversized name or ID).
	ErrInvalidRecord = errors.New("storage: invalid record")
	// ErrTooLarge is returned by CallMessages when the messages weigh more
	// than the caller's bound; reading stops there.
	ErrTooLarge = errors.New("storage: result too large")
)
