package stream

import (
	"bytes"

	"github.com/sipscope/sipscope/decode/sip"
)

// maxHandshakeBytes bounds an HTTP upgrade request or response header.
const maxHandshakeBytes = 16 << 10

// handshake waits for the server's answer to a WebSocket upgrade request.
// A 101 switches both directions to WebSocket frames; anything else means
// the connection is plain HTTP.
func (r *Reassembler) handshake(c *conn, di int, b []byte) (int, bool) {
	if di == int(c.wsClient) {
		// Frames the client sends before the answer wait in its buffer.
		if len(b) > maxHandshakeBytes {
			r.markNotSIP(c, false)
			return len(b), false
		}
		return 0, true
	}
	line, complete := firstLine(b)
	if !complete {
		if len(line) > maxHandshakeBytes || !plausibleLine(line) {
			r.markNotSIP(c, false)
			return len(b), false
		}
		return 0, true
	}
	if !isSwitchingProtocols(line) {
		r.markNotSIP(c, false)
		return len(b), false
	}
	end := headerEnd(b)
	if end < 0 {
		if len(b) > maxHandshakeBytes {
			r.markNotSIP(c, false)
			return len(b), false
		}
		return 0, true
	}
	c.mode = modeWebSocket
	c.pumpClient = true
	r.stats.WebSocketConns++
	return end, false
}

// frameWebSocket handles the WebSocket frame at the start of b: control
// frames are skipped, data frames are unmasked and collected until a
// message is complete, and each complete message is one SIP message.
func (r *Reassembler) frameWebSocket(c *conn, di int, b []byte, ts int64, emit func(Message)) (int, bool) {
	d := &c.dirs[di]
	f, n, err := ParseFrame(b)
	if err == ErrIncomplete {
		return 0, true
	}
	if err != nil {
		// Without a frame length there is no way to the next frame.
		r.stats.FramingErrors++
		r.stats.BytesSkipped += uint64(len(b))
		d.wsBroken = true
		return len(b), false
	}
	r.stats.WebSocketFrames++
	if f.Opcode.IsControl() {
		r.stats.WebSocketCtrl++
		return n, false
	}
	if f.Opcode == OpContinuation {
		if !d.inFrag {
			r.stats.FramingErrors++ // a continuation of nothing
			return n, false
		}
		if !d.fragDrop {
			r.appendFragment(d, &f)
		}
		if f.Fin {
			if !d.fragDrop {
				r.emitWebSocket(d, d.frag, ts, emit)
			}
			r.releaseBuf(&d.frag)
			d.inFrag, d.fragDrop = false, false
		}
		return n, false
	}
	// A text or binary frame starts a new message.
	if d.inFrag {
		r.stats.FramingErrors++ // the previous one never finished
		r.stats.BytesSkipped += uint64(len(d.frag))
		r.releaseBuf(&d.frag)
		d.inFrag, d.fragDrop = false, false
	}
	if f.RSV != 0 {
		// An extension, in practice permessage-deflate: not decoded.
		r.stats.FramingErrors++
		d.inFrag, d.fragDrop = !f.Fin, !f.Fin
		return n, false
	}
	if !f.Fin {
		d.inFrag = true
		r.appendFragment(d, &f)
		return n, false
	}
	msg := f.Payload // a server's frames are not masked: no copy
	if f.Masked {
		r.scratch = f.AppendPayload(r.scratch[:0])
		msg = r.scratch
	}
	r.emitWebSocket(d, msg, ts, emit)
	if cap(r.scratch) > maxSpareCap {
		r.scratch = nil
	}
	return n, false
}

// appendFragment adds a fragment's unmasked payload to the message in
// progress, or drops the message if it would grow past the bounds.
func (r *Reassembler) appendFragment(d *direction, f *Frame) {
	if len(d.frag)+len(f.Payload) > MaxFramePayload || !r.appendBounded(d, &d.frag, f.Payload) {
		r.stats.BufferOverflows++
		r.stats.BytesSkipped += uint64(len(d.frag))
		r.releaseBuf(&d.frag)
		d.fragDrop = true
		return
	}
	if f.Masked {
		unmask(d.frag[len(d.frag)-len(f.Payload):], f.MaskKey, 0)
	}
}

// emitWebSocket emits one complete WebSocket message if it is a SIP message
// (RFC 7118 §5: one message per WebSocket message, Content-Length optional).
func (r *Reassembler) emitWebSocket(d *direction, msg []byte, ts int64, emit func(Message)) {
	if n := crlfRun(msg); n > 0 {
		r.stats.KeepAlives++
		msg = msg[n:]
		if len(msg) == 0 {
			return
		}
	}
	if _, err := sip.FrameLength(msg); err != nil || !sip.LooksLikeSIP(msg) {
		r.stats.FramingErrors++
		return
	}
	r.stats.Messages++
	emit(Message{Src: d.src, Dst: d.dst, TS: ts, Payload: msg, WebSocket: true})
}

// looksLikeSIPWebSocket reports whether b starts with a WebSocket data
// frame whose payload starts with a SIP start line: how a connection that
// upgraded before the capture started is recognised. The frame itself may
// continue in later segments.
func (r *Reassembler) looksLikeSIPWebSocket(b []byte) bool {
	f, hdr, n, err := parseFrameHeader(b)
	if err != nil || f.RSV != 0 || (f.Opcode != OpText && f.Opcode != OpBinary) {
		return false
	}
	f.Payload = b[hdr:min(len(b), hdr+n, hdr+sip.MaxLineBytes)]
	r.scratch = f.AppendPayload(r.scratch[:0])
	return sip.LooksLikeSIP(r.scratch)
}

// headerEnd returns the length of the HTTP header at the start of b,
// through the empty line, or -1 if the empty line has not arrived.
func headerEnd(b []byte) int {
	if i := bytes.Index(b, []byte("\r\n\r\n")); i >= 0 {
		return i + 4
	}
	if i := bytes.Index(b, []byte("\n\n")); i >= 0 {
		return i + 2
	}
	return -1
}

// isSIPUpgrade reports whether an HTTP request header asks for a WebSocket
// with the "sip" subprotocol (RFC 7118 §4.1).
func isSIPUpgrade(hdr []byte) bool {
	websocket, sipProto := false, false
	_, rest, _ := bytes.Cut(hdr, []byte("\n"))
	for len(rest) > 0 {
		var line []byte
		line, rest, _ = bytes.Cut(rest, []byte("\n"))
		name, value, ok := bytes.Cut(line, []byte(":"))
		if !ok {
			continue
		}
		name = bytes.TrimSpace(name)
		switch {
		case bytes.EqualFold(name, []byte("Upgrade")):
			websocket = websocket || hasToken(value, "websocket")
		case bytes.EqualFold(name, []byte("Sec-WebSocket-Protocol")):
			sipProto = sipProto || hasToken(value, "sip")
		}
	}
	return websocket && sipProto
}

// hasToken reports whether a comma-separated header value lists token.
func hasToken(value []byte, token string) bool {
	for len(value) > 0 {
		var item []byte
		item, value, _ = bytes.Cut(value, []byte(","))
		if bytes.EqualFold(bytes.TrimSpace(item), []byte(token)) {
			return true
		}
	}
	return false
}

// isSwitchingProtocols reports whether line is an HTTP/1.1 101 status line.
func isSwitchingProtocols(line []byte) bool {
	const prefix = "HTTP/1.1 101"
	return len(line) >= len(prefix) && string(line[:len(prefix)]) == prefix &&
		(len(line) == len(prefix) || line[len(prefix)] == ' ')
}

// isHTTPLine reports whether line is an HTTP request or status line.
func isHTTPLine(line []byte) bool {
	if bytes.HasPrefix(line, []byte("HTTP/1.")) || bytes.HasPrefix(line, []byte("HTTP/2")) {
		return true
	}
	return bytes.HasSuffix(line, []byte(" HTTP/1.1")) || bytes.HasSuffix(line, []byte(" HTTP/1.0"))
}
