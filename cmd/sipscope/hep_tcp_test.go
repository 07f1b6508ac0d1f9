package main

import (
	"encoding/json"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"

	"github.com/sipscope/sipscope/gen"
	"github.com/sipscope/sipscope/pipeline"
)

// writeHEPOverTCP captures an agent's TCP connection to a collector that
// carries the given HEP packets back to back, cut into segments of segSize
// bytes regardless of packet boundaries.
func writeHEPOverTCP(t *testing.T, pkts [][]byte, segSize int) string {
	t.Helper()
	var stream []byte
	for _, p := range pkts {
		stream = append(stream, p...)
	}
	path := filepath.Join(t.TempDir(), "hep-tcp.pcap")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	w := pcapgo.NewWriter(f)
	if err := w.WriteFileHeader(65535, layers.LinkTypeEthernet); err != nil {
		t.Fatal(err)
	}
	at := time.Date(2026, 1, 1, 10, 0, 0, 0, time.UTC)
	const isn = 1000
	write := func(tcp *layers.TCP, payload []byte) {
		eth := &layers.Ethernet{SrcMAC: net.HardwareAddr{2, 0, 0, 0, 0, 1}, DstMAC: net.HardwareAddr{2, 0, 0, 0, 0, 2}, EthernetType: layers.EthernetTypeIPv4}
		ip := &layers.IPv4{Version: 4, TTL: 64, Protocol: layers.IPProtocolTCP, SrcIP: net.IP{192, 0, 2, 100}, DstIP: net.IP{192, 0, 2, 200}}
		tcp.SrcPort, tcp.DstPort, tcp.Window = 40000, 9061, 65535
		if err := tcp.SetNetworkLayerForChecksum(ip); err != nil {
			t.Fatal(err)
		}
		buf := gopacket.NewSerializeBuffer()
		if err := gopacket.SerializeLayers(buf, gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true}, eth, ip, tcp, gopacket.Payload(payload)); err != nil {
			t.Fatal(err)
		}
		at = at.Add(time.Millisecond)
		if err := w.WritePacket(gopacket.CaptureInfo{Timestamp: at, CaptureLength: len(buf.Bytes()), Length: len(buf.Bytes())}, buf.Bytes()); err != nil {
			t.Fatal(err)
		}
	}
	write(&layers.TCP{SYN: true, Seq: isn}, nil)
	for off := 0; off < len(stream); off += segSize {
		end := min(off+segSize, len(stream))
		write(&layers.TCP{ACK: true, PSH: true, Seq: uint32(isn + 1 + off)}, stream[off:end])
	}
	write(&layers.TCP{ACK: true, FIN: true, Seq: uint32(isn + 1 + len(stream))}, nil)
	return path
}

// TestAnalyzeHEPOverTCPInACapture: HEPv3 that an agent sent to a collector
// over TCP, captured on the way, cut across segment boundaries, yields the
// calls of the SIP it carried.
func TestAnalyzeHEPOverTCPInACapture(t *testing.T) {
	pkts, _ := hepMessages(t, "../../testdata/calls.pcap")
	b, err := os.ReadFile("../../testdata/calls.truth.json")
	if err != nil {
		t.Fatal(err)
	}
	var truth gen.Truth
	if err := json.Unmarshal(b, &truth); err != nil {
		t.Fatal(err)
	}
	for _, seg := range []int{100, 1400} {
		r, err := pipeline.AnalyzeFile(writeHEPOverTCP(t, pkts, seg), pipeline.QualityOptions{G711PLC: true})
		if err != nil {
			t.Fatal(err)
		}
		if r.HEPPackets != len(pkts) || r.SIP.Messages != truth.Totals.SIPMessages || r.SIP.CallIDs != truth.Totals.CallIDs {
			t.Fatalf("segments of %d bytes: %d HEP packets, %d SIP messages, %d Call-IDs; want %d, %d, %d (decode errors %v)",
				seg, r.HEPPackets, r.SIP.Messages, r.SIP.CallIDs, len(pkts), truth.Totals.SIPMessages, truth.Totals.CallIDs, r.DecodeErrors)
		}
		if d := diffCounts(r.SIP.Requests, truth.Totals.Requests); d != "" {
			t.Errorf("requests: %s", d)
		}
		states := map[string]string{}
		for _, c := range r.Calls {
			states[c.CallID] = c.State
		}
		for _, c := range truth.Calls {
			if states[c.CallID] != c.State {
				t.Errorf("call %s: %q, truth %q", c.CallID, states[c.CallID], c.State)
			}
		}
	}
}
