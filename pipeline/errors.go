package pipeline

import "errors"

// ErrBadOption is an option value the pipeline does not know.
var ErrBadOption = errors.New("pipeline: bad option")
