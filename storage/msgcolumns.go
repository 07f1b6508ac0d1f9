package storage

import (
	"context"
	"fmt"
	"net/netip"
	"time"

	"github.com/sipscope/sipscope/correlate"
)

// ColumnInserter is an Inserter that also takes a batch column by column:
// values[i] holds column i's values as one slice of the Go type its
// ColumnType documents ([]string for String and LowCardinality(String),
// [][]byte for TypeBytes, []time.Time for Date and DateTime, ...), each
// rows long. SIP messages, the bulk of what a store takes, are written
// this way when the backend can: no value is boxed into an interface, so
// building a batch costs a few slices instead of ~20 allocations a row.
type ColumnInserter interface {
	Inserter
	InsertColumns(ctx context.Context, insert string, columns []Column, values []any, rows int) error
}

// insertColumns is insert for a ColumnInserter.
func insertColumns(ctx context.Context, ins ColumnInserter, db string, t table, values []any, rows int) error {
	head := "INSERT INTO " + db + "." + t.name + " (" + columnNames(t.columns) + ")"
	if err := ins.InsertColumns(ctx, head, t.columns, values, rows); err != nil {
		return fmt.Errorf("storage: insert %d rows into %s: %w", rows, t.name, err)
	}
	return nil
}

// messageColumns is the columns of messageRow for msgs, the first with
// sequence number seq: the same values, column by column
// (TestMessageColumnsAreTheMessageRows).
func messageColumns(msgs []correlate.Message, seq uint64) []any {
	n := len(msgs)
	var (
		date, ts                   = make([]time.Time, n), make([]time.Time, n)
		tsUS, seqs, hashes         = make([]uint64, n), make([]uint64, n), make([]uint64, n)
		callID, srcIP, dstIP       = make([]string, n), make([]string, n), make([]string, n)
		srcPort, dstPort           = make([]uint16, n), make([]uint16, n)
		transport, method, reason  = make([]string, n), make([]string, n), make([]string, n)
		isRequest                  = make([]uint8, n)
		status                     = make([]uint16, n)
		cseq                       = make([]uint32, n)
		cseqMethod, fromUser, user = make([]string, n), make([]string, n), make([]string, n)
		raw                        = make([][]byte, n)
		node                       = make([]string, n)
	)
	// A batch comes from few addresses: each is formatted once. The map
	// holds at most the batch's addresses.
	addrs := make(map[netip.Addr]string)
	addr := func(a netip.Addr) string {
		s, ok := addrs[a]
		if !ok {
			s = addrString(a)
			addrs[a] = s
		}
		return s
	}
	for i := range msgs {
		m := &msgs[i]
		date[i], ts[i], tsUS[i], seqs[i], hashes[i] = dateOf(m.TS), secondsOf(m.TS), microsOf(m.TS), seq+uint64(i), messageHash(m)
		callID[i], srcIP[i], srcPort[i], dstIP[i], dstPort[i] = m.CallID, addr(m.Src.Addr()), m.Src.Port(), addr(m.Dst.Addr()), m.Dst.Port()
		transport[i], isRequest[i], method[i], status[i], reason[i] = m.Transport, flag(m.IsRequest), m.Method, clampUint16(m.StatusCode), m.Reason
		cseq[i], cseqMethod[i], fromUser[i], user[i], raw[i], node[i] = m.CSeq, m.CSeqMethod, m.FromUser, m.ToUser, m.Raw, m.Node
		if raw[i] == nil {
			raw[i] = []byte{}
		}
	}
	return []any{date, ts, tsUS, seqs, hashes, callID, srcIP, srcPort, dstIP, dstPort,
		transport, isRequest, method, status, reason, cseq, cseqMethod, fromUser, user, raw, node}
}
