// Package webhook delivers alerts from the alert engine to HTTP receivers
// (generic JSON, Slack-compatible and Alertmanager-compatible bodies). It
// is the engine's Sink: Alert only queues, so the pipeline never waits on
// a receiver; a bounded queue per receiver drops and counts when full, and
// a worker per receiver retries with back-off.
package webhook
