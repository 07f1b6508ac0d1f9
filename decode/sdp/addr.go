package sdp

import "net/netip"

// parseIPv4 and parseIPv6 parse IP literals from bytes with the same rules
// as netip.ParseAddr (no leading zeros in IPv4 octets, at most 4 hex
// digits per group, one "::"), but without converting to a string, which
// would allocate. Zones are not accepted: SDP has no use for them.
// addr_test.go checks them against netip.ParseAddr.

func parseIPv4(s []byte) (netip.Addr, bool) {
	var ip [4]byte
	if !parseIPv4Into(s, &ip) {
		return netip.Addr{}, false
	}
	return netip.AddrFrom4(ip), true
}

func parseIPv4Into(s []byte, ip *[4]byte) bool {
	field, val, digits := 0, 0, 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case '0' <= c && c <= '9':
			if digits == 1 && val == 0 {
				return false // leading zero
			}
			val = val*10 + int(c-'0')
			digits++
			if val > 255 {
				return false
			}
		case c == '.':
			if digits == 0 || field == 3 {
				return false
			}
			ip[field] = byte(val)
			field++
			val, digits = 0, 0
		default:
			return false
		}
	}
	if field != 3 || digits == 0 {
		return false
	}
	ip[3] = byte(val)
	return true
}

func hexValue(c byte) (uint32, bool) {
	switch {
	case '0' <= c && c <= '9':
		return uint32(c - '0'), true
	case 'a' <= c && c <= 'f':
		return uint32(c-'a') + 10, true
	case 'A' <= c && c <= 'F':
		return uint32(c-'A') + 10, true
	}
	return 0, false
}

func parseIPv6(s []byte) (netip.Addr, bool) {
	var ip [16]byte
	gap := -1 // where "::" stands, as an index into ip
	if len(s) >= 2 && s[0] == ':' && s[1] == ':' {
		gap = 0
		s = s[2:]
		if len(s) == 0 {
			return netip.IPv6Unspecified(), true
		}
	}
	n := 0 // bytes of ip filled
	for n < 16 {
		digits := 0
		var group uint32
		for digits < len(s) {
			v, ok := hexValue(s[digits])
			if !ok {
				break
			}
			if digits == 4 {
				return netip.Addr{}, false
			}
			group = group<<4 | v
			digits++
		}
		if digits == 0 {
			return netip.Addr{}, false
		}
		if digits < len(s) && s[digits] == '.' {
			// A dotted IPv4 tail fills the last four bytes.
			if (gap < 0 && n != 12) || n+4 > 16 {
				return netip.Addr{}, false
			}
			var v4 [4]byte
			if !parseIPv4Into(s, &v4) {
				return netip.Addr{}, false
			}
			copy(ip[n:], v4[:])
			n += 4
			s = s[len(s):]
			break
		}
		ip[n], ip[n+1] = byte(group>>8), byte(group)
		n += 2
		s = s[digits:]
		if len(s) == 0 {
			break
		}
		if s[0] != ':' || len(s) == 1 {
			return netip.Addr{}, false
		}
		s = s[1:]
		if s[0] == ':' {
			if gap >= 0 {
				return netip.Addr{}, false
			}
			gap = n
			s = s[1:]
			if len(s) == 0 {
				break
			}
		}
	}
	if len(s) != 0 {
		return netip.Addr{}, false
	}
	if n < 16 {
		if gap < 0 {
			return netip.Addr{}, false
		}
		shift := 16 - n
		copy(ip[gap+shift:], ip[gap:n])
		clear(ip[gap : gap+shift])
	} else if gap >= 0 {
		return netip.Addr{}, false // "::" must stand for at least one group
	}
	return netip.AddrFrom16(ip), true
}
