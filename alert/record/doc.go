// Package record keeps the alert engine's transitions in the store: an
// alert.Sink whose Alert only queues (the engine never waits for the
// database), and a Run loop that writes the queue to any store with
// WriteAlert. Tee lets the recorder and the webhook notifier share the
// engine's one sink.
package record
