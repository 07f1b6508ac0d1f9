package decode

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"
	"github.com/sipscope/sipscope/frame"
)

// sctpPacket is an SCTP common header (ports, verification tag, a zero
// checksum) followed by chunks.
func sctpPacket(sport, dport uint16, chunks ...[]byte) []byte {
	h := make([]byte, 12)
	be.PutUint16(h, sport)
	be.PutUint16(h[2:], dport)
	be.PutUint32(h[4:], 0xdeadbeef)
	return cat(h, cat(chunks...))
}

// sctpChunk is a chunk of any type, padded to 4 bytes.
func sctpChunk(typ, flags byte, value []byte) []byte {
	c := []byte{typ, flags, 0, 0}
	be.PutUint16(c[2:], uint16(4+len(value)))
	c = append(c, value...)
	for len(c)%4 != 0 {
		c = append(c, 0)
	}
	return c
}

// dataChunk is a DATA chunk: flags (U B E bits), TSN, stream, PPID, data.
func dataChunk(flags byte, tsn uint32, sid uint16, ppid uint32, data []byte) []byte {
	v := be.AppendUint32(nil, tsn)
	v = be.AppendUint16(v, sid)
	v = be.AppendUint16(v, uint16(tsn)) // stream sequence number
	v = be.AppendUint32(v, ppid)
	return sctpChunk(sctpChunkData, flags, append(v, data...))
}

const whole = sctpFlagBegin | sctpFlagEnd

var (
	sipInvite = []byte("INVITE sip:bob@b SIP/2.0\r\nCall-ID: 1\r\nContent-Length: 0\r\n\r\n")
	sipOK     = []byte("SIP/2.0 200 OK\r\nCall-ID: 1\r\nContent-Length: 0\r\n\r\n")
	sipBye    = []byte("BYE sip:bob@b SIP/2.0\r\nCall-ID: 1\r\nContent-Length: 0\r\n\r\n")
	sack      = sctpChunk(3, 0, make([]byte, 12))
	heartbeat = sctpChunk(4, 0, []byte{0, 1, 0, 8, 1, 2, 3, 4})
)

type sctpCase struct {
	name    string
	frame   []byte // Ethernet
	wantErr error
	want    [][]byte // user data Decode then NextSCTPData give
	frags   int      // fragmented DATA chunks SCTPDataChunks skips
	// tsharkLenient: tshark shows the chunk without calling the packet
	// malformed; RFC 9260 §3.2 rules it out, and neither finds a DATA
	// chunk in it.
	tsharkLenient bool
}

func sctpCases() []sctpCase {
	eth4 := func(chunks ...[]byte) []byte {
		return eth(etherTypeIPv4, ip4(protoSCTP, hostA, hostB, sctpPacket(5060, 5070, chunks...)))
	}
	odd := []byte("OPTIONS sip:x SIP/2.0\r\nContent-Length: 0\r\n\r\nX") // not a multiple of 4
	unpadded := eth4(dataChunk(whole, 9, 0, 0, odd))
	unpadded = unpadded[:len(unpadded)-(4-len(odd)%4)]
	be.PutUint16(unpadded[14+2:], uint16(len(unpadded)-14)) // IPv4 total length
	return []sctpCase{
		{name: "one DATA chunk is the payload", frame: eth4(dataChunk(whole, 1, 0, 0, sipInvite)), want: [][]byte{sipInvite}},
		{name: "any PPID is accepted", frame: eth4(dataChunk(whole, 1, 3, 0xffffffff, sipOK)), want: [][]byte{sipOK}},
		{name: "unordered DATA is delivered", frame: eth4(dataChunk(whole|sctpFlagUnordered, 1, 0, 0, sipOK)), want: [][]byte{sipOK}},
		{name: "bundled DATA chunks behind a SACK are walked in order", frame: eth4(sack, dataChunk(whole, 1, 0, 0, sipInvite), heartbeat, dataChunk(whole, 2, 1, 0, sipOK), dataChunk(whole, 3, 0, 0, sipBye)), want: [][]byte{sipInvite, sipOK, sipBye}},
		{name: "over IPv6", frame: eth(etherTypeIPv6, ip6(protoSCTP, hostA6, hostB6, sctpPacket(5060, 5060, dataChunk(whole, 1, 0, 0, sipOK)))), want: [][]byte{sipOK}},
		{name: "inside an IP-in-IP tunnel", frame: eth(etherTypeIPv4, ip4(protoIPIP, outerA, hostB, ip4(protoSCTP, hostA, hostB, sctpPacket(5060, 5070, dataChunk(whole, 1, 0, 0, sipOK))))), want: [][]byte{sipOK}},
		{name: "a last chunk without its padding is read", frame: unpadded, want: [][]byte{odd}},
		{name: "a fragment bundled with a whole message is skipped", frame: eth4(dataChunk(sctpFlagBegin, 1, 0, 0, sipInvite[:20]), dataChunk(whole, 2, 1, 0, sipOK)), want: [][]byte{sipOK}, frags: 1},
		{name: "a DATA chunk without user data is skipped", frame: eth4(dataChunk(whole, 1, 0, 0, nil), dataChunk(whole, 2, 0, 0, sipOK)), want: [][]byte{sipOK}},
		{name: "only fragments is an unsupported fragment", frame: eth4(dataChunk(sctpFlagBegin, 1, 0, 0, sipInvite[:20]), dataChunk(0, 2, 0, 0, sipInvite[20:40])), wantErr: ErrSCTPFragment, frags: 2},
		{name: "a last fragment alone is an unsupported fragment", frame: eth4(dataChunk(sctpFlagEnd, 1, 0, 0, sipInvite[20:])), wantErr: ErrSCTPFragment, frags: 1},
		{name: "control chunks only carry nothing", frame: eth4(sack, heartbeat), wantErr: ErrUnsupportedTransport},
		{name: "no chunks at all carry nothing", frame: eth4(), wantErr: ErrUnsupportedTransport},
		{name: "a chunk shorter than its header is malformed", frame: eth4([]byte{0, 3, 0, 2}), wantErr: ErrMalformedTransport, tsharkLenient: true},
		{name: "a chunk running past the packet is malformed", frame: eth4([]byte{0, 3, 0, 200, 1, 2, 3, 4}), wantErr: ErrMalformedTransport},
		{name: "a DATA chunk shorter than its fixed fields is malformed", frame: eth4(sctpChunk(sctpChunkData, whole, make([]byte, 8))), wantErr: ErrMalformedTransport, tsharkLenient: true},
		{name: "a stray byte after the chunks is malformed", frame: eth4(dataChunk(whole, 1, 0, 0, sipOK), []byte{9}), wantErr: ErrMalformedTransport, want: [][]byte{sipOK}},
		{name: "a common header cut short is truncated", frame: eth(etherTypeIPv4, ip4(protoSCTP, hostA, hostB, make([]byte, 8))), wantErr: ErrTruncated},
	}
}

func TestSCTP(t *testing.T) {
	d := NewDecoder()
	for _, c := range sctpCases() {
		t.Run(c.name, func(t *testing.T) {
			var p Packet
			err := d.Decode(frame.LinkEthernet, c.frame, 7, &p)
			// A stray byte after a good chunk: Decode already has its
			// first chunk and succeeds; the walk reports the damage.
			decodeErr := c.wantErr
			if len(c.want) > 0 {
				decodeErr = nil
			}
			if err != decodeErr {
				t.Fatalf("Decode: %v, want %v", err, decodeErr)
			}
			if err != nil {
				if Reason(err) == "other" {
					t.Errorf("Reason(%v) is other", err)
				}
				if d.NextSCTPData(&p) {
					t.Error("NextSCTPData after a failed Decode")
				}
			} else {
				if p.Transport != TransportSCTP || p.Src.Port() != 5060 || !p.Src.Addr().IsValid() {
					t.Errorf("%s", describe(p))
				}
				var got [][]byte
				for ok := true; ok; ok = d.NextSCTPData(&p) {
					if !within(c.frame, p.Payload) {
						t.Fatal("payload outside the frame")
					}
					got = append(got, p.Payload)
				}
				if !equalAll(got, c.want) {
					t.Errorf("chunks %q, want %q", got, c.want)
				}
			}
			// The standalone walk agrees, from the SCTP header on.
			var walked [][]byte
			frags, werr := SCTPDataChunks(sctpOf(t, c.frame), func(s SCTPData) { walked = append(walked, s.Data) })
			if werr != c.wantErr && !(errors.Is(c.wantErr, ErrUnsupportedTransport) && werr == nil) {
				t.Errorf("SCTPDataChunks: %v, want %v", werr, c.wantErr)
			}
			if frags != c.frags || !equalAll(walked, c.want) {
				t.Errorf("SCTPDataChunks: %q and %d fragments, want %q and %d", walked, frags, c.want, c.frags)
			}
		})
	}
}

// sctpOf returns the SCTP packet inside an Ethernet frame built by the
// cases (IPv4 or IPv6, possibly in IP-in-IP).
func sctpOf(t *testing.T, frame []byte) []byte {
	t.Helper()
	b := frame[14:]
	for {
		switch b[0] >> 4 {
		case 4:
			proto, hl := b[9], int(b[0]&0xf)*4
			b = b[hl:be.Uint16(b[2:])]
			if proto == protoSCTP {
				return b
			}
		case 6:
			return b[40:]
		default:
			t.Fatal("not IP")
		}
	}
}

func equalAll(a, b [][]byte) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if !bytes.Equal(a[i], b[i]) {
			return false
		}
	}
	return true
}

// NextSCTPData belongs to the Packet Decode filled: another packet, even
// an SCTP one from elsewhere (HEP), gets nothing from it.
func TestNextSCTPDataOnlyContinuesItsOwnPacket(t *testing.T) {
	d := NewDecoder()
	fr := eth(etherTypeIPv4, ip4(protoSCTP, hostA, hostB, sctpPacket(5060, 5070, dataChunk(whole, 1, 0, 0, sipInvite), dataChunk(whole, 2, 0, 0, sipOK))))
	var p Packet
	if err := d.Decode(frame.LinkEthernet, fr, 1, &p); err != nil {
		t.Fatal(err)
	}
	other := Packet{Transport: TransportSCTP, Payload: append([]byte(nil), sipInvite...)}
	if d.NextSCTPData(&other) {
		t.Error("continued a packet Decode did not fill")
	}
	if d.NextSCTPData(&p) {
		t.Error("the walk survived a call for another packet")
	}
	if err := d.Decode(frame.LinkEthernet, fr, 1, &p); err != nil {
		t.Fatal(err)
	}
	if err := d.Decode(frame.LinkEthernet, udp4Frame(), 1, &p); err != nil {
		t.Fatal(err)
	}
	if d.NextSCTPData(&p) {
		t.Error("continued into a UDP packet")
	}
}

func udp4Frame() []byte { return eth(etherTypeIPv4, udp4) }

func TestSCTPDoesNotAllocate(t *testing.T) {
	d := NewDecoder()
	fr := eth(etherTypeIPv4, ip4(protoSCTP, hostA, hostB, sctpPacket(5060, 5070, sack, dataChunk(whole, 1, 0, 0, sipInvite), dataChunk(whole, 2, 0, 0, sipOK))))
	var p Packet
	n := 0
	allocs := testing.AllocsPerRun(1000, func() {
		for ok := d.Decode(frame.LinkEthernet, fr, 1, &p) == nil; ok; ok = d.NextSCTPData(&p) {
			n++
		}
		_, _ = SCTPDataChunks(fr[34:], func(SCTPData) { n++ })
	})
	if allocs != 0 {
		t.Errorf("%.1f allocations per fr", allocs)
	}
	if n != 4*1001 {
		t.Errorf("%d chunks, want %d", n, 4*1001)
	}
}

// tshark reads the same frames: its DATA chunks (TSN, B and E bits, chunk
// length) must be ours, and the frames it finds malformed must fail here.
func TestSCTPFramesReadAsTsharkReadsThem(t *testing.T) {
	if _, err := exec.LookPath("tshark"); err != nil {
		t.Fatalf("tshark is needed as the oracle: %v", err)
	}
	cases := sctpCases()
	path := filepath.Join(t.TempDir(), "sctp.pcap")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	w := pcapgo.NewWriter(f)
	if err := w.WriteFileHeader(65535, layers.LinkTypeEthernet); err != nil {
		t.Fatal(err)
	}
	for i, c := range cases {
		ci := gopacket.CaptureInfo{Timestamp: time.Unix(1700000000+int64(i), 0), CaptureLength: len(c.frame), Length: len(c.frame)}
		if err := w.WritePacket(ci, c.frame); err != nil {
			t.Fatal(err)
		}
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("tshark", "-n", "-r", path, "-T", "fields", "-E", "separator=|", "-E", "occurrence=a", "-E", "aggregator=,",
		"-e", "frame.number", "-e", "sctp.data_tsn_raw", "-e", "sctp.data_b_bit", "-e", "sctp.data_e_bit", "-e", "sctp.chunk_type", "-e", "_ws.malformed", "-e", "_ws.expert").Output()
	if err != nil {
		t.Fatalf("tshark: %v\n%s", err, out)
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	if len(lines) != len(cases) {
		t.Fatalf("tshark printed %d lines for %d frames:\n%s", len(lines), len(cases), out)
	}
	for i, c := range cases {
		cols := strings.Split(lines[i], "|")
		tsns, bbits, ebits := split(cols[1]), split(cols[2]), split(cols[3])
		// Ours: the TSNs of whole chunks, in order, and the fragment count.
		var want []string
		frags := 0
		for j := range tsns {
			if bbits[j] == "1" && ebits[j] == "1" || bbits[j] == "True" && ebits[j] == "True" {
				want = append(want, tsns[j])
			} else {
				frags++
			}
		}
		var got []string
		gotFrags, err := SCTPDataChunks(sctpOf(t, c.frame), func(s SCTPData) {
			if len(s.Data) > 0 {
				got = append(got, strconv.FormatUint(uint64(s.TSN), 10))
			}
		})
		malformed := cols[5] != "" || strings.Contains(cols[6], "alformed")
		// tshark lists an empty DATA chunk that we skip: drop it from its list.
		if c.name == "a DATA chunk without user data is skipped" && len(want) > 0 {
			want = want[1:]
		}
		t.Run(c.name, func(t *testing.T) {
			if c.tsharkLenient {
				if malformed || len(tsns) != 0 || err == nil {
					t.Errorf("tshark malformed=%v TSNs %v, we %v", malformed, tsns, err)
				}
				return
			}
			if malformed != (err != nil && !errors.Is(err, ErrUnsupportedTransport)) {
				t.Errorf("tshark malformed=%v (%q), we %v", malformed, cols[5:], err)
			}
			if err == nil && (strings.Join(got, ",") != strings.Join(want, ",") || gotFrags != frags) {
				t.Errorf("whole TSNs %v and %d fragments, tshark %v and %d (%q)", got, gotFrags, want, frags, lines[i])
			}
		})
	}
}

func split(s string) []string {
	if s == "" {
		return nil
	}
	return strings.Split(s, ",")
}

// FuzzSCTP compares the two ways to walk DATA chunks on arbitrary SCTP
// packets: Decode with NextSCTPData must give exactly the chunks
// SCTPDataChunks gives, inside the packet, without panicking.
func FuzzSCTP(f *testing.F) {
	for _, c := range sctpCases() {
		f.Add(c.frame[34:])
	}
	f.Add(sctpPacket(1, 2, sctpChunk(sctpChunkData, whole, make([]byte, 12))))
	d := NewDecoder()
	f.Fuzz(func(t *testing.T, sctp []byte) {
		fr := ip4(protoSCTP, hostA, hostB, sctp)
		var walked [][]byte
		frags, werr := SCTPDataChunks(sctp, func(s SCTPData) {
			if !within(sctp, s.Data) || len(s.Data) == 0 {
				t.Fatal("chunk data outside the packet or empty")
			}
			walked = append(walked, s.Data)
		})
		var p Packet
		err := d.Decode(frame.LinkIPv4, fr, 1, &p)
		var got [][]byte
		for ok := err == nil; ok; ok = d.NextSCTPData(&p) {
			got = append(got, p.Payload)
		}
		switch {
		case err == nil:
			if p.Transport != TransportSCTP {
				t.Fatalf("%s", describe(p))
			}
		case errors.Is(err, ErrSCTPFragment):
			if frags == 0 || len(walked) != 0 {
				t.Fatalf("ErrSCTPFragment, but the walk found %d fragments and %d chunks", frags, len(walked))
			}
		case errors.Is(err, ErrUnsupportedTransport), errors.Is(err, ErrTruncated), errors.Is(err, ErrMalformedTransport):
			if len(walked) != 0 {
				t.Fatalf("Decode: %v, but the walk found %d chunks", err, len(walked))
			}
		default:
			t.Fatalf("unexpected error %v", err)
		}
		// The walk stops at damage after good chunks; Decode's iteration
		// stops there too.
		if !equalAll(got, walked) {
			t.Fatalf("Decode+NextSCTPData gave %d chunks, SCTPDataChunks %d (err %v)", len(got), len(walked), werr)
		}
		if werr != nil && werr != ErrMalformedTransport && werr != ErrTruncated {
			t.Fatalf("SCTPDataChunks: %v", werr)
		}
	})
}

func BenchmarkDecodeSCTPBundle(b *testing.B) {
	fr := eth(etherTypeIPv4, ip4(protoSCTP, hostA, hostB, sctpPacket(5060, 5070, sack, dataChunk(whole, 1, 0, 0, sipInvite), dataChunk(whole, 2, 0, 0, sipOK))))
	d := NewDecoder()
	var p Packet
	b.ReportAllocs()
	b.SetBytes(int64(len(fr)))
	for b.Loop() {
		for ok := d.Decode(frame.LinkEthernet, fr, 1, &p) == nil; ok; ok = d.NextSCTPData(&p) {
		}
	}
}
