package embedded

import "errors"

var (
	// ErrSessionInUse is returned by Open while another Store of this
	// process is open: chDB runs on one data directory per process.
	ErrSessionInUse = errors.New("embedded: a chDB session is already open in this process")
	// ErrDataDir is returned for a data directory chDB cannot use.
	ErrDataDir = errors.New("embedded: unusable data directory")
	// ErrSignals is returned when the process's signal handlers cannot be
	// saved or restored around the engine's start.
	ErrSignals = errors.New("embedded: signal handlers")
	// ErrEngine wraps an error reported by the chDB engine.
	ErrEngine = errors.New("embedded: chdb")
)
