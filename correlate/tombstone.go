package correlate

// tombstones remember recently dropped Call-IDs, so that late copies of a
// dropped dialog's messages are counted (Stats.Late) instead of starting a
// new, headless record that would overwrite the real one in storage.
//
// They are hashes in a fixed, direct-mapped table: one memory access per
// check, no upkeep, no garbage. A newer drop landing in the same slot
// overwrites an older one, so under very heavy churn a late message may
// rarely slip through; that costs a spurious record, never a lost one.
type tombstones struct {
	size  int
	ttl   int64 // how long a tombstone stands (ns)
	slots []tombstone
}

type tombstone struct {
	h  uint64
	at int64 // when the dialog was dropped; 0 for an empty slot
}

// maxTombstones bounds the table (16 bytes a slot).
const maxTombstones = 1 << 18

func newTombstones(maxDialogs int, ttl int64) tombstones {
	size := 64
	for size < maxDialogs && size < maxTombstones {
		size <<= 1
	}
	return tombstones{size: size, ttl: ttl}
}

// has tells whether the Call-ID of hash h was dropped less than ttl before now.
func (t *tombstones) has(h uint64, now int64) bool {
	if t.slots == nil {
		return false
	}
	s := t.slots[h&uint64(t.size-1)]
	return s.at != 0 && s.h == h && now-s.at < t.ttl
}

// add lays a tombstone; the table is allocated at the first drop, so an
// offline run that never drops anything never pays for it.
func (t *tombstones) add(h uint64, at int64) {
	if t.slots == nil {
		t.slots = make([]tombstone, t.size)
	}
	if at == 0 {
		at = 1
	}
	t.slots[h&uint64(t.size-1)] = tombstone{h: h, at: at}
}
