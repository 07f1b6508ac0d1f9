package embedded

import (
	"context"

	"github.com/sipscope/sipscope/alert"
	"github.com/sipscope/sipscope/correlate"
	"github.com/sipscope/sipscope/storage"
)

// WriteAlert stores one transition of an alert; see storage.WriteAlert.
func (s *Store) WriteAlert(ctx context.Context, a alert.Alert) error {
	return storage.WriteAlert(ctx, engine{s}, storage.DefaultDatabase, a, &s.clock)
}

// ListAlerts returns one page of alerts; see storage.ListAlerts.
func (s *Store) ListAlerts(ctx context.Context, f storage.AlertFilter) (storage.AlertPage, error) {
	return storage.ListAlerts(ctx, engine{s}, storage.DefaultDatabase, f)
}

// GetAlert reads one alert, or an error wrapping storage.ErrNotFound.
func (s *Store) GetAlert(ctx context.Context, id string) (alert.Alert, error) {
	return storage.GetAlert(ctx, engine{s}, storage.DefaultDatabase, id)
}

// MessagesInWindow returns the SIP messages from or to some addresses in a
// time range; see storage.MessagesInWindow.
func (s *Store) MessagesInWindow(ctx context.Context, w storage.MessageWindow) ([]correlate.Message, bool, error) {
	return storage.MessagesInWindow(ctx, engine{s}, storage.DefaultDatabase, w)
}
