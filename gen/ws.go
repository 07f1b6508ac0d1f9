package gen

import (
	"crypto/sha1"
	"encoding/base64"
	"encoding/binary"
	"fmt"
	"net/netip"
	"strings"
)

// WebSocket opcodes (RFC 6455 §5.2).
const (
	wsContinuation = 0x0
	wsText         = 0x1
)

// wsAcceptGUID is the fixed GUID of the opening handshake (RFC 6455 §1.3).
const wsAcceptGUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

// wsHandshake returns the client's HTTP Upgrade request to server,
// negotiating the "sip" subprotocol (RFC 7118 §4), and the server's
// 101 Switching Protocols.
func (b *builder) wsHandshake(server netip.AddrPort) (req, resp []byte) {
	var nonce [16]byte
	binary.BigEndian.PutUint64(nonce[:], b.net.Uint64())
	binary.BigEndian.PutUint64(nonce[8:], b.net.Uint64())
	key := base64.StdEncoding.EncodeToString(nonce[:])

	var q strings.Builder
	q.WriteString("GET / HTTP/1.1\r\n")
	writeHeader(&q, "Host", server.String())
	writeHeader(&q, "Upgrade", "websocket")
	writeHeader(&q, "Connection", "Upgrade")
	writeHeader(&q, "Sec-WebSocket-Key", key)
	writeHeader(&q, "Origin", fmt.Sprintf("http://%s", domain))
	writeHeader(&q, "Sec-WebSocket-Protocol", "sip")
	writeHeader(&q, "Sec-WebSocket-Version", "13")
	writeHeader(&q, "User-Agent", userAgent)
	q.WriteString("\r\n")

	var s strings.Builder
	s.WriteString("HTTP/1.1 101 Switching Protocols\r\n")
	writeHeader(&s, "Upgrade", "websocket")
	writeHeader(&s, "Connection", "Upgrade")
	writeHeader(&s, "Sec-WebSocket-Accept", wsAccept(key))
	writeHeader(&s, "Sec-WebSocket-Protocol", "sip")
	s.WriteString("\r\n")
	return []byte(q.String()), []byte(s.String())
}

// wsAccept is the server's proof that it read key (RFC 6455 §4.2.2).
func wsAccept(key string) string {
	sum := sha1.Sum([]byte(key + wsAcceptGUID))
	return base64.StdEncoding.EncodeToString(sum[:])
}

// wsFrames turns one SIP message into WebSocket frames: one text frame, or
// with WSFragment a text frame and one or two continuations, each a write
// of its own. Frames from the client are masked with a fresh key each.
func (b *builder) wsFrames(msg []byte, masked bool) [][]byte {
	parts := [][]byte{msg}
	if b.cfg.WSFragment {
		// Two or three non-empty parts, cut at random places.
		n := 2 + b.net.IntN(2)
		parts = parts[:0]
		rest := msg
		for i := n; i > 1; i-- {
			cut := 1 + b.net.IntN(len(rest)-i+1)
			parts = append(parts, rest[:cut])
			rest = rest[cut:]
		}
		parts = append(parts, rest)
	}
	out := make([][]byte, len(parts))
	for i, p := range parts {
		op := byte(wsContinuation)
		if i == 0 {
			op = wsText
		}
		out[i] = b.wsFrame(op, i == len(parts)-1, masked, p)
	}
	return out
}

// wsFrame encodes one frame (RFC 6455 §5.2).
func (b *builder) wsFrame(opcode byte, fin, masked bool, payload []byte) []byte {
	f := make([]byte, 0, 14+len(payload))
	first := opcode
	if fin {
		first |= 0x80
	}
	f = append(f, first)
	var maskBit byte
	if masked {
		maskBit = 0x80
	}
	switch n := len(payload); {
	case n < 126:
		f = append(f, maskBit|byte(n))
	case n <= 0xffff:
		f = append(f, maskBit|126)
		f = binary.BigEndian.AppendUint16(f, uint16(n))
	default:
		f = append(f, maskBit|127)
		f = binary.BigEndian.AppendUint64(f, uint64(n))
	}
	if !masked {
		return append(f, payload...)
	}
	var key [4]byte
	binary.BigEndian.PutUint32(key[:], b.net.Uint32())
	f = append(f, key[:]...)
	for i, c := range payload {
		f = append(f, c^key[i%4])
	}
	return f
}
