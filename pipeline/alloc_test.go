package pipeline

import (
	"encoding/binary"
	"net"
	"testing"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"

	"github.com/sipscope/sipscope/correlate"
	"github.com/sipscope/sipscope/decode"
	"github.com/sipscope/sipscope/decode/sip"
	"github.com/sipscope/sipscope/frame"
)

// frameOf serialises Ethernet (optionally 802.1Q) / IPv4 / UDP / payload.
func frameOf(t testing.TB, vlan bool, sport, dport uint16, payload []byte) []byte {
	t.Helper()
	eth := &layers.Ethernet{SrcMAC: net.HardwareAddr{2, 0, 0, 0, 0, 1}, DstMAC: net.HardwareAddr{2, 0, 0, 0, 0, 2}, EthernetType: layers.EthernetTypeIPv4}
	ip := &layers.IPv4{Version: 4, TTL: 64, Protocol: layers.IPProtocolUDP, SrcIP: net.IP{192, 0, 2, 1}, DstIP: net.IP{192, 0, 2, 2}}
	udp := &layers.UDP{SrcPort: layers.UDPPort(sport), DstPort: layers.UDPPort(dport)}
	if err := udp.SetNetworkLayerForChecksum(ip); err != nil {
		t.Fatal(err)
	}
	ls := []gopacket.SerializableLayer{eth}
	if vlan {
		eth.EthernetType = layers.EthernetTypeDot1Q
		ls = append(ls, &layers.Dot1Q{VLANIdentifier: 42, Type: layers.EthernetTypeIPv4})
	}
	ls = append(ls, ip, udp, gopacket.Payload(payload))
	buf := gopacket.NewSerializeBuffer()
	if err := gopacket.SerializeLayers(buf, gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true}, ls...); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// rtpFrames is a 214-byte RTP frame (PCMA, SSRC 0x11223344, port 40000
// to 50000) captured at ts, and next, which hands it to p again as the
// stream's next packet: sequence, RTP timestamp and capture time
// advanced, 20 ms apart.
func rtpFrames(t testing.TB, p *Pipeline, ts int64) (data []byte, next func()) {
	t.Helper()
	rtpPkt := make([]byte, 12+160)
	rtpPkt[0], rtpPkt[1] = 0x80, 8 // v2, PCMA
	binary.BigEndian.PutUint32(rtpPkt[8:], 0x11223344)
	data = frameOf(t, false, 40000, 50000, rtpPkt)
	const ipUDP = 14 + 20 + 8
	f := frame.Frame{LinkType: frame.LinkEthernet, Data: data, TS: ts, OrigLen: len(data)}
	seq, rtpTS := uint16(1), uint32(0)
	return data, func() {
		seq++
		rtpTS += 160
		f.TS += 20e6
		binary.BigEndian.PutUint16(data[ipUDP+2:], seq)
		binary.BigEndian.PutUint32(data[ipUDP+4:], rtpTS)
		p.HandleFrame(&f)
	}
}

// TestRTPPathDoesNotAllocate: an RTP packet of a known stream goes through
// decode, stream lookup, tshark statistics, loss pattern, jitter buffer and
// timeline without allocating.
func TestRTPPathDoesNotAllocate(t *testing.T) {
	p := New(correlate.DefaultConfig())
	_, next := rtpFrames(t, p, 1_700_000_000e9)
	for range 10 {
		next() // the stream and its first timeline interval exist now
	}
	if n := testing.AllocsPerRun(100, next); n != 0 {
		t.Errorf("RTP path allocates %.2f times per packet", n)
	}
	if p.counts.rtpPackets != 111 {
		t.Errorf("counted %d RTP packets, want 111", p.counts.rtpPackets)
	}
}

// TestVLANSIPInviteParseDoesNotAllocate: Ethernet/802.1Q/IPv4/UDP down to a
// parsed INVITE with SDP, allocation-free (correlate copies what it keeps).
func TestVLANSIPInviteParseDoesNotAllocate(t *testing.T) {
	invite := []byte("INVITE sip:bob@example.com SIP/2.0\r\n" +
		"Via: SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bK776asdhds\r\nMax-Forwards: 70\r\n" +
		"To: Bob <sip:bob@example.com>\r\nFrom: Alice <sip:alice@example.com>;tag=1928301774\r\n" +
		"Call-ID: a84b4c76e66710@pc33.example.com\r\nCSeq: 314159 INVITE\r\nContact: <sip:alice@192.0.2.1>\r\n" +
		"User-Agent: test\r\nContent-Type: application/sdp\r\nContent-Length: 129\r\n\r\n" +
		"v=0\r\no=alice 2890844526 2890844526 IN IP4 192.0.2.1\r\ns=-\r\nc=IN IP4 192.0.2.1\r\nt=0 0\r\n" +
		"m=audio 49170 RTP/AVP 0 8\r\na=rtpmap:0 PCMU/8000\r\n")
	data := frameOf(t, true, 5060, 5060, invite)
	dec := decode.NewDecoder()
	var (
		pkt decode.Packet
		msg sip.Message
	)
	run := func() {
		if err := dec.Decode(frame.LinkEthernet, data, 1, &pkt); err != nil {
			t.Fatal(err)
		}
		if err := msg.Unmarshal(pkt.Payload); err != nil {
			t.Fatal(err)
		}
	}
	run()
	if string(msg.CallID) != "a84b4c76e66710@pc33.example.com" || msg.ContentLength != 129 {
		t.Fatalf("parsed Call-ID %q, Content-Length %d", msg.CallID, msg.ContentLength)
	}
	if n := testing.AllocsPerRun(100, run); n != 0 {
		t.Errorf("VLAN SIP INVITE path allocates %.2f times per packet", n)
	}
}
