package correlate

import (
	"hash/maphash"
	"net/netip"
)

// endpoints maps media endpoints to their owners. Almost every endpoint is
// IPv4, and an IPv4 address and port fit in 48 bits: with the entry's
// four flags in the bits above, a slot is one word and the owner's
// pointer, and the v4 table is an open-addressing table of such slots
// (linear probing, seeded hash), where finding an endpoint that has gone
// cold costs one cache miss. IPv6 endpoints (IPv4-mapped ones included,
// which stay distinct from IPv4) take a Go map keyed by the 16 address
// bytes and the port. Zones are not part of the key: SDP cannot carry one
// and decoded packets have none.
type endpoints struct {
	seed  maphash.Seed
	slots []endpointSlot // a power of two, at most half full; d == nil is empty
	n4    int
	v6    map[endpoint6]mediaEntry
}

// endpointSlot is an IPv4 endpoint (address<<16 | port) with its entry's
// flags above bit 48, and the entry's dialog.
type endpointSlot struct {
	k uint64
	d *dialog
}

const (
	endpointKeyMask  = 1<<48 - 1
	flagCaller       = 1 << 48
	flagNAT          = 1 << 49
	flagRTCPNext     = 1 << 50
	flagStale        = 1 << 51
	minEndpointSlots = 1024
)

type endpoint6 struct {
	addr [16]byte
	port uint16
}

func newEndpoints() endpoints {
	return endpoints{
		seed:  maphash.MakeSeed(),
		slots: make([]endpointSlot, minEndpointSlots),
		v6:    make(map[endpoint6]mediaEntry),
	}
}

func key4(ap netip.AddrPort) uint64 {
	a := ap.Addr().As4()
	return uint64(a[0])<<40 | uint64(a[1])<<32 | uint64(a[2])<<24 | uint64(a[3])<<16 | uint64(ap.Port())
}

func key6(ap netip.AddrPort) endpoint6 { return endpoint6{addr: ap.Addr().As16(), port: ap.Port()} }

func packEntry(k uint64, e mediaEntry) endpointSlot {
	if e.caller {
		k |= flagCaller
	}
	if e.nat {
		k |= flagNAT
	}
	if e.rtcpNext {
		k |= flagRTCPNext
	}
	if e.stale {
		k |= flagStale
	}
	return endpointSlot{k: k, d: e.d}
}

func (s endpointSlot) entry() mediaEntry {
	return mediaEntry{d: s.d, caller: s.k&flagCaller != 0, nat: s.k&flagNAT != 0, rtcpNext: s.k&flagRTCPNext != 0, stale: s.k&flagStale != 0}
}

func (t *endpoints) len() int { return t.n4 + len(t.v6) }

func (t *endpoints) home(k uint64) uint64 {
	return maphash.Comparable(t.seed, k&endpointKeyMask) & uint64(len(t.slots)-1)
}

// find returns the slot of key k, or of the empty slot where it would go.
func (t *endpoints) find(k uint64) *endpointSlot {
	mask := uint64(len(t.slots) - 1)
	for i := t.home(k); ; i = (i + 1) & mask {
		s := &t.slots[i]
		if s.d == nil || s.k&endpointKeyMask == k {
			return s
		}
	}
}

func (t *endpoints) get(ap netip.AddrPort) (mediaEntry, bool) {
	a := ap.Addr()
	switch {
	case a.Is4():
		if s := t.find(key4(ap)); s.d != nil {
			return s.entry(), true
		}
	case a.Is6():
		e, ok := t.v6[key6(ap)]
		return e, ok
	}
	return mediaEntry{}, false
}

// set stores e (whose dialog is not nil) for ap; ap must be a valid
// address (bindMedia checks).
func (t *endpoints) set(ap netip.AddrPort, e mediaEntry) {
	if !ap.Addr().Is4() {
		t.v6[key6(ap)] = e
		return
	}
	k := key4(ap)
	s := t.find(k)
	if s.d == nil {
		if 2*(t.n4+1) > len(t.slots) {
			t.grow()
			s = t.find(k)
		}
		t.n4++
	}
	*s = packEntry(k, e)
}

// grow doubles the v4 table; it never shrinks, like a Go map, and is
// bounded by Config.MaxMedia.
func (t *endpoints) grow() {
	old := t.slots
	t.slots = make([]endpointSlot, 2*len(old))
	for _, s := range old {
		if s.d != nil {
			*t.find(s.k & endpointKeyMask) = s
		}
	}
}

func (t *endpoints) del(ap netip.AddrPort) {
	if !ap.Addr().Is4() {
		delete(t.v6, key6(ap))
		return
	}
	mask := uint64(len(t.slots) - 1)
	k := key4(ap)
	i := t.home(k)
	for {
		s := &t.slots[i]
		if s.d == nil {
			return
		}
		if s.k&endpointKeyMask == k {
			break
		}
		i = (i + 1) & mask
	}
	// Shift back the entries after the hole so that no probe sequence is
	// broken: one may move to the hole at i only if its home slot is not
	// in the cyclic range (i, j].
	for j := (i + 1) & mask; t.slots[j].d != nil; j = (j + 1) & mask {
		if (j-t.home(t.slots[j].k))&mask >= (j-i)&mask {
			t.slots[i] = t.slots[j]
			i = j
		}
	}
	t.slots[i] = endpointSlot{}
	t.n4--
}
