package api

import (
	"bytes"
	"fmt"
	"io"
	"slices"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"
	"github.com/sipscope/sipscope/correlate"
	"github.com/sipscope/sipscope/storage"
)

// rebuiltLinkType is the link type of the packets WritePCAP synthesises.
const rebuiltLinkType = uint16(layers.LinkTypeEthernet)

// CallPCAPFormat is the file format WriteCallPCAP chose.
type CallPCAPFormat int

const (
	FormatPCAP   CallPCAPFormat = iota // one link type: classic pcap, nanosecond timestamps
	FormatPCAPNG                       // several link types: pcapng, one interface each
)

// exportEntry is one packet of an export: a stored frame, or a message to
// rebuild (pkt nil).
type exportEntry struct {
	ts  int64
	pkt *storage.Packet
	msg *correlate.Message
}

// WriteCallPCAP writes a call's traffic in capture order: the frames the
// store kept as captured (pkts: SIP, RTP, RTCP) and, for each SIP message
// no kept frame carries (received over HEP, reassembled from IP fragments
// or TCP segments), a rebuilt packet as WritePCAP makes. A message is
// carried by a kept SIP frame whose bytes contain the message's bytes. One
// link type gives a pcap file, several a pcapng file with one interface per
// link type; it returns which.
func WriteCallPCAP(w io.Writer, msgs []correlate.Message, pkts []storage.Packet) (CallPCAPFormat, error) {
	entries := make([]exportEntry, 0, len(pkts)+len(msgs))
	linkTypes := map[uint16]int{}
	for i := range pkts {
		entries = append(entries, exportEntry{ts: pkts[i].TS, pkt: &pkts[i]})
		linkTypes[pkts[i].LinkType] = 0
	}
	for i := range msgs {
		if capturedIn(&msgs[i], pkts) {
			continue
		}
		entries = append(entries, exportEntry{ts: msgs[i].TS.UnixNano(), msg: &msgs[i]})
		linkTypes[rebuiltLinkType] = 0
	}
	// Stable: stored frames are in capture order already, and a rebuilt
	// message goes after frames of its microsecond.
	slices.SortStableFunc(entries, func(a, b exportEntry) int {
		switch {
		case a.ts < b.ts:
			return -1
		case a.ts > b.ts:
			return 1
		}
		return 0
	})
	order := make([]uint16, 0, len(linkTypes))
	for lt := range linkTypes {
		order = append(order, lt)
	}
	slices.Sort(order)
	if len(order) == 0 {
		order = append(order, rebuiltLinkType)
	}
	var (
		write  func(ci gopacket.CaptureInfo, data []byte) error
		flush  = func() error { return nil }
		format = FormatPCAP
	)
	if len(order) == 1 {
		pw := pcapgo.NewWriterNanos(w)
		if err := pw.WriteFileHeader(pcapSnapLen, layers.LinkType(order[0])); err != nil {
			return 0, fmt.Errorf("api: pcap header: %w", err)
		}
		write = pw.WritePacket
	} else {
		format = FormatPCAPNG
		intf := func(lt uint16) pcapgo.NgInterface {
			return pcapgo.NgInterface{Name: fmt.Sprintf("linktype%d", lt), LinkType: layers.LinkType(lt),
				SnapLength: pcapSnapLen, TimestampResolution: 9}
		}
		nw, err := pcapgo.NewNgWriterInterface(w, intf(order[0]), pcapgo.NgWriterOptions{})
		if err != nil {
			return 0, fmt.Errorf("api: pcapng header: %w", err)
		}
		linkTypes[order[0]] = 0
		for _, lt := range order[1:] {
			id, err := nw.AddInterface(intf(lt))
			if err != nil {
				return 0, fmt.Errorf("api: pcapng interface: %w", err)
			}
			linkTypes[lt] = id
		}
		write, flush = nw.WritePacket, nw.Flush
	}
	rebuilt := newPacketizer(func(ci gopacket.CaptureInfo, data []byte) error {
		ci.InterfaceIndex = linkTypes[rebuiltLinkType]
		return write(ci, data)
	})
	for i, e := range entries {
		if e.pkt == nil {
			if err := rebuilt.write(e.msg); err != nil {
				return 0, fmt.Errorf("api: pcap message %d: %w", i, err)
			}
			continue
		}
		ci := gopacket.CaptureInfo{
			Timestamp:      time.Unix(0, e.pkt.TS).UTC(),
			CaptureLength:  len(e.pkt.Data),
			Length:         max(int(e.pkt.OrigLen), len(e.pkt.Data)),
			InterfaceIndex: linkTypes[e.pkt.LinkType],
		}
		if err := write(ci, e.pkt.Data); err != nil {
			return 0, fmt.Errorf("api: pcap frame %d: %w", i, err)
		}
	}
	if err := flush(); err != nil {
		return 0, fmt.Errorf("api: pcapng: %w", err)
	}
	return format, nil
}

// capturedIn tells whether a kept SIP frame carries m.
func capturedIn(m *correlate.Message, pkts []storage.Packet) bool {
	if len(m.Raw) == 0 {
		return false
	}
	for i := range pkts {
		if pkts[i].Kind == storage.PacketSIP && bytes.Contains(pkts[i].Data, m.Raw) {
			return true
		}
	}
	return false
}
