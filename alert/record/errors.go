package record

import "errors"

// ErrInvalidConfig is returned by Config.Validate; the message names the field.
var ErrInvalidConfig = errors.New("record: invalid config")
