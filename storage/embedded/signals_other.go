//go:build !(linux && (amd64 || arm64))

package embedded

import (
	"fmt"
	"runtime"
)

// signalHandlers has no implementation here: without a way to undo the
// engine's signal handlers a Go panic would hang the process, so Open
// refuses to start rather than run half-safe.
type signalHandlers struct{}

func saveSignalHandlers() (signalHandlers, error) {
	return signalHandlers{}, fmt.Errorf("%w: saving handlers is implemented for linux/amd64 and linux/arm64, not %s/%s",
		ErrSignals, runtime.GOOS, runtime.GOARCH)
}

func (s *signalHandlers) restore() error { return nil }
