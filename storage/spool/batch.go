package spool

import (
	"bytes"
	"encoding/gob"
	"fmt"
	"time"

	"github.com/sipscope/sipscope/storage"
)

// The batch encoding is encoding/gob of storage.Batch: self-describing, so
// a record written by an older sipscope whose record types had fewer
// fields still decodes (the missing fields stay zero, as the store reads
// columns added later).

// EncodeBatch is b as one spool record.
func EncodeBatch(b storage.Batch) ([]byte, error) {
	var buf bytes.Buffer
	if err := gob.NewEncoder(&buf).Encode(&b); err != nil {
		return nil, fmt.Errorf("spool: encode batch: %w", err)
	}
	return buf.Bytes(), nil
}

// DecodeBatch reads a record EncodeBatch wrote.
func DecodeBatch(p []byte) (storage.Batch, error) {
	var b storage.Batch
	if err := gob.NewDecoder(bytes.NewReader(p)).Decode(&b); err != nil {
		return storage.Batch{}, fmt.Errorf("%w: %w", ErrUndecodable, err)
	}
	return b, nil
}

// AppendBatch spools b; see Append.
func (s *Spool) AppendBatch(b storage.Batch) error {
	p, err := EncodeBatch(b)
	if err != nil {
		return err
	}
	return s.Append(p)
}

// PeekBatch is Peek decoded. A record that does not decode returns an
// error wrapping ErrUndecodable (or ErrCorrupt); Skip it.
func (s *Spool) PeekBatch() (b storage.Batch, appended time.Time, ok bool, err error) {
	p, at, ok, err := s.Peek()
	if err != nil || !ok {
		return storage.Batch{}, at, ok, err
	}
	b, err = DecodeBatch(p)
	return b, at, err == nil, err
}

// Skip removes the oldest waiting record without it having been stored,
// counting it as undecodable.
func (s *Spool) Skip() error {
	return s.ack(&s.counter.Undecodable)
}
