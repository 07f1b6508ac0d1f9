package storage

import (
	"context"
	"fmt"
	"strings"
	"time"
)

// TablePackets holds the frames of each call as they were captured: its
// SIP messages that came over UDP and the RTP/RTCP packets of its streams,
// so that a call's PCAP is the original traffic rather than a rebuild.
const TablePackets = "packets"

// revisionPackets added the packets table.
const revisionPackets = 8

// Packet kinds (the kind column).
const (
	PacketSIP  = "sip"
	PacketRTP  = "rtp"
	PacketRTCP = "rtcp"
)

// Packet is one captured frame of a call.
type Packet struct {
	CallID string
	TS     int64  // capture time, Unix nanoseconds (stored to the microsecond)
	Seq    uint64 // the frame's number in its capture run: capture order within a microsecond
	Kind   string // PacketSIP, PacketRTP or PacketRTCP
	// LinkType is the pcap LINKTYPE_* of Data (frame.LinkType).
	LinkType uint16
	// OrigLen is the frame's length on the wire; Data may be shorter (the
	// capture's snap length, or store_rtp headers cutting the payload).
	OrigLen uint32
	Data    []byte
	Node    string // capture node
}

func packetsTable() table {
	return table{
		name: TablePackets,
		columns: []Column{
			{Name: "date", Type: TypeDate},
			{Name: "ts", Type: TypeDateTime},
			{Name: "ts_us", Type: TypeUInt64},
			{Name: "seq", Type: TypeUInt64},
			{Name: "call_id", Type: TypeString},
			{Name: "kind", Type: TypeString, LowCardinality: true},
			{Name: "link_type", Type: TypeUInt16},
			{Name: "orig_len", Type: TypeUInt32},
			{Name: "frame", Type: TypeBytes, Compress: true},
			{Name: "node", Type: TypeString, LowCardinality: true},
		},
		// A call's frames in capture order; the frame number breaks ties
		// within a microsecond and makes a re-imported capture's frames
		// collapse into the ones stored before (ReplacingMergeTree).
		orderBy:  "call_id, ts_us, seq",
		dedupe:   true,
		shardKey: "cityHash64(call_id)",
		since:    revisionPackets,
	}
}

func packetRow(p *Packet) []any {
	t := time.Unix(0, p.TS).UTC()
	data := p.Data
	if data == nil {
		data = []byte{}
	}
	return []any{dateOf(t), secondsOf(t), microsOf(t), p.Seq, p.CallID, p.Kind, p.LinkType, p.OrigLen, data, p.Node}
}

// MaxPacketCalls bounds the Call-IDs one CallPackets reads (a call and its
// B2BUA legs).
const MaxPacketCalls = 64

// CallPackets reads the stored frames of the calls callIDs, in capture
// order (time, then frame number). It reads at most MaxPacketCalls calls.
func CallPackets(ctx context.Context, q Querier, db string, callIDs []string) ([]Packet, error) {
	if len(callIDs) == 0 {
		return nil, nil
	}
	if len(callIDs) > MaxPacketCalls {
		return nil, fmt.Errorf("%w: %d calls, at most %d", ErrInvalidConfig, len(callIDs), MaxPacketCalls)
	}
	ids := make([]string, len(callIDs))
	for i, id := range callIDs {
		ids[i] = QuoteString(id)
	}
	var (
		tsUS, seq    uint64
		callID, kind string
		linkType     uint16
		origLen      uint32
		data         []byte
		node         string
		out          []Packet
	)
	err := q.Query(ctx,
		"SELECT ts_us, seq, call_id, kind, link_type, orig_len, frame, node FROM "+db+"."+TablePackets+
			" FINAL WHERE call_id IN ("+strings.Join(ids, ", ")+") ORDER BY ts_us, seq",
		[]any{&tsUS, &seq, &callID, &kind, &linkType, &origLen, &data, &node}, func() error {
			out = append(out, Packet{CallID: callID, TS: int64(tsUS) * 1000, Seq: seq, Kind: kind,
				LinkType: linkType, OrigLen: origLen, Data: data, Node: node})
			return nil
		})
	if err != nil {
		return nil, fmt.Errorf("storage: get call packets: %w", err)
	}
	return out, nil
}
