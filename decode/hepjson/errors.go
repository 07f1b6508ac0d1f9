package hepjson

import "errors"

// Sentinel errors, returned bare so that decoding does not allocate.
var (
	ErrSyntax       = errors.New("hepjson: not a JSON object")
	ErrTooDeep      = errors.New("hepjson: nesting too deep")
	ErrBadValue     = errors.New("hepjson: a value has the wrong type or is out of range")
	ErrMissingField = errors.New("hepjson: a required field is missing")
)
