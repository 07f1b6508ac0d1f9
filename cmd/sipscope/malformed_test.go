package main

import (
	"bytes"
	"math/rand/v2"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"
	"github.com/sipscope/sipscope/pipeline"
)

// writeUDPCapture writes one Ethernet/IPv4/UDP frame per payload, all to
// port 5060, into a pcap file.
func writeUDPCapture(t *testing.T, payloads [][]byte) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "garbage.pcap")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	w := pcapgo.NewWriter(f)
	if err := w.WriteFileHeader(65535, layers.LinkTypeEthernet); err != nil {
		t.Fatal(err)
	}
	base := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for i, pl := range payloads {
		eth := &layers.Ethernet{SrcMAC: net.HardwareAddr{2, 0, 0, 0, 0, 1}, DstMAC: net.HardwareAddr{2, 0, 0, 0, 0, 2}, EthernetType: layers.EthernetTypeIPv4}
		ip := &layers.IPv4{Version: 4, TTL: 64, Protocol: layers.IPProtocolUDP, SrcIP: net.IP{192, 0, 2, 1}, DstIP: net.IP{192, 0, 2, 2}}
		udp := &layers.UDP{SrcPort: 5060, DstPort: 5060}
		if err := udp.SetNetworkLayerForChecksum(ip); err != nil {
			t.Fatal(err)
		}
		buf := gopacket.NewSerializeBuffer()
		opts := gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true}
		if err := gopacket.SerializeLayers(buf, opts, eth, ip, udp, gopacket.Payload(pl)); err != nil {
			t.Fatal(err)
		}
		ci := gopacket.CaptureInfo{Timestamp: base.Add(time.Duration(i) * time.Millisecond), CaptureLength: len(buf.Bytes()), Length: len(buf.Bytes())}
		if err := w.WritePacket(ci, buf.Bytes()); err != nil {
			t.Fatal(err)
		}
	}
	return path
}

const goodOptions = "OPTIONS sip:bob@example.com SIP/2.0\r\nVia: SIP/2.0/UDP 192.0.2.1;branch=z9hG4bK1\r\n" +
	"From: <sip:alice@example.com>;tag=1\r\nTo: <sip:bob@example.com>\r\nCall-ID: good-1\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n"

// TestAnalyzeGarbageOnSIPPortIsCountedNeverFatal sends what a scanner or a
// broken peer puts on port 5060: random bytes, a cut request, a 64 KB
// header, a bogus Content-Length, and one good message among them.
func TestAnalyzeGarbageOnSIPPortIsCountedNeverFatal(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	var payloads [][]byte
	for range 200 {
		b := make([]byte, 1+rng.IntN(1400))
		for i := range b {
			b[i] = byte(rng.Uint32())
		}
		payloads = append(payloads, b)
	}
	huge := "INVITE sip:bob@example.com SIP/2.0\r\nX-Pad: " + strings.Repeat("a", 64<<10) + "\r\n" + goodOptions[strings.Index(goodOptions, "Via"):]
	payloads = append(payloads,
		[]byte("INVITE sip:bob@example.com SIP/2.0\r\nVia: SIP/2.0/UDP 192.0.2.1;bra"),
		[]byte(huge)[:min(len(huge), 65000)],
		[]byte(strings.Replace(goodOptions, "Content-Length: 0", "Content-Length: 99999", 1)),
		[]byte(strings.Replace(goodOptions, "CSeq: 1 OPTIONS", "CSeq: banana", 1)),
		[]byte(goodOptions),
	)
	path := writeUDPCapture(t, payloads)
	var out, errb bytes.Buffer
	if code := run(t.Context(), []string{"analyze", path, "--json"}, &out, &errb); code != 0 {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	r, err := pipeline.AnalyzeFile(path, pipeline.QualityOptions{G711PLC: true})
	if err != nil {
		t.Fatal(err)
	}
	if r.Packets != len(payloads) {
		t.Errorf("packets %d, want %d", r.Packets, len(payloads))
	}
	if r.SIP.CallIDs != 1 || r.SIP.Requests["OPTIONS"] < 1 {
		t.Errorf("the good OPTIONS was not found among the garbage: %+v", r.SIP)
	}
	bad := 0
	for k, n := range r.DecodeErrors {
		if strings.HasPrefix(k, "sip_") {
			bad += n
		}
	}
	if bad < 3 {
		t.Errorf("malformed SIP not counted: decode_errors %v", r.DecodeErrors)
	}
	accounted := r.SIP.Messages + bad + r.RTPPackets + r.RTCPPackets
	for _, n := range r.Ignored {
		accounted += n
	}
	for k, n := range r.DecodeErrors {
		if !strings.HasPrefix(k, "sip_") {
			accounted += n
		}
	}
	if accounted < r.Packets {
		t.Errorf("%d of %d frames are neither counted as SIP, RTP, ignored nor as errors: %+v", r.Packets-accounted, r.Packets, r)
	}
}
