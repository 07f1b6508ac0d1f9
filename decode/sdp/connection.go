package sdp

import (
	"fmt"
	"net/netip"
)

// Connection is a c= line: "IN IP4 address[/ttl[/count]]" or
// "IN IP6 address[/count]".
type Connection struct {
	// Address is the address as written, without TTL or count; nil when
	// the level has no c= line.
	Address []byte
	// Addr is Address parsed; zero when Address is a host name, which SDP
	// allows but a passive monitor cannot resolve.
	Addr netip.Addr
	// TTL is the IPv4 multicast TTL, 0 when absent.
	TTL uint8
	// Count is the number of multicast addresses, 0 when absent.
	Count uint16
}

// Origin is the o= line.
type Origin struct {
	Username       []byte
	SessionID      []byte
	SessionVersion []byte
	Address        []byte     // unicast address as written
	Addr           netip.Addr // zero when Address is a host name
}

// parseAddress parses an IP literal of the given address type ("IP4" or
// "IP6"). A host name yields a zero Addr and ok; anything else is not ok.
func parseAddress(addrType, a []byte) (netip.Addr, bool) {
	if len(a) == 0 {
		return netip.Addr{}, false
	}
	switch {
	case equalFold(addrType, "IP4"):
		if ip, ok := parseIPv4(a); ok {
			return ip, true
		}
	case equalFold(addrType, "IP6"):
		if ip, ok := parseIPv6(a); ok {
			return ip, true
		}
	default:
		return netip.Addr{}, false
	}
	return netip.Addr{}, isHostname(a)
}

// isHostname accepts the letters, digits, '-' and '.' of a domain name,
// with at least one letter so that a malformed IP literal is not taken
// for one.
func isHostname(a []byte) bool {
	letter := false
	for _, c := range a {
		switch {
		case 'a' <= lower(c) && lower(c) <= 'z':
			letter = true
		case '0' <= c && c <= '9', c == '-', c == '.':
		default:
			return false
		}
	}
	return letter
}

// parseConnection parses the value of a c= line.
func parseConnection(v []byte) (Connection, error) {
	netType, i := field(v, 0)
	addrType, i := field(v, i)
	addr, i := field(v, i)
	if extra, _ := field(v, i); len(extra) != 0 || !equalFold(netType, "IN") {
		return Connection{}, fmt.Errorf("%w: %q", ErrBadConnection, v)
	}
	var c Connection
	var suffix []byte
	if slash := indexByte(addr, '/'); slash >= 0 {
		addr, suffix = addr[:slash], addr[slash+1:]
	}
	ip, ok := parseAddress(addrType, addr)
	if !ok {
		return Connection{}, fmt.Errorf("%w: address %q is not %s", ErrBadConnection, addr, addrType)
	}
	c.Address, c.Addr = addr, ip
	if suffix == nil {
		return c, nil
	}
	var count []byte
	if equalFold(addrType, "IP4") {
		ttl := suffix
		if slash := indexByte(suffix, '/'); slash >= 0 {
			ttl, count = suffix[:slash], suffix[slash+1:]
		}
		n, ok := parseUint(ttl, 255)
		if !ok {
			return Connection{}, fmt.Errorf("%w: TTL %q", ErrBadConnection, ttl)
		}
		c.TTL = uint8(n)
	} else {
		count = suffix
	}
	if count != nil {
		n, ok := parseUint(count, 65535)
		if !ok {
			return Connection{}, fmt.Errorf("%w: address count %q", ErrBadConnection, count)
		}
		c.Count = uint16(n)
	}
	return c, nil
}

// parseOrigin parses the value of an o= line.
func parseOrigin(v []byte) (Origin, bool) {
	user, i := field(v, 0)
	id, i := field(v, i)
	version, i := field(v, i)
	netType, i := field(v, i)
	addrType, i := field(v, i)
	addr, i := field(v, i)
	if extra, _ := field(v, i); len(extra) != 0 || len(addr) == 0 || !equalFold(netType, "IN") {
		return Origin{}, false
	}
	ip, ok := parseAddress(addrType, addr)
	if !ok {
		return Origin{}, false
	}
	return Origin{Username: user, SessionID: id, SessionVersion: version, Address: addr, Addr: ip}, true
}
