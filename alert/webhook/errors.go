package webhook

import "errors"

var (
	// ErrBadConfig is wrapped by Config.Validate with the field that is wrong.
	ErrBadConfig = errors.New("webhook: bad config")
	// ErrRejected is a response the receiver will not change its mind
	// about (a 4xx other than 408 and 429): not retried.
	ErrRejected = errors.New("webhook: receiver rejected the alert")
	// ErrStatus is a response worth retrying (5xx, 408, 429).
	ErrStatus = errors.New("webhook: receiver failed")
)
