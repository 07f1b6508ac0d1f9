package spool

import "errors"

var (
	// ErrInvalidConfig is returned by Config.Validate; the message names the field.
	ErrInvalidConfig = errors.New("spool: invalid config")
	// ErrTooLarge is returned by Append for a record the spool could not
	// hold even empty; the record is dropped and counted.
	ErrTooLarge = errors.New("spool: record larger than the spool")
	// ErrEmpty is returned by Ack when there is nothing to acknowledge.
	ErrEmpty = errors.New("spool: empty")
	// ErrUndecodable is returned by PeekBatch for a record whose checksum
	// is right but which is not a batch this version can read.
	ErrUndecodable = errors.New("spool: record is not a readable batch")
	// ErrCorrupt is a record whose length or checksum is wrong: skipped
	// and counted at Open, returned by Peek if the disk changed it since.
	ErrCorrupt = errors.New("spool: corrupt record")
	// ErrClosed is returned after Close.
	ErrClosed = errors.New("spool: closed")
)
