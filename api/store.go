package api

import (
	"context"

	"github.com/sipscope/sipscope/storage"
)

// Store is what the API reads. The API owns this interface so that any
// storage backend (embedded chDB, ClickHouse server) satisfies it without the
// API knowing which one it talks to. GetCall returns an error wrapping
// storage.ErrNotFound for an unknown Call-ID.
type Store interface {
	ListCalls(ctx context.Context, f storage.CallFilter) (storage.CallPage, error)
	GetCall(ctx context.Context, callID string) (storage.CallDetail, error)
}

// FrameStore is a store that keeps the captured frames of calls
// (storage.TablePackets); without it the PCAP export rebuilds the SIP
// messages and has no media.
type FrameStore interface {
	CallPackets(ctx context.Context, callIDs []string) ([]storage.Packet, error)
}
