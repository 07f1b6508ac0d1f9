package storage

import "errors"

// ErrNotFound is returned when a requested call does not exist.
var ErrNotFound = errors.New("storage: not found")
