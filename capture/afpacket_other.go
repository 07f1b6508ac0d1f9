//go:build !linux

package capture

import (
	"fmt"

	"github.com/sipscope/sipscope/frame"
)

// LiveSource is the AF_PACKET live source; it exists only on Linux.
type LiveSource struct{}

// OpenLive fails on this platform with an error wrapping
// ErrLiveUnsupported (after checking cfg, so a bad config is still named).
func OpenLive(cfg LiveConfig) (*LiveSource, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	return nil, fmt.Errorf("%w (interface %q): AF_PACKET is Linux-only", ErrLiveUnsupported, cfg.Interface)
}

// Next fails: there is no live source here.
func (s *LiveSource) Next(f *frame.Frame) error { return ErrLiveUnsupported }

// Stats fails: there is no live source here.
func (s *LiveSource) Stats() (LiveStats, error) { return LiveStats{}, ErrLiveUnsupported }

// Close does nothing.
func (s *LiveSource) Close() error { return nil }
