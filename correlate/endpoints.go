package correlate

import "net/netip"

// endpoints maps media endpoints to their owners. Almost every endpoint is
// IPv4, and an IPv4 address and port fit in one machine word: that map
// hashes and compares a uint64 and holds no pointer in its keys, where a
// netip.AddrPort key costs a 32-byte generic hash and compare per probe.
// IPv6 endpoints (IPv4-mapped ones included, which stay distinct from
// IPv4) take a second map keyed by the 16 address bytes and the port.
// Zones are not part of the key: SDP cannot carry one and decoded packets
// have none.
type endpoints struct {
	v4 map[uint64]mediaEntry
	v6 map[endpoint6]mediaEntry
}

type endpoint6 struct {
	addr [16]byte
	port uint16
}

func newEndpoints() endpoints {
	return endpoints{v4: make(map[uint64]mediaEntry), v6: make(map[endpoint6]mediaEntry)}
}

func key4(ap netip.AddrPort) uint64 {
	a := ap.Addr().As4()
	return uint64(a[0])<<40 | uint64(a[1])<<32 | uint64(a[2])<<24 | uint64(a[3])<<16 | uint64(ap.Port())
}

func key6(ap netip.AddrPort) endpoint6 { return endpoint6{addr: ap.Addr().As16(), port: ap.Port()} }

func (t *endpoints) len() int { return len(t.v4) + len(t.v6) }

func (t *endpoints) get(ap netip.AddrPort) (mediaEntry, bool) {
	a := ap.Addr()
	switch {
	case a.Is4():
		e, ok := t.v4[key4(ap)]
		return e, ok
	case a.Is6():
		e, ok := t.v6[key6(ap)]
		return e, ok
	}
	return mediaEntry{}, false
}

// set stores e for ap; ap must be a valid address (bindMedia checks).
func (t *endpoints) set(ap netip.AddrPort, e mediaEntry) {
	if ap.Addr().Is4() {
		t.v4[key4(ap)] = e
	} else {
		t.v6[key6(ap)] = e
	}
}

func (t *endpoints) del(ap netip.AddrPort) {
	if ap.Addr().Is4() {
		delete(t.v4, key4(ap))
	} else {
		delete(t.v6, key6(ap))
	}
}
