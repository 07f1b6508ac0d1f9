package sdp

import (
	"fmt"
	"net/netip"
)

// MaxBytes bounds the size of a description Unmarshal accepts.
const MaxBytes = 64 << 10

// Session is the decoded view of one session description. The caller owns
// it and reuses it: Unmarshal resets it. Every []byte points into the
// input.
type Session struct {
	Origin Origin
	Name   []byte // s=
	// Connection is the session-level c= line (Address nil when absent).
	Connection Connection
	// Direction is the session-level direction attribute, if any.
	Direction Direction
	// Media holds the first NumMedia m= sections; MediaCount counts all.
	Media      [MaxMedia]Media
	NumMedia   int
	MediaCount int
	Flags      Flags
}

func (s *Session) reset() {
	clear(s.Media[:s.NumMedia])
	s.Origin = Origin{}
	s.Name = nil
	s.Connection = Connection{}
	s.Direction = DirectionUnspecified
	s.NumMedia, s.MediaCount = 0, 0
	s.Flags = 0
}

// Unmarshal parses a session description. Lines may end in CRLF or LF;
// unknown lines and attributes are ignored. A malformed c= or m= line is
// an error (ErrBadConnection, ErrBadMedia) because the media endpoints
// could not be trusted; other malformed lines set Flags. Unmarshal does
// not allocate unless it returns an error.
func (s *Session) Unmarshal(b []byte) error {
	s.reset()
	if len(b) > MaxBytes {
		return fmt.Errorf("%w: %d bytes", ErrTooLong, len(b))
	}
	var cur *Media    // the m= section being filled, nil at session level
	overflow := false // past MaxMedia: media-level lines are dropped
	seenVersion := false
	for off := 0; off < len(b); {
		end := off + indexByte(b[off:], '\n')
		next := end + 1
		if end < off {
			end, next = len(b), len(b)
		}
		line := trimSpace(b[off:end])
		off = next
		if len(line) == 0 {
			continue
		}
		if !seenVersion {
			if len(line) < 2 || line[0] != 'v' || line[1] != '=' {
				return fmt.Errorf("%w: first line %q", ErrNotSDP, line[:min(len(line), 16)])
			}
			seenVersion = true
			continue
		}
		if len(line) < 2 || line[1] != '=' || lower(line[0]) < 'a' || lower(line[0]) > 'z' {
			s.Flags |= FlagBadLine
			continue
		}
		v := line[2:]
		switch line[0] {
		case 'o':
			if cur == nil && !overflow && s.Origin.Address == nil {
				o, ok := parseOrigin(v)
				if !ok {
					s.Flags |= FlagBadOrigin
				}
				s.Origin = o
			}
		case 's':
			if cur == nil && !overflow && s.Name == nil {
				s.Name = v
			}
		case 'c':
			c, err := parseConnection(v)
			if err != nil {
				return err
			}
			switch {
			case overflow:
			case cur == nil:
				if s.Connection.Address == nil {
					s.Connection = c
				}
			case cur.Connection.Address == nil:
				cur.Connection = c
			}
		case 'm':
			s.MediaCount++
			var m *Media
			if s.NumMedia < MaxMedia {
				m = &s.Media[s.NumMedia]
			}
			truncated, ok := parseMedia(v, m)
			if !ok {
				return fmt.Errorf("%w: %q", ErrBadMedia, v)
			}
			if truncated {
				s.Flags |= FlagTruncated
			}
			if m == nil {
				overflow = true
				s.Flags |= FlagTruncated
				cur = nil
				continue
			}
			s.NumMedia++
			cur = m
		case 'a':
			if !overflow {
				s.attribute(cur, v)
			}
		}
	}
	if !seenVersion {
		return ErrNotSDP
	}
	return nil
}

// attribute applies one a= line at session level (m == nil) or to m.
func (s *Session) attribute(m *Media, v []byte) {
	name, value := v, []byte(nil)
	if colon := indexByte(v, ':'); colon >= 0 {
		name, value = v[:colon], v[colon+1:]
	}
	if d := parseDirection(name); d != DirectionUnspecified {
		if m == nil {
			s.Direction = d
		} else {
			m.Direction = d
		}
		return
	}
	if m == nil {
		return // other session-level attributes do not concern us
	}
	switch {
	case equalFold(name, "rtpmap"):
		r, ok := parseRTPMap(value)
		switch {
		case !ok:
			s.Flags |= FlagBadAttribute
		case m.rtpmap(r.PT) != nil:
			// The first mapping of a payload type wins.
		case m.NumRTPMaps == MaxRTPMaps:
			s.Flags |= FlagTruncated
		default:
			m.RTPMaps[m.NumRTPMaps] = r
			m.NumRTPMaps++
		}
	case equalFold(name, "fmtp"):
		f, ok := parseFMTP(value)
		switch {
		case !ok:
			// Non-RTP formats carry fmtp too; nothing to record.
		case m.NumFMTPs == MaxFMTPs:
			s.Flags |= FlagTruncated
		default:
			m.FMTPs[m.NumFMTPs] = f
			m.NumFMTPs++
		}
	case equalFold(name, "rtcp"):
		// "port [IN IP4 address]" (RFC 3605).
		pf, i := field(value, 0)
		port, ok := parseUint(pf, 65535)
		if !ok {
			s.Flags |= FlagBadAttribute
			return
		}
		var addr netip.Addr
		if netType, j := field(value, i); len(netType) > 0 {
			addrType, j := field(value, j)
			a, j := field(value, j)
			extra, _ := field(value, j)
			ip, ok := parseAddress(addrType, a)
			if !ok || len(extra) > 0 || !equalFold(netType, "IN") {
				s.Flags |= FlagBadAttribute
				return
			}
			addr = ip
		}
		m.RTCPPort, m.RTCPAddr = uint16(port), addr
	case equalFold(name, "rtcp-mux"):
		m.RTCPMux = true
	case equalFold(name, "ptime"):
		if ms, ok := parseMilliseconds(trimSpace(value)); ok {
			m.Ptime = ms
		} else {
			s.Flags |= FlagBadAttribute
		}
	case equalFold(name, "maxptime"):
		if ms, ok := parseMilliseconds(trimSpace(value)); ok {
			m.MaxPtime = ms
		} else {
			s.Flags |= FlagBadAttribute
		}
	}
}

// MediaAddr returns the connection address of media section i: its own
// c= line if it has one, else the session-level one. It is zero when
// neither exists, the address is a host name, or i is out of range. A
// zero unspecified address (0.0.0.0) is how RFC 2543 put a call on hold.
func (s *Session) MediaAddr(i int) netip.Addr {
	if i < 0 || i >= s.NumMedia {
		return netip.Addr{}
	}
	if c := &s.Media[i].Connection; c.Address != nil {
		return c.Addr
	}
	return s.Connection.Addr
}

// MediaDirection returns the direction of media section i: its own
// attribute, else the session-level one, else sendrecv (RFC 8866 §6.7).
func (s *Session) MediaDirection(i int) Direction {
	if i >= 0 && i < s.NumMedia && s.Media[i].Direction != DirectionUnspecified {
		return s.Media[i].Direction
	}
	if s.Direction != DirectionUnspecified {
		return s.Direction
	}
	return SendRecv
}

// RTPAddr returns where media section i wants to receive RTP.
func (s *Session) RTPAddr(i int) netip.AddrPort {
	if i < 0 || i >= s.NumMedia {
		return netip.AddrPort{}
	}
	return netip.AddrPortFrom(s.MediaAddr(i), s.Media[i].Port)
}

// RTCPAddr returns where media section i wants to receive RTCP: the RTP
// port with a=rtcp-mux, else the a=rtcp port and address (RFC 3605), else
// the RTP port plus one (RFC 3550 §11). The port is 0 when the stream is
// disabled.
func (s *Session) RTCPAddr(i int) netip.AddrPort {
	if i < 0 || i >= s.NumMedia {
		return netip.AddrPort{}
	}
	m := &s.Media[i]
	addr := s.MediaAddr(i)
	switch {
	case m.Port == 0:
		return netip.AddrPortFrom(addr, 0)
	case m.RTCPMux:
		return netip.AddrPortFrom(addr, m.Port)
	case m.RTCPPort != 0:
		if m.RTCPAddr.IsValid() {
			addr = m.RTCPAddr
		}
		return netip.AddrPortFrom(addr, m.RTCPPort)
	case m.Port == 65535:
		return netip.AddrPortFrom(addr, 0)
	}
	return netip.AddrPortFrom(addr, m.Port+1)
}

// OnHold reports whether media section i signals hold: direction sendonly
// or inactive (RFC 3264 §8.4), or connection address 0.0.0.0 or ::
// (RFC 2543).
func (s *Session) OnHold(i int) bool {
	if i < 0 || i >= s.NumMedia {
		return false
	}
	switch s.MediaDirection(i) {
	case SendOnly, Inactive:
		return true
	}
	return s.MediaAddr(i).IsUnspecified()
}
