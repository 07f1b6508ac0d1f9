package gen

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"
)

// RewritePayloadType copies a capture that Write made from r to w with the
// RTP payload type of its media packets set to pt, marker bits kept: the
// UDP datagrams between ports ≥ minSrcPort (source) and ≥ 10000
// (destination), where gen sends media (SIP stays below 10000), RTCP
// left as it is. It makes a
// call of another codec from a G.711 one (e.g. pt 18, G.729) without
// re-encoding: the payload bytes are left as they are. It returns how
// many packets it rewrote; a capture with no media packet is an error.
func RewritePayloadType(r io.Reader, w io.Writer, pt uint8, minSrcPort uint16) (int, error) {
	if pt > 127 {
		return 0, fmt.Errorf("gen: payload type %d is not 7 bits", pt)
	}
	in, err := pcapgo.NewReader(r)
	if err != nil {
		return 0, err
	}
	out := pcapgo.NewWriterNanos(w)
	if err := out.WriteFileHeader(in.Snaplen(), in.LinkType()); err != nil {
		return 0, err
	}
	changed := 0
	for {
		data, ci, err := in.ReadPacketData()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return changed, err
		}
		p := gopacket.NewPacket(data, in.LinkType(), gopacket.DecodeOptions{NoCopy: true, Lazy: true})
		if udp, ok := p.Layer(layers.LayerTypeUDP).(*layers.UDP); ok && uint16(udp.SrcPort) >= minSrcPort &&
			udp.DstPort >= 10000 && len(udp.Payload) >= 12 && udp.Payload[0]>>6 == 2 &&
			(udp.Payload[1] < 192 || udp.Payload[1] > 223) { // RTCP's packet types (RFC 5761) stay

			udp.Payload[1] = udp.Payload[1]&0x80 | pt // data shares its bytes (NoCopy)
			changed++
		}
		if err := out.WritePacket(ci, data); err != nil {
			return changed, err
		}
	}
	if changed == 0 {
		return 0, errors.New("gen: no RTP packet to rewrite")
	}
	return changed, nil
}

// RewritePayloadTypeFile is RewritePayloadType from the file inPath to a
// new file outPath.
func RewritePayloadTypeFile(inPath, outPath string, pt uint8, minSrcPort uint16) (int, error) {
	in, err := os.Open(inPath)
	if err != nil {
		return 0, err
	}
	defer in.Close()
	out, err := os.Create(outPath)
	if err != nil {
		return 0, err
	}
	n, err := RewritePayloadType(bufio.NewReader(in), out, pt, minSrcPort)
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	return n, err
}
