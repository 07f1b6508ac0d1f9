package gen

import "errors"

var (
	// ErrInvalidConfig is wrapped by Config.Validate with the offending field.
	ErrInvalidConfig = errors.New("gen: invalid config")
	// ErrWrite is wrapped around failures of the underlying writer or of
	// packet serialisation.
	ErrWrite = errors.New("gen: write capture")
)
