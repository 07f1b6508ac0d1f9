package gen

import (
	"bytes"
	"encoding/binary"
	"io"
	"math/rand/v2"
	"net/netip"
	"reflect"
	"testing"
	"time"

	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"
)

// TestWireOptionsNeverChangeTheCalls plays the same seed through every
// encapsulation and transport: what the calls say (Call-IDs, users, states,
// message counts) must not move, and over UDP, where nothing is segmented,
// neither may any timestamp.
func TestWireOptionsNeverChangeTheCalls(t *testing.T) {
	base := Config{Calls: 5, Seed: 31, CallDuration: time.Second}
	plain, err := Write(io.Discard, base)
	if err != nil {
		t.Fatal(err)
	}
	variants := map[string]Config{}
	for _, e := range AllEncaps() {
		if e == EncapNone || e == Encap6in4 {
			continue // 6in4 needs IPv6 calls, which have other addresses
		}
		c := base
		c.Encap = e
		variants["encap "+e] = c
	}
	for _, c := range []Config{
		{Transport: TransportTCP, TCPSegmentSize: 64, TCPReorderPct: 50, TCPRetransmitPct: 50},
		{Transport: TransportWS, WSFragment: true, TCPSegmentSize: 128},
		{Transport: TransportSCTP},
	} {
		c.Calls, c.Seed, c.CallDuration = base.Calls, base.Seed, base.CallDuration
		variants["transport "+c.Transport] = c
	}
	for name, cfg := range variants {
		t.Run(name, func(t *testing.T) {
			got, err := Write(io.Discard, cfg)
			if err != nil {
				t.Fatal(err)
			}
			if got.Totals.SIPMessages != plain.Totals.SIPMessages || !reflect.DeepEqual(got.Totals.Requests, plain.Totals.Requests) ||
				!reflect.DeepEqual(got.Totals.Responses, plain.Totals.Responses) {
				t.Errorf("SIP totals %+v, plain UDP %+v", got.Totals, plain.Totals)
			}
			if len(got.Calls) != len(plain.Calls) || len(got.Registrations) != len(plain.Registrations) {
				t.Fatalf("%d calls and %d registrations, plain UDP %d and %d",
					len(got.Calls), len(got.Registrations), len(plain.Calls), len(plain.Registrations))
			}
			udp := cfg.Transport == TransportUDP
			for i, c := range got.Calls {
				w := plain.Calls[i]
				if !udp {
					// Only the transport and, with connections, the times move.
					w.Transport, w.SIPPort = c.Transport, c.SIPPort
					c.Start, c.End, w.Start, w.End = Time{}, Time{}, Time{}, Time{}
				}
				if !reflect.DeepEqual(c, w) {
					t.Errorf("call %d: %+v, plain UDP %+v", i, c, w)
				}
			}
			if cfg.Encap == EncapHEP {
				if len(got.Streams) != 0 || got.Totals.RTPPackets != 0 {
					t.Errorf("HEP truth has %d streams and %d RTP packets; the agent forwards SIP only",
						len(got.Streams), got.Totals.RTPPackets)
				}
				if got.Totals.Packets != got.Totals.SIPMessages {
					t.Errorf("HEP capture has %d frames for %d SIP messages", got.Totals.Packets, got.Totals.SIPMessages)
				}
			} else if udp && !reflect.DeepEqual(got.Streams, plain.Streams) {
				t.Error("RTP streams differ from plain UDP")
			}
		})
	}
}

func TestEncapsulatedCapturesAreDeterministicAndCarryTheirLinkType(t *testing.T) {
	for _, e := range AllEncaps() {
		t.Run("encap "+e, func(t *testing.T) {
			cfg := Config{Calls: 3, Seed: 32, CallDuration: time.Second, Encap: e, IPv6: e == Encap6in4}
			var a, b bytes.Buffer
			if _, err := Write(&a, cfg); err != nil {
				t.Fatal(err)
			}
			if _, err := Write(&b, cfg); err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(a.Bytes(), b.Bytes()) {
				t.Error("two runs wrote different bytes")
			}
			r, err := pcapgo.NewReader(&a)
			if err != nil {
				t.Fatal(err)
			}
			want := layers.LinkTypeEthernet
			switch e {
			case EncapSLL:
				want = layers.LinkTypeLinuxSLL
			case EncapSLL2:
				want = layers.LinkTypeLinuxSLL2
			}
			if r.LinkType() != want {
				t.Errorf("link type %v, want %v", r.LinkType(), want)
			}
		})
	}
}

func TestFragmentsReassembleToTheDatagram(t *testing.T) {
	for _, v6 := range []bool{false, true} {
		for _, mtu := range []int{MinFragmentMTU, DefaultFragmentMTU, 1000} {
			s := newSerializer(Config{Encap: EncapFragments, FragmentMTU: mtu}, rand.New(rand.NewPCG(1, 2)))
			f := &frame{src: netip.AddrPortFrom(callerAddr(0, v6), 5060), dst: netip.AddrPortFrom(calleeAddr(0, v6), 5060),
				payload: bytes.Repeat([]byte("0123456789abcdef"), 70)} // 1120 bytes, as big as an INVITE
			ip, err := s.ipPacket(f)
			if err != nil {
				t.Fatal(err)
			}
			hl := 20
			if v6 {
				hl = 40
			}
			frags := s.fragment(f, ip)
			if len(frags) < 2 {
				t.Fatalf("v6 %v MTU %d: %d fragments", v6, mtu, len(frags))
			}
			var data []byte
			for i, fr := range frags {
				if len(fr) > mtu {
					t.Errorf("v6 %v MTU %d: fragment %d is %d bytes", v6, mtu, i, len(fr))
				}
				var off int
				var more bool
				body := fr[hl:]
				if v6 {
					fh := body[:ipv6FragHeaderLen]
					off, more = int(binary.BigEndian.Uint16(fh[2:])&0xfff8), fh[3]&1 != 0
					body = body[ipv6FragHeaderLen:]
					if int(binary.BigEndian.Uint16(fr[4:])) != len(fr)-hl {
						t.Errorf("fragment %d: payload length field %d, real %d", i, binary.BigEndian.Uint16(fr[4:]), len(fr)-hl)
					}
				} else {
					fl := binary.BigEndian.Uint16(fr[6:])
					off, more = int(fl&0x1fff)*8, fl&0x2000 != 0
					if ipv4Checksum(fr[:hl]) != 0 {
						t.Errorf("fragment %d: bad header checksum", i)
					}
				}
				if off != len(data) {
					t.Errorf("v6 %v MTU %d: fragment %d at offset %d, want %d", v6, mtu, i, off, len(data))
				}
				if more != (i < len(frags)-1) {
					t.Errorf("v6 %v MTU %d: fragment %d has more-fragments %v", v6, mtu, i, more)
				}
				data = append(data, body...)
			}
			if !bytes.Equal(data, ip[hl:]) {
				t.Errorf("v6 %v MTU %d: fragments do not add up to the datagram", v6, mtu)
			}
		}
	}
}

func TestWebSocketFramesCarryTheMessage(t *testing.T) {
	msg := []byte("INVITE sip:bob@example.com SIP/2.0\r\nContent-Length: 0\r\n\r\n" + string(bytes.Repeat([]byte{'x'}, 300)))
	for _, tc := range []struct {
		name     string
		fragment bool
		masked   bool
	}{
		{"one unmasked frame from the server", false, false},
		{"one masked frame from the client", false, true},
		{"fragments from the server", true, false},
		{"masked fragments from the client", true, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for seed := range uint64(20) {
				b := &builder{cfg: Config{WSFragment: tc.fragment}, net: rand.New(rand.NewPCG(seed, 0))}
				frames := b.wsFrames(msg, tc.masked)
				if !tc.fragment && len(frames) != 1 || tc.fragment && (len(frames) < 2 || len(frames) > 3) {
					t.Fatalf("%d frames", len(frames))
				}
				var got []byte
				for i, f := range frames {
					op, fin, masked := f[0]&0x0f, f[0]&0x80 != 0, f[1]&0x80 != 0
					wantOp := byte(wsContinuation)
					if i == 0 {
						wantOp = wsText
					}
					if op != wantOp || fin != (i == len(frames)-1) || masked != tc.masked {
						t.Fatalf("frame %d: opcode %d fin %v masked %v", i, op, fin, masked)
					}
					n, p := int(f[1]&0x7f), f[2:]
					if n == 126 {
						n, p = int(binary.BigEndian.Uint16(p)), p[2:]
					}
					var key []byte
					if masked {
						key, p = p[:4], p[4:]
					}
					if len(p) != n || n == 0 {
						t.Fatalf("frame %d: length %d, payload %d", i, n, len(p))
					}
					for j, c := range p {
						if masked {
							c ^= key[j%4]
						}
						got = append(got, c)
					}
				}
				if !bytes.Equal(got, msg) {
					t.Fatalf("seed %d: frames carry %q", seed, got)
				}
			}
		})
	}
}

func TestWebSocketAcceptMatchesRFC6455(t *testing.T) {
	b := &builder{net: rand.New(rand.NewPCG(1, 2))}
	req, resp := b.wsHandshake(netip.MustParseAddrPort("10.2.0.10:8080"))
	key := headerValue(t, req, "Sec-WebSocket-Key")
	accept := headerValue(t, resp, "Sec-WebSocket-Accept")
	if len(key) != 24 || len(accept) != 28 {
		t.Fatalf("key %q accept %q", key, accept)
	}
	for _, h := range []string{"Upgrade: websocket", "Connection: Upgrade", "Sec-WebSocket-Protocol: sip", "Sec-WebSocket-Version: 13"} {
		if !bytes.Contains(req, []byte(h+"\r\n")) {
			t.Errorf("request lacks %q", h)
		}
	}
	if !bytes.HasPrefix(resp, []byte("HTTP/1.1 101 Switching Protocols\r\n")) || !bytes.Contains(resp, []byte("Sec-WebSocket-Protocol: sip\r\n")) {
		t.Errorf("response %q", resp)
	}
	// RFC 6455 §1.3 works this key through to this accept value.
	if got := wsAccept("dGhlIHNhbXBsZSBub25jZQ=="); got != "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=" {
		t.Errorf("accept of the RFC 6455 example key = %q", got)
	}
	if got := wsAccept(key); got != accept {
		t.Errorf("response accepts %q, the key's accept is %q", accept, got)
	}
}

func headerValue(t *testing.T, msg []byte, name string) string {
	t.Helper()
	for _, l := range bytes.Split(msg, []byte("\r\n")) {
		if v, ok := bytes.CutPrefix(l, []byte(name+": ")); ok {
			return string(v)
		}
	}
	t.Fatalf("no %s in %q", name, msg)
	return ""
}

func TestSCTPChecksumIsCRC32c(t *testing.T) {
	// The standard check value of CRC-32C over "123456789" pins the
	// polynomial; the packet's checksum is then recomputed as a receiver
	// does, over the packet with the field zeroed.
	if got := crc32c([]byte("123456789")); got != 0xE3069283 {
		t.Fatalf("crc32c check value %#08x", got)
	}
	p := sctpPacket(40000, 5060, &sctpData{vtag: 0x01020304, tsn: 7, ssn: 1}, []byte("OPTIONS sip:x SIP/2.0\r\n\r\n"))
	if len(p)%4 != 0 {
		t.Errorf("packet of %d bytes is not padded to 4", len(p))
	}
	stored := binary.LittleEndian.Uint32(p[8:])
	zeroed := bytes.Clone(p)
	binary.LittleEndian.PutUint32(zeroed[8:], 0)
	if want := crc32c(zeroed); stored != want {
		t.Errorf("stored checksum %#08x, want %#08x", stored, want)
	}
	if binary.BigEndian.Uint32(p[4:]) != 0x01020304 || p[12] != 0 || p[13] != 0x03 {
		t.Errorf("header % x", p[:16])
	}
}
