package quality

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"flag"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"
)

// The real captures exercise only well-behaved streams. The synthetic
// capture built below adds the edge cases of tshark's algorithm (sequence
// and timestamp wraps, reordering, duplicates, comfort noise, telephone
// events, clock changes, timestamps that jump or run backwards...) plus
// seeded random streams. The capture is generated in memory; tshark
// 4.0.17's output for it is the golden file, which records the capture's
// hash. `go test ./quality -run Synthetic -update` reruns tshark.

var update = flag.Bool("update", false, "rerun tshark on the synthetic capture and rewrite its golden output")

const (
	syntheticGolden = "testdata/synthetic.rtp-streams.txt"
	// Every scenario's destination port lies in this range, which the
	// golden run decodes as RTP (no SDP, no heuristics).
	synthPortLo, synthPortHi = 30000, 30999
)

// synthBase is the capture's first frame: 2023-11-14T22:13:20.123456789Z.
// The odd nanoseconds make RelMs's second/nanosecond split matter.
const synthBase = int64(1_700_000_000_123_456_789)

type synthPacket struct {
	at     int64 // ns after synthBase (may be negative)
	seq    uint16
	ts     uint32
	pt     uint8
	marker bool
	plen   int
}

type synthStream struct {
	name string
	v6   bool
	ssrc uint32
	// fileDelay places the stream's frames later in the file than their
	// timestamps say, so that they can precede the capture's first frame.
	fileDelay int64
	packets   []synthPacket
}

// voice returns n packets of a constant-rate stream starting at seq/ts,
// spaced ptime apart in wall-clock and timestamp units, with arrival jitter
// drawn from r (uniform in ±jitterNs).
func voice(r *splitmix, n int, seq uint16, ts uint32, pt uint8, ptimeNs int64, tsStep uint32, jitterNs int64) []synthPacket {
	out := make([]synthPacket, 0, n)
	for i := range n {
		at := int64(i) * ptimeNs
		if jitterNs > 0 {
			at += r.Int64N(2*jitterNs+1) - jitterNs
		}
		out = append(out, synthPacket{at: at, seq: seq + uint16(i), ts: ts + uint32(i)*tsStep, pt: pt, plen: 20})
	}
	return out
}

// splitmix is SplitMix64: a fixed, tiny generator, so that the scenarios
// (and the hash of the capture they make) cannot change with the Go version.
type splitmix struct{ state uint64 }

func (r *splitmix) Uint64() uint64 {
	r.state += 0x9E3779B97F4A7C15
	z := r.state
	z = (z ^ z>>30) * 0xBF58476D1CE4E5B9
	z = (z ^ z>>27) * 0x94D049BB133111EB
	return z ^ z>>31
}

func (r *splitmix) Uint32() uint32       { return uint32(r.Uint64() >> 32) }
func (r *splitmix) UintN(n uint) uint    { return uint(r.Uint64() % uint64(n)) }
func (r *splitmix) IntN(n int) int       { return int(r.Uint64() % uint64(n)) }
func (r *splitmix) Int64N(n int64) int64 { return int64(r.Uint64() % uint64(n)) }

func swapAt(p []synthPacket, i int) {
	p[i].at, p[i+1].at = p[i+1].at, p[i].at
	p[i], p[i+1] = p[i+1], p[i]
}

// syntheticStreams builds every scenario; it is deterministic.
func syntheticStreams() []synthStream {
	r := &splitmix{state: 2024_11}
	const ms = int64(time.Millisecond)
	var out []synthStream
	add := func(name string, pk []synthPacket) {
		out = append(out, synthStream{name: name, ssrc: 0x5000 + uint32(len(out)), packets: pk})
	}

	add("clean g711A with arrival jitter", voice(r, 200, 1000, 5000, 8, 20*ms, 160, 3*ms))
	add("sequence numbers wrap past 65535", voice(r, 120, 65480, 1, 0, 20*ms, 160, ms))
	{
		// Start at 0, jump to the top of the range and wrap: tshark counts
		// the cycle through its "seq 0 after 65535" branch.
		p := voice(r, 3, 0, 100, 0, 20*ms, 160, 0)
		tail := voice(r, 12, 65530, 100+3*160, 0, 20*ms, 160, ms)
		for i := range tail {
			tail[i].at += 3 * 20 * ms
		}
		add("sequence starting at zero wraps after a gap", append(p, tail...))
	}
	add("rtp timestamps wrap past 2^32", voice(r, 100, 7, 0xFFFFF000, 8, 20*ms, 160, 2*ms))
	{
		p := voice(r, 300, 2000, 0, 8, 20*ms, 160, 2*ms)
		kept := p[:0]
		for i, x := range p {
			if i > 0 && r.IntN(100) < 6 {
				continue
			}
			kept = append(kept, x)
		}
		add("random loss of about 6 percent", kept)
	}
	{
		p := voice(r, 200, 3000, 10000, 0, 20*ms, 160, ms)
		for i := 5; i+1 < len(p); i += 17 {
			swapAt(p, i)
		}
		add("adjacent packets reordered", p)
	}
	{
		p := voice(r, 150, 4000, 20000, 0, 20*ms, 160, ms)
		var q []synthPacket
		for i, x := range p {
			q = append(q, x)
			if i%23 == 7 {
				d := x
				d.at += 137_000 // 0.137 ms later
				q = append(q, d)
			}
		}
		add("duplicated packets", q)
	}
	{
		// Talkspurts: silence gaps of 400 ms with the timestamp advancing
		// accordingly and the marker bit on the first packet of each spurt.
		var p []synthPacket
		seq, ts, at := uint16(5000), uint32(777), int64(0)
		for spurt := range 6 {
			for i := range 25 {
				p = append(p, synthPacket{at: at + r.Int64N(2*ms), seq: seq, ts: ts, pt: 8, marker: i == 0 && spurt > 0, plen: 20})
				seq++
				ts += 160
				at += 20 * ms
			}
			at += 400 * ms
			ts += 3200
		}
		add("talkspurts with marker bits", p)
	}
	{
		// Comfort noise during silences: CN packets every 100 ms.
		var p []synthPacket
		seq, ts, at := uint16(6000), uint32(0), int64(0)
		for round := range 5 {
			for range 30 {
				p = append(p, synthPacket{at: at + r.Int64N(ms), seq: seq, ts: ts, pt: 0, plen: 20})
				seq, ts, at = seq+1, ts+160, at+20*ms
			}
			for range 4 {
				p = append(p, synthPacket{at: at + r.Int64N(ms), seq: seq, ts: ts, pt: 13, plen: 1})
				seq, ts, at = seq+1, ts+800, at+100*ms
			}
			_ = round
		}
		add("g711U with comfort noise", p)
	}
	{
		p := voice(r, 60, 7000, 0, 0, 20*ms, 160, ms)
		for i := 30; i < 60; i++ {
			p[i].pt = 18
			p[i].plen = 10
		}
		add("payload changes from g711U to g729", p)
	}
	{
		// RFC 4733 events inside a voice stream: without SDP tshark has no
		// clock for PT 101, so those packets give delta but no jitter.
		p := voice(r, 80, 8000, 16000, 0, 20*ms, 160, ms)
		evTS := p[40].ts
		for i := 40; i < 50; i++ {
			p[i].pt, p[i].ts, p[i].plen = 101, evTS, 4
			p[i].marker = i == 40
		}
		add("telephone events inside g711U", p)
	}
	{
		p := voice(r, 40, 1000, 100000, 8, 20*ms, 160, ms)
		// A packet from before the first one, arriving late.
		late := synthPacket{at: p[20].at + 5*ms, seq: 999, ts: 100000 - 160, pt: 8, plen: 20}
		p = append(p[:21], append([]synthPacket{late}, p[21:]...)...)
		add("late packet older than the first", p)
	}
	{
		p := voice(r, 30, 100, 50000, 8, 20*ms, 160, ms)
		p = append(p, synthPacket{at: p[29].at + 20*ms, seq: 98, ts: 50000 - 320, pt: 8, plen: 20})
		add("last packet older than the first makes expected wrap", p)
	}
	{
		p := voice(r, 40, 300, 1000, 0, 20*ms, 160, ms)
		for i := 20; i < 40; i++ {
			p[i].ts += 0x90000000
		}
		add("timestamp jumps beyond half the range", p)
	}
	{
		// Video at 90 kHz: several packets per frame share a timestamp and
		// the last packet of a frame carries the marker.
		var p []synthPacket
		seq, ts, at := uint16(9000), uint32(12345), int64(0)
		for range 40 {
			for k := range 3 {
				p = append(p, synthPacket{at: at + int64(k)*ms + r.Int64N(ms), seq: seq, ts: ts, pt: 34, marker: k == 2, plen: 100})
				seq++
			}
			ts += 3000
			at += 33 * ms
		}
		add("h263 video on a 90 kHz clock", p)
	}
	add("L16 stereo on a 44.1 kHz clock", voice(r, 80, 10, 0, 10, 20*ms, 882, 2*ms))
	add("DVI4 on an 11.025 kHz clock", voice(r, 80, 10, 0, 16, 20*ms, 220, 2*ms))
	{
		p := voice(r, 60, 65000, 500, 8, 20*ms, 160, ms)
		// A far backward jump: tshark takes it for a wrap with loss.
		for i := 30; i < 60; i++ {
			p[i].seq = uint16(10 + i - 30)
		}
		add("sequence jumps back by more than 0xFF00", p)
	}
	{
		p := voice(r, 50, 400, 0, 8, 20*ms, 160, ms)
		p[25].at = p[23].at - 3*ms // capture clock steps back
		add("arrival time runs backwards", p)
	}
	add("timestamp never advances", voice(r, 40, 50, 9999, 0, 20*ms, 0, ms))
	{
		p := voice(r, 60, 20000, 0, 0, 20*ms, 160, ms)
		for i := 30; i < 60; i++ {
			p[i].pt = 31
			p[i].ts = 160*30 + uint32(i-30)*1800
		}
		add("clock changes from 8 kHz to 90 kHz", p)
	}
	{
		p := voice(r, 30, 700, 0, 8, 20*ms, 160, ms)
		for i := range p {
			p[i].marker = true
		}
		add("every packet has the marker", p)
	}
	{
		p := voice(r, 20, 800, 0, 13, 200*ms, 1600, ms)
		add("comfort noise only", p)
	}
	{
		// The first frame of the file is a later packet of this stream's
		// neighbour, so this stream starts before the capture's first frame
		// and its relative times are negative.
		p := voice(r, 30, 900, 0, 8, 20*ms, 160, ms)
		for i := range p {
			p[i].at -= 250*ms + 321
		}
		add("stream that starts before the first frame", p)
		out[len(out)-1].fileDelay = 300 * ms
	}
	{
		p := voice(r, 100, 1200, 0, 8, 20*ms, 160, 2*ms)
		s := synthStream{name: "IPv6 g711A", v6: true, ssrc: 0x5000 + uint32(len(out)), packets: p}
		out = append(out, s)
	}
	// Every payload type, so that names and clock rates are checked against
	// tshark's: jitter stays at -1 exactly when tshark knows no clock.
	for pt := range 128 {
		add(fmt.Sprintf("payload type %d", pt), voice(r, 4, uint16(pt)*100, uint32(pt)*1000, uint8(pt), 20*ms, 160, 2*ms))
	}
	for k := range 6 {
		out = append(out, chaosStream(r, fmt.Sprintf("seeded random stream %d", k), 0x7000+uint32(k)))
	}
	return out
}

// chaosStream mixes everything at random: loss, duplicates, reordering,
// marker bits, CN, events, jitter and occasional timestamp glitches.
func chaosStream(r *splitmix, name string, ssrc uint32) synthStream {
	const ms = int64(time.Millisecond)
	n := 150 + r.IntN(250)
	seq := uint16(r.UintN(65536))
	ts := r.Uint32()
	var p []synthPacket
	at := int64(r.IntN(50)) * ms
	for range n {
		x := synthPacket{at: at + r.Int64N(8*ms) - 4*ms, seq: seq, ts: ts, pt: 8, plen: 20}
		switch v := r.IntN(100); {
		case v < 4:
			x.marker = true
		case v < 7:
			x.pt = 13
		case v < 9:
			x.pt = 101
		case v < 10:
			x.ts += r.Uint32() // wild timestamp
		}
		switch v := r.IntN(100); {
		case v < 5: // lost
		case v < 8: // duplicated
			p = append(p, x)
			x.at += r.Int64N(3 * ms)
			p = append(p, x)
		default:
			p = append(p, x)
		}
		seq++
		ts += 160
		at += 20 * ms
	}
	for i := 0; i+1 < len(p); i++ {
		if r.IntN(100) < 4 {
			swapAt(p, i)
		}
	}
	return synthStream{name: name, ssrc: ssrc, packets: p}
}

func (s synthStream) endpoints(i int) (src, dst net.IP, sport, dport uint16) {
	sport, dport = uint16(40000+2*i), uint16(synthPortLo+2*i)
	if s.v6 {
		return net.ParseIP("2001:db8::1"), net.ParseIP("2001:db8::2"), sport, dport
	}
	return net.IPv4(10, 20, byte(i>>8), byte(i)).To4(), net.IPv4(10, 30, 0, 1).To4(), sport, dport
}

// writeSyntheticPcap serialises all streams, interleaved by arrival time, as
// a nanosecond-resolution pcap.
func writeSyntheticPcap(streams []synthStream) ([]byte, error) {
	type frame struct {
		at   int64
		data []byte
	}
	perStream := make([][]frame, len(streams))
	for i, s := range streams {
		src, dst, sport, dport := s.endpoints(i)
		for _, p := range s.packets {
			rtp := make([]byte, 12+p.plen)
			rtp[0] = 0x80
			rtp[1] = p.pt
			if p.marker {
				rtp[1] |= 0x80
			}
			rtp[2], rtp[3] = byte(p.seq>>8), byte(p.seq)
			rtp[4], rtp[5], rtp[6], rtp[7] = byte(p.ts>>24), byte(p.ts>>16), byte(p.ts>>8), byte(p.ts)
			rtp[8], rtp[9], rtp[10], rtp[11] = byte(s.ssrc>>24), byte(s.ssrc>>16), byte(s.ssrc>>8), byte(s.ssrc)
			for k := 12; k < len(rtp); k++ {
				rtp[k] = 0xd5
			}
			eth := &layers.Ethernet{SrcMAC: net.HardwareAddr{2, 0, 0, 0, 0, 1}, DstMAC: net.HardwareAddr{2, 0, 0, 0, 0, 2}}
			udp := &layers.UDP{SrcPort: layers.UDPPort(sport), DstPort: layers.UDPPort(dport)}
			var ip gopacket.SerializableLayer
			if s.v6 {
				eth.EthernetType = layers.EthernetTypeIPv6
				ip6 := &layers.IPv6{Version: 6, HopLimit: 64, NextHeader: layers.IPProtocolUDP, SrcIP: src, DstIP: dst}
				if err := udp.SetNetworkLayerForChecksum(ip6); err != nil {
					return nil, err
				}
				ip = ip6
			} else {
				eth.EthernetType = layers.EthernetTypeIPv4
				ip4 := &layers.IPv4{Version: 4, IHL: 5, TTL: 64, Protocol: layers.IPProtocolUDP, SrcIP: src, DstIP: dst}
				if err := udp.SetNetworkLayerForChecksum(ip4); err != nil {
					return nil, err
				}
				ip = ip4
			}
			buf := gopacket.NewSerializeBuffer()
			opts := gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true}
			if err := gopacket.SerializeLayers(buf, opts, eth, ip, udp, gopacket.Payload(rtp)); err != nil {
				return nil, err
			}
			perStream[i] = append(perStream[i], frame{p.at, append([]byte(nil), buf.Bytes()...)})
		}
	}
	// Merge the streams by arrival time while keeping each stream's own
	// order, so that a stream whose capture clock steps back keeps doing so
	// in the file.
	var frames []frame
	next := make([]int, len(streams))
	for {
		best := -1
		for i := range streams {
			if next[i] == len(perStream[i]) {
				continue
			}
			if best < 0 || perStream[i][next[i]].at+streams[i].fileDelay < perStream[best][next[best]].at+streams[best].fileDelay {
				best = i
			}
		}
		if best < 0 {
			break
		}
		frames = append(frames, perStream[best][next[best]])
		next[best]++
	}
	var out bytes.Buffer
	w := pcapgo.NewWriterNanos(&out)
	if err := w.WriteFileHeader(65535, layers.LinkTypeEthernet); err != nil {
		return nil, err
	}
	// The first frame fixes the base of relative times.
	for _, f := range frames {
		t := time.Unix(0, synthBase+f.at)
		ci := gopacket.CaptureInfo{Timestamp: t, CaptureLength: len(f.data), Length: len(f.data)}
		if err := w.WritePacket(ci, f.data); err != nil {
			return nil, err
		}
	}
	return out.Bytes(), nil
}

// regenerateSynthetic runs tshark on the generated capture and writes its
// output, headed by the tshark version and the capture's SHA-256, as the
// golden file.
func regenerateSynthetic(t *testing.T, pcap []byte) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "synthetic.pcap")
	if err := os.WriteFile(path, pcap, 0o644); err != nil {
		t.Fatal(err)
	}
	portRange := fmt.Sprintf("udp.port==%d-%d,rtp", synthPortLo, synthPortHi)
	cmd := exec.Command("tshark", "-r", path, "-d", portRange, "-q", "-z", "rtp,streams")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	table, err := cmd.Output()
	if err != nil {
		t.Fatalf("tshark: %v\n%s", err, stderr.String())
	}
	version, err := exec.Command("tshark", "--version").Output()
	if err != nil {
		t.Fatalf("tshark --version: %v", err)
	}
	header := fmt.Sprintf("## %s## pcap sha256 %s (generated by syntheticStreams in synthetic_test.go)\n## tshark -r synthetic.pcap -d %s -q -z rtp,streams\n",
		firstLine(version), pcapDigest(pcap), portRange)
	if err := os.MkdirAll(filepath.Dir(syntheticGolden), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(syntheticGolden, append([]byte(header), table...), 0o644); err != nil {
		t.Fatal(err)
	}
}

func pcapDigest(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

func firstLine(b []byte) string {
	if i := bytes.IndexByte(b, '\n'); i >= 0 {
		return string(b[:i+1])
	}
	return string(b) + "\n"
}

func TestRTPStatsMatchTsharkOnSyntheticStreams(t *testing.T) {
	streams := syntheticStreams()
	pcap, err := writeSyntheticPcap(streams)
	if err != nil {
		t.Fatal(err)
	}
	if *update {
		regenerateSynthetic(t, pcap)
	}
	golden, err := os.ReadFile(syntheticGolden)
	if err != nil {
		t.Fatalf("%v (regenerate with: go test ./quality -run Synthetic -update, tshark 4.0.17 installed)", err)
	}
	if !bytes.Contains(golden, []byte("TShark (Wireshark) 4.0.17 ")) {
		t.Fatalf("%s was not produced by tshark 4.0.17", syntheticGolden)
	}
	if !bytes.Contains(golden, []byte("## pcap sha256 "+pcapDigest(pcap)+" ")) {
		t.Fatalf("%s was made from another capture than the scenarios generate now; rerun with -update", syntheticGolden)
	}
	rows, err := parseRTPStreams(string(golden))
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != len(streams) {
		t.Fatalf("tshark found %d streams, the scenarios have %d", len(rows), len(streams))
	}
	byKey := make(map[streamKey]oracleStream, len(rows))
	for _, row := range rows {
		byKey[oracleKey(row)] = row
	}

	base, packets, err := decodeRTPCandidates(pcap, "synthetic.pcap")
	if err != nil {
		t.Fatal(err)
	}
	for i, s := range streams {
		src, dst, sport, dport := s.endpoints(i)
		key := streamKey{Src: mustAddrPort(t, src, sport), Dst: mustAddrPort(t, dst, dport), SSRC: s.ssrc}
		t.Run(s.name, func(t *testing.T) {
			row, ok := byKey[key]
			if !ok {
				t.Fatalf("tshark has no row for %v", key)
			}
			st := statsFor(base, packets, key)
			for _, d := range diffAgainstOracle(st, row) {
				t.Error(d)
			}
		})
	}
}

func mustAddrPort(t *testing.T, ip net.IP, port uint16) netip.AddrPort {
	t.Helper()
	a, ok := netip.AddrFromSlice(ip)
	if !ok {
		t.Fatalf("bad address %v", ip)
	}
	return netip.AddrPortFrom(a.Unmap(), port)
}
