package correlate

// dialogTable finds a dialog by Call-ID. It is keyed by the Call-ID's
// 64-bit hash, computed once per message and reused for the tombstones,
// so a lookup hashes the header once and probes a map of words instead of
// strings; the Call-ID itself is still compared, and the rare dialogs
// whose Call-IDs share a hash are chained through sameHash.
type dialogTable struct {
	m map[uint64]*dialog
	n int
}

func newDialogTable() dialogTable { return dialogTable{m: make(map[uint64]*dialog)} }

func (t *dialogTable) len() int { return t.n }

// get returns the dialog of callID, whose hash is h, or nil.
func (t *dialogTable) get(h uint64, callID []byte) *dialog {
	for d := t.m[h]; d != nil; d = d.sameHash {
		if d.callID == string(callID) {
			return d
		}
	}
	return nil
}

// getString is get for a Call-ID held as a string.
func (t *dialogTable) getString(h uint64, callID string) *dialog {
	for d := t.m[h]; d != nil; d = d.sameHash {
		if d.callID == callID {
			return d
		}
	}
	return nil
}

// add inserts d, whose Call-ID is not in the table, under d.hash.
func (t *dialogTable) add(d *dialog) {
	d.sameHash = t.m[d.hash]
	t.m[d.hash] = d
	t.n++
}

// remove takes d out of the table if it is there.
func (t *dialogTable) remove(d *dialog) {
	head := t.m[d.hash]
	if head == d {
		if d.sameHash != nil {
			t.m[d.hash] = d.sameHash
		} else {
			delete(t.m, d.hash)
		}
		d.sameHash = nil
		t.n--
		return
	}
	for p := head; p != nil; p = p.sameHash {
		if p.sameHash == d {
			p.sameHash = d.sameHash
			d.sameHash = nil
			t.n--
			return
		}
	}
}
