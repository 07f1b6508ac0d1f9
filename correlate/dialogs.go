package correlate

// dialogTable finds a dialog by Call-ID. It is keyed by the Call-ID's
// 64-bit hash, computed once per message and reused for the tombstones.
// It is an open-addressing table with linear probing: a slot is the hash
// and the dialog (16 bytes, four to a cache line), so finding a dialog
// that has gone cold costs one cache miss for the slot where a Go map
// costs one for its control word and often another for the key. The
// Call-ID itself is still compared; Call-IDs whose hashes collide simply
// take further slots.
type dialogTable struct {
	slots []dialogSlot // a power of two, at most half full; d == nil is empty
	n     int
}

type dialogSlot struct {
	h uint64
	d *dialog
}

const minDialogSlots = 1024

func newDialogTable() dialogTable {
	return dialogTable{slots: make([]dialogSlot, minDialogSlots)}
}

func (t *dialogTable) len() int { return t.n }

// get returns the dialog of callID, whose hash is h, or nil.
func (t *dialogTable) get(h uint64, callID []byte) *dialog {
	mask := uint64(len(t.slots) - 1)
	for i := h & mask; ; i = (i + 1) & mask {
		s := &t.slots[i]
		if s.d == nil {
			return nil
		}
		if s.h == h && s.d.callID == string(callID) {
			return s.d
		}
	}
}

// getString is get for a Call-ID held as a string.
func (t *dialogTable) getString(h uint64, callID string) *dialog {
	mask := uint64(len(t.slots) - 1)
	for i := h & mask; ; i = (i + 1) & mask {
		s := &t.slots[i]
		if s.d == nil {
			return nil
		}
		if s.h == h && s.d.callID == callID {
			return s.d
		}
	}
}

// add inserts d, whose Call-ID is not in the table, under d.hash.
func (t *dialogTable) add(d *dialog) {
	if 2*(t.n+1) > len(t.slots) {
		t.grow()
	}
	t.place(dialogSlot{h: d.hash, d: d})
	t.n++
}

func (t *dialogTable) place(s dialogSlot) {
	mask := uint64(len(t.slots) - 1)
	i := s.h & mask
	for t.slots[i].d != nil {
		i = (i + 1) & mask
	}
	t.slots[i] = s
}

// grow doubles the table. It is bounded like the dialogs it holds
// (Config.MaxDialogs) and never shrinks, like a Go map.
func (t *dialogTable) grow() {
	old := t.slots
	t.slots = make([]dialogSlot, 2*len(old))
	for _, s := range old {
		if s.d != nil {
			t.place(s)
		}
	}
}

// remove takes d out of the table if it is there, shifting back the
// entries after it so that no probe sequence is broken (no tombstones).
func (t *dialogTable) remove(d *dialog) {
	mask := uint64(len(t.slots) - 1)
	i := d.hash & mask
	for t.slots[i].d != d {
		if t.slots[i].d == nil {
			return
		}
		i = (i + 1) & mask
	}
	for j := (i + 1) & mask; t.slots[j].d != nil; j = (j + 1) & mask {
		// The entry at j may move to the hole at i only if its home slot
		// is not in the cyclic range (i, j].
		home := t.slots[j].h & mask
		if (j-home)&mask >= (j-i)&mask {
			t.slots[i] = t.slots[j]
			i = j
		}
	}
	t.slots[i] = dialogSlot{}
	t.n--
}
