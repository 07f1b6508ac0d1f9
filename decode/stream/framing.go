package stream

import (
	"bytes"
	"encoding/binary"
	"errors"
	"strings"

	"github.com/sipscope/sipscope/decode/sip"
)

// maxHuntBytes bounds how far a connection whose start was not captured is
// searched for a SIP start line before it is taken not to carry SIP.
const maxHuntBytes = 64 << 10

// consume frames the in-order bytes b of direction di and returns how many
// it used up; the rest must be kept until more bytes arrive. Each step
// either uses bytes, changes state so that another step will, or waits.
func (r *Reassembler) consume(c *conn, di int, b []byte, ts int64, emit func(Message)) int {
	d := &c.dirs[di]
	used := 0
	for used < len(b) {
		if c.mode == modeNotSIP || d.wsBroken {
			return len(b)
		}
		var n int
		var wait bool
		switch {
		case d.hunting && (c.mode == modeUnknown || c.mode == modeSIP):
			n, wait = r.hunt(c, di, b[used:])
		case c.mode == modeUnknown:
			n, wait = r.classify(c, di, b[used:])
		case c.mode == modeSIP:
			n, wait = r.frameSIP(c, di, b[used:], ts, emit)
		case c.mode == modeHandshake:
			n, wait = r.handshake(c, di, b[used:])
		case c.mode == modeWebSocket:
			n, wait = r.frameWebSocket(c, di, b[used:], ts, emit)
		case c.mode == modeHEP:
			n, wait = r.frameHEP(c, di, b[used:], ts, emit)
		}
		used += n
		if wait {
			break
		}
	}
	return used
}

// classify decides from the first bytes of a connection what it carries.
func (r *Reassembler) classify(c *conn, di int, b []byte) (int, bool) {
	d := &c.dirs[di]
	if n := crlfRun(b); n > 0 {
		r.stats.KeepAlives++
		return n, false
	}
	if LooksLikeTLS(b) {
		r.markNotSIP(c, true)
		return len(b), false
	}
	if len(b) < len(hep3) && bytes.HasPrefix([]byte(hep3), b) {
		return 0, true // maybe HEP: wait for the magic
	}
	if bytes.HasPrefix(b, []byte(hep3)) {
		c.mode = modeHEP
		r.stats.HEPConns++
		return 0, false
	}
	if !d.knownStart && r.looksLikeSIPWebSocket(b) {
		// The capture began after the upgrade.
		c.mode = modeWebSocket
		r.stats.WebSocketConns++
		return 0, false
	}
	line, complete := firstLine(b)
	if !complete {
		if (len(b) < 5 && b[0] >= 20 && b[0] <= 23) || (len(line) <= sip.MaxLineBytes && plausibleLine(line)) {
			return 0, true // the rest of the line (or TLS header) is on its way
		}
		if d.knownStart {
			r.markNotSIP(c, false)
			return len(b), false
		}
		d.hunting, d.atLineStart = true, false
		return 0, false
	}
	switch {
	case sip.LooksLikeSIP(b):
		c.mode = modeSIP
		return 0, false
	case len(b) >= 4 && string(b[:4]) == "GET ":
		end := headerEnd(b)
		if end < 0 {
			if len(b) > maxHandshakeBytes {
				r.markNotSIP(c, false)
				return len(b), false
			}
			return 0, true
		}
		if !isSIPUpgrade(b[:end]) {
			r.markNotSIP(c, false)
			return len(b), false
		}
		c.mode, c.wsClient = modeHandshake, uint8(di)
		return end, false
	case d.knownStart || isHTTPLine(line):
		// The stream's first line is neither SIP nor an upgrade to it.
		r.markNotSIP(c, false)
		return len(b), false
	}
	// A capture that started mid-stream: look for the next message.
	d.hunting, d.atLineStart = true, true
	return 0, false
}

// hunt skips to the next line that starts a SIP request or status line.
func (r *Reassembler) hunt(c *conn, di int, b []byte) (int, bool) {
	d := &c.dirs[di]
	i := 0
	for i < len(b) {
		if !d.atLineStart {
			j := bytes.IndexByte(b[i:], '\n')
			if j < 0 {
				i = len(b)
				break
			}
			i += j + 1
			d.atLineStart = true
			continue
		}
		if b[i] == '\r' || b[i] == '\n' {
			i++
			continue
		}
		j := bytes.IndexByte(b[i:], '\n')
		if j < 0 {
			if rest := b[i:]; len(rest) <= sip.MaxLineBytes && plausibleLine(rest) {
				r.hunted(c, d, i)
				return i, true // judge the line once it is whole
			}
			d.atLineStart = false
			i = len(b)
			break
		}
		if sip.LooksLikeSIP(b[i:]) {
			d.hunting = false
			if c.mode == modeUnknown {
				c.mode = modeSIP
			}
			r.hunted(c, d, i)
			return i, false
		}
		i += j + 1
	}
	r.hunted(c, d, i)
	return i, false
}

// hunted counts n bytes skipped while hunting; a connection not yet known
// to be SIP is given up after maxHuntBytes of them.
func (r *Reassembler) hunted(c *conn, d *direction, n int) {
	r.stats.BytesSkipped += uint64(n)
	if c.mode != modeUnknown {
		return
	}
	d.huntSkipped += n
	if d.huntSkipped > maxHuntBytes {
		r.markNotSIP(c, false)
	}
}

// frameSIP emits the SIP message at the start of b once it is complete.
func (r *Reassembler) frameSIP(c *conn, di int, b []byte, ts int64, emit func(Message)) (int, bool) {
	d := &c.dirs[di]
	if !d.startOK {
		if n := crlfRun(b); n > 0 {
			r.stats.KeepAlives++
			return n, false
		}
		line, complete := firstLine(b)
		if !complete {
			if len(line) <= sip.MaxLineBytes && plausibleLine(line) {
				return 0, true
			}
			d.hunting, d.atLineStart = true, false
			return 0, false
		}
		if !sip.LooksLikeSIP(b) {
			// Junk where a message should start.
			d.hunting, d.atLineStart = true, false
			return 0, false
		}
		d.startOK = true
	}
	if d.need > len(b) {
		return 0, true
	}
	n, err := sip.FrameLength(b)
	switch {
	case err == nil:
	case errors.Is(err, sip.ErrIncomplete):
		d.need = n
		return 0, true
	default:
		// Limits or a bad Content-Length: this message cannot be framed.
		// Skip its start line and look for the next one.
		r.stats.FramingErrors++
		d.need, d.startOK = 0, false
		d.hunting, d.atLineStart = true, false
		return 0, false
	}
	d.need, d.startOK = 0, false
	r.stats.Messages++
	emit(Message{Src: d.src, Dst: d.dst, TS: ts, Payload: b[:n]})
	return n, false
}

// crlfRun returns the number of CR and LF bytes at the start of b.
func crlfRun(b []byte) int {
	n := 0
	for n < len(b) && (b[n] == '\r' || b[n] == '\n') {
		n++
	}
	return n
}

// firstLine returns b's first line without its line end, and whether the
// line end is there.
func firstLine(b []byte) ([]byte, bool) {
	i := bytes.IndexByte(b, '\n')
	if i < 0 {
		return b, false
	}
	if i > 0 && b[i-1] == '\r' {
		i--
	}
	return b[:i], true
}

// plausibleLine reports whether a line still being received could be a
// SIP or HTTP start line: printable ASCII from a token character on. It
// spares waiting for the end of a "line" in binary data.
func plausibleLine(b []byte) bool {
	if len(b) == 0 {
		return true
	}
	if !isTokenChar(b[0]) {
		return false
	}
	for _, c := range b {
		if c < 0x20 && c != '\r' || c > 0x7e {
			return false
		}
	}
	return true
}

// isTokenChar reports whether c may appear in an RFC 3261 token.
func isTokenChar(c byte) bool {
	switch {
	case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		return true
	}
	return strings.IndexByte("-.!%*_+`'~", c) >= 0
}

// hep3 starts every HEPv3 packet; its next two bytes are the total length.
const hep3 = "HEP3"

// hepHeader is the magic and the length field.
const hepHeader = 6

// frameHEP cuts one HEPv3 packet off a collector connection. A stream that
// loses the framing (no magic where a packet must start) is given up, as a
// HEP collector would close it.
func (r *Reassembler) frameHEP(c *conn, di int, b []byte, ts int64, emit func(Message)) (int, bool) {
	if len(b) < hepHeader {
		return 0, true
	}
	n := int(binary.BigEndian.Uint16(b[4:6]))
	if !bytes.HasPrefix(b, []byte(hep3)) || n < hepHeader {
		r.stats.FramingErrors++
		r.markNotSIP(c, false)
		return len(b), false
	}
	if len(b) < n {
		return 0, true
	}
	d := &c.dirs[di]
	r.stats.HEPPackets++
	r.stats.Messages++
	emit(Message{Src: d.src, Dst: d.dst, TS: ts, Payload: b[:n], HEP: true})
	return n, false
}
