package quality

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"fmt"
	"io"
	"net/netip"
	"os"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"
)

// Test-side packet reading. decode/ is the project's real decoder; these
// tests use gopacket so that they check the statistics independently of it.

// rtpPacket is one UDP datagram that carries an RTP version 2 header.
type rtpPacket struct {
	TSNs       int64
	Src, Dst   netip.AddrPort
	Marker     bool
	PT         uint8
	Seq        uint16
	TS         uint32
	SSRC       uint32
	PayloadLen int
}

func (p rtpPacket) key() streamKey { return streamKey{p.Src, p.Dst, p.SSRC} }

type packetSource interface {
	ReadPacketData() ([]byte, gopacket.CaptureInfo, error)
}

// readRTPCandidates returns the time of the capture's first frame (what
// tshark's relative times count from) and every UDP datagram of the file
// whose payload starts like RTP version 2.
func readRTPCandidates(path string) (int64, []rtpPacket, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return 0, nil, err
	}
	return decodeRTPCandidates(raw, path)
}

// decodeRTPCandidates is readRTPCandidates on a capture already in memory;
// path only labels errors.
func decodeRTPCandidates(raw []byte, path string) (int64, []rtpPacket, error) {
	var (
		src      packetSource
		linkType layers.LinkType
	)
	if len(raw) >= 4 && binary.LittleEndian.Uint32(raw) == 0x0A0D0D0A {
		ng, err := pcapgo.NewNgReader(bytes.NewReader(raw), pcapgo.DefaultNgReaderOptions)
		if err != nil {
			return 0, nil, fmt.Errorf("%s: %w", path, err)
		}
		src, linkType = ng, ng.LinkType()
	} else {
		r, err := pcapgo.NewReader(bufio.NewReader(bytes.NewReader(raw)))
		if err != nil {
			return 0, nil, fmt.Errorf("%s: %w", path, err)
		}
		src, linkType = r, r.LinkType()
	}

	var (
		base    int64
		haveTS  bool
		packets []rtpPacket
	)
	for {
		data, ci, err := src.ReadPacketData()
		if err == io.EOF {
			break
		}
		if err != nil {
			return 0, nil, fmt.Errorf("%s: %w", path, err)
		}
		ts := ci.Timestamp.UnixNano()
		if !haveTS {
			base, haveTS = ts, true
		}
		pkt := gopacket.NewPacket(data, linkType, gopacket.DecodeOptions{Lazy: true, NoCopy: true})
		udp, _ := pkt.Layer(layers.LayerTypeUDP).(*layers.UDP)
		if udp == nil {
			continue
		}
		var srcIP, dstIP netip.Addr
		switch ip := pkt.NetworkLayer().(type) {
		case *layers.IPv4:
			srcIP, _ = netip.AddrFromSlice(ip.SrcIP.To4())
			dstIP, _ = netip.AddrFromSlice(ip.DstIP.To4())
		case *layers.IPv6:
			srcIP, _ = netip.AddrFromSlice(ip.SrcIP)
			dstIP, _ = netip.AddrFromSlice(ip.DstIP)
		default:
			continue
		}
		p, ok := parseRTPHeader(udp.Payload)
		if !ok {
			continue
		}
		p.TSNs = ts
		p.Src = netip.AddrPortFrom(srcIP, uint16(udp.SrcPort))
		p.Dst = netip.AddrPortFrom(dstIP, uint16(udp.DstPort))
		packets = append(packets, p)
	}
	if !haveTS {
		return 0, nil, fmt.Errorf("%s: no frames", path)
	}
	return base, packets, nil
}

// parseRTPHeader reads the fixed RTP header and the payload length after
// CSRCs, extension and padding.
func parseRTPHeader(b []byte) (rtpPacket, bool) {
	var p rtpPacket
	if len(b) < 12 || b[0]>>6 != 2 {
		return p, false
	}
	p.Marker = b[1]&0x80 != 0
	p.PT = b[1] & 0x7f
	p.Seq = binary.BigEndian.Uint16(b[2:])
	p.TS = binary.BigEndian.Uint32(b[4:])
	p.SSRC = binary.BigEndian.Uint32(b[8:])
	off := 12 + 4*int(b[0]&0x0f)
	if b[0]&0x10 != 0 && off+4 <= len(b) {
		off += 4 + 4*int(binary.BigEndian.Uint16(b[off+2:]))
	}
	end := len(b)
	if b[0]&0x20 != 0 && end > 0 {
		end -= int(b[end-1])
	}
	if end > off {
		p.PayloadLen = end - off
	}
	return p, true
}
