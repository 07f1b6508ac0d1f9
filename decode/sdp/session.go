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
	for i := range s.NumMedia {
		s.Media[i].reset()
	}
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
func (s *Session) Unmarshal(b []byte) error { return s.unmarshal(b, true) }

// UnmarshalEndpoints is Unmarshal for a caller that only needs to know
// where media flows, as the correlator binding RTP to calls does. It fills
// Name, the c= lines, each m= line's Type, Port, NumPorts, Proto and Fmt,
// the direction attributes, a=rtcp and a=rtcp-mux exactly as Unmarshal
// does, and returns the same error for every input (only the lines it
// reads can fail), so RTPAddr, RTCPAddr, MediaAddr, MediaDirection and
// OnHold answer the same. What describes the payload is skipped and left
// empty: Origin, Formats, RTPMaps, FMTPs, Ptime and MaxPtime, and the
// flags only they raise (FlagBadOrigin, FlagBadAttribute of rtpmap and
// ptime, FlagTruncated of formats and rtpmaps). That is about half the work.
func (s *Session) UnmarshalEndpoints(b []byte) error { return s.unmarshal(b, false) }

// unmarshal parses everything when full is set, else what
// UnmarshalEndpoints promises.
func (s *Session) unmarshal(b []byte, full bool) error {
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
			if full && cur == nil && !overflow && s.Origin.Address == nil {
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
			truncated, ok := parseMedia(v, m, full)
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
				s.attribute(cur, v, full)
			}
		}
	}
	if !seenVersion {
		return ErrNotSDP
	}
	return nil
}

// attribute applies one a= line at session level (m == nil) or to m;
// without full, only those that say where media flows. Names are told
// apart by length first: most a= lines are rtpmap, fmtp or a direction,
// and one length test skips every other comparison.
func (s *Session) attribute(m *Media, v []byte, full bool) {
	name, value := v, []byte(nil)
	if colon := indexByte(v, ':'); colon >= 0 {
		name, value = v[:colon], v[colon+1:]
	}
	if len(name) == 8 {
		if d := parseDirection(name); d != DirectionUnspecified {
			if m == nil {
				s.Direction = d
			} else {
				m.Direction = d
			}
			return
		}
	}
	if m == nil {
		return // other session-level attributes do not concern us
	}
	switch len(name) {
	case 6:
		if full && equalFold(name, "rtpmap") {
			s.rtpmap(m, value)
		}
	case 4:
		switch {
		case full && equalFold(name, "fmtp"):
			s.fmtp(m, value)
		case equalFold(name, "rtcp"):
			s.rtcp(m, value)
		}
	case 8:
		switch {
		case equalFold(name, "rtcp-mux"):
			m.RTCPMux = true
		case full && equalFold(name, "maxptime"):
			if ms, ok := parseMilliseconds(trimSpace(value)); ok {
				m.MaxPtime = ms
			} else {
				s.Flags |= FlagBadAttribute
			}
		}
	case 5:
		if full && equalFold(name, "ptime") {
			if ms, ok := parseMilliseconds(trimSpace(value)); ok {
				m.Ptime = ms
			} else {
				s.Flags |= FlagBadAttribute
			}
		}
	}
}

func (s *Session) rtpmap(m *Media, value []byte) {
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
}

func (s *Session) fmtp(m *Media, value []byte) {
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
}

// rtcp applies "port [IN IP4 address]" (RFC 3605).
func (s *Session) rtcp(m *Media, value []byte) {
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
