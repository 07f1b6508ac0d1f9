package api

import "errors"

var (
	// ErrInvalidConfig is wrapped by Config.Validate with the offending field.
	ErrInvalidConfig = errors.New("api: invalid config")
	// ErrInvalidParam is wrapped by query parsing with the offending parameter.
	ErrInvalidParam = errors.New("api: invalid parameter")
	// ErrMessageTooLarge is returned by WritePCAP when a UDP message cannot
	// fit in one IP datagram, so no valid packet can carry it.
	ErrMessageTooLarge = errors.New("api: message too large for one datagram")
)

// Errors of authentication and its configuration.
var (
	// ErrNoUsers is returned by Run and Serve when the server would listen
	// on a non-loopback address with no user defined and AuthMode is not
	// "none".
	ErrNoUsers = errors.New("api: no users defined; refusing to serve a non-loopback address without authentication (add a user or set auth mode \"none\")")
	// ErrWeakPassword is returned by HashPassword for a password too short
	// or too long.
	ErrWeakPassword = errors.New("api: unacceptable password")
)
