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
