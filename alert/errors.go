package alert

import "errors"

// ErrBadConfig is wrapped by Config.Validate with the field that is wrong.
var ErrBadConfig = errors.New("alert: bad config")
