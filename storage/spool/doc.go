// Package spool keeps the batches the store did not acknowledge on disk
// until it does. It sits between the live pipeline's store writer and the
// store: a failed write appends the batch here, and the writer replays the
// spool, oldest first, before anything newer once the store answers again.
// Records are length-prefixed, CRC32C-checksummed and fsync'd before
// Append returns, so a kill -9 loses none that was appended; a torn or
// corrupt record (a crash mid-append, a bad disk) is detected, skipped and
// counted. The spool is bounded in bytes: when full, the oldest records
// are dropped and counted, never the newest.
package spool
