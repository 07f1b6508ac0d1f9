package api

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/gin-gonic/gin"

	"github.com/sipscope/sipscope/correlate"
	"github.com/sipscope/sipscope/storage"
)

// Defaults of the multi-call PCAP export's bounds.
const (
	DefaultMaxExportCalls = 1000
	DefaultMaxExportBytes = 100 << 20
	// maxConcurrentExports bounds the multi-call exports running at once:
	// each holds up to MaxExportBytes of messages.
	maxConcurrentExports = 2
)

// callText answers GET /api/v1/calls/{id}/text: the call's ladder as
// sngrep shows it, then every message in full.
func (s *Server) callText(c *gin.Context) {
	detail, ok := s.loadCall(c)
	if !ok {
		return
	}
	var buf bytes.Buffer
	writeLadder(&buf, detail.Call, detail.Messages)
	c.Header("Content-Disposition", `inline; filename="`+textFilename(detail.Call.CallID)+`"`)
	c.Data(http.StatusOK, "text/plain; charset=utf-8", buf.Bytes())
}

func textFilename(callID string) string {
	name := PCAPFilename(callID)
	return name[:len(name)-len(".pcap")] + ".txt"
}

// ladderTime is the clock of the ladder: microseconds, as stored.
const ladderTime = "2006-01-02 15:04:05.000000"

// writeLadder writes a call's messages as text: a header, one line per
// message (time, offset from the first, source → destination, transport,
// first line), then each message in full. Control characters other than
// tab and line ends, and invalid UTF-8, are shown as '.', so that a
// message cannot drive the terminal that displays the export.
func writeLadder(w io.Writer, call correlate.Call, msgs []correlate.Message) {
	bw := bufio.NewWriter(w)
	defer bw.Flush()
	fmt.Fprintf(bw, "Call-ID:    %s\n", printable(call.CallID))
	fmt.Fprintf(bw, "From:       %s\nTo:         %s\n", printable(call.FromUser), printable(call.ToUser))
	fmt.Fprintf(bw, "State:      %s", call.State)
	if call.FinalCode != 0 {
		fmt.Fprintf(bw, " (%d)", call.FinalCode)
	}
	if call.EndReason != "" {
		fmt.Fprintf(bw, ", %s", call.EndReason)
	}
	fmt.Fprintf(bw, "\nStart:      %s\nMessages:   %d\n\n", FormatTime(call.Start), len(msgs))

	var t0 time.Time
	if len(msgs) > 0 {
		t0 = msgs[0].TS
	}
	srcW, dstW := len("Source"), len("Destination")
	for i := range msgs {
		srcW = max(srcW, len(msgs[i].Src.String()))
		dstW = max(dstW, len(msgs[i].Dst.String()))
	}
	fmt.Fprintf(bw, "%4s  %-26s  %10s  %-*s     %-*s  %-4s  %s\n", "#", "Time (UTC)", "+s", srcW, "Source", dstW, "Destination", "Tr", "Message")
	for i := range msgs {
		m := &msgs[i]
		fmt.Fprintf(bw, "%4d  %-26s  %10.6f  %-*s --> %-*s  %-4s  %s\n", i+1, m.TS.UTC().Format(ladderTime),
			m.TS.Sub(t0).Seconds(), srcW, m.Src, dstW, m.Dst, printable(m.Transport), printable(firstLine(m.Raw)))
	}
	for i := range msgs {
		m := &msgs[i]
		fmt.Fprintf(bw, "\n==== %d  %s  %s --> %s  %s", i+1, m.TS.UTC().Format(ladderTime), m.Src, m.Dst, printable(m.Transport))
		if m.Node != "" {
			fmt.Fprintf(bw, "  node %s", printable(m.Node))
		}
		bw.WriteString(" ====\n")
		writeRaw(bw, m.Raw)
	}
}

// firstLine is the start line of a SIP message.
func firstLine(raw []byte) []byte {
	if i := bytes.IndexAny(raw, "\r\n"); i >= 0 {
		return raw[:i]
	}
	return raw
}

// writeRaw writes a message with CRLF as LF, ending in a line end.
func writeRaw(w *bufio.Writer, raw []byte) {
	for len(raw) > 0 {
		line := raw
		next := []byte(nil)
		if i := bytes.IndexByte(raw, '\n'); i >= 0 {
			line, next = raw[:i], raw[i+1:]
		}
		line = bytes.TrimSuffix(line, []byte("\r"))
		w.WriteString(printable(line))
		w.WriteByte('\n')
		raw = next
	}
}

// printable replaces control characters (but tab) and invalid UTF-8 with '.'.
func printable[T string | []byte](v T) string {
	b := []byte(v)
	clean := true
	for _, c := range b {
		if c < 0x20 && c != '\t' || c == 0x7f || c >= 0x80 {
			clean = false
			break
		}
	}
	if clean {
		return string(b)
	}
	out := make([]byte, 0, len(b))
	for len(b) > 0 {
		r, n := utf8.DecodeRune(b)
		switch {
		case r == utf8.RuneError && n <= 1, r < 0x20 && r != '\t', r == 0x7f, r >= 0x80 && r < 0xa0:
			out = append(out, '.')
		default:
			out = append(out, b[:n]...)
		}
		b = b[n:]
	}
	return string(out)
}

// countingWriter counts what passes through it.
type countingWriter struct{ n int64 }

func (c *countingWriter) Write(p []byte) (int, error) { c.n += int64(len(p)); return len(p), nil }

// callsPCAP answers GET /api/v1/calls.pcap: the SIP messages of every call
// the search selects, in capture order, as one pcap file. Without limit or
// offset it takes every matching call and refuses (413) more than
// MaxExportCalls; with them, that page of the search. A file larger than
// MaxExportBytes is refused (413) before anything is sent.
func (s *Server) callsPCAP(c *gin.Context) {
	q := c.Request.URL.Query()
	f, err := ParseCallFilter(q)
	if err != nil {
		s.badRequest(c, err)
		return
	}
	paged := q.Has("limit") || q.Has("offset")
	if !paged {
		f.Limit = s.cfg.MaxExportCalls
	} else if f.Limit == 0 || f.Limit > s.cfg.MaxExportCalls {
		// An explicit page is still bounded by the export's bound.
		f.Limit = s.cfg.MaxExportCalls
	}
	release, ok := s.exportSlot(c)
	if !ok {
		return
	}
	defer release()
	ctx := c.Request.Context()
	page, err := s.store.ListCalls(ctx, f)
	if err != nil {
		s.storeFailed(c, "export calls", err)
		return
	}
	if !paged && page.Total > len(page.Calls) {
		c.JSON(http.StatusRequestEntityTooLarge, gin.H{"error": fmt.Sprintf("%d calls match, at most %d may be exported at once: narrow the search or page it with limit and offset",
			page.Total, s.cfg.MaxExportCalls), "total": page.Total, "max_calls": s.cfg.MaxExportCalls})
		return
	}
	msgs, err := s.exportMessages(ctx, page.Calls)
	if errors.Is(err, errExportTooLarge) {
		s.exportTooLarge(c)
		return
	}
	if err != nil {
		s.storeFailed(c, "export calls", err)
		return
	}
	// A first pass sizes the file: the bound is on what is sent, and a
	// message no packet can carry is a clean 500 instead of a cut file.
	var size countingWriter
	if err := WritePCAP(&size, msgs); err != nil {
		id := requestIDOf(c)
		s.log.Error("api pcap export failed", "calls", len(page.Calls), "err", err, "request_id", id)
		c.JSON(http.StatusInternalServerError, gin.H{"error": "cannot export these calls as PCAP", "request_id": id})
		return
	}
	if size.n > s.cfg.MaxExportBytes {
		s.exportTooLarge(c)
		return
	}
	c.Header("Content-Disposition", `attachment; filename="sipscope-calls.pcap"`)
	c.Header("Content-Length", strconv.FormatInt(size.n, 10))
	c.Header("X-Sipscope-Calls", strconv.Itoa(len(page.Calls)))
	c.Header("Content-Type", "application/vnd.tcpdump.pcap")
	c.Status(http.StatusOK)
	if err := WritePCAP(c.Writer, msgs); err != nil {
		// The client went away mid-file; the first pass proved the data.
		s.log.Debug("api pcap export cut", "err", err)
	}
}

// CallMessagesStore reads the messages of several calls in one query
// (both storage backends); without it an export reads call by call.
type CallMessagesStore interface {
	CallMessages(ctx context.Context, callIDs []string, maxBytes int64) ([]correlate.Message, error)
}

var errExportTooLarge = errors.New("api: export too large")

// exportMessages reads the calls' SIP messages in capture order, stopping
// with errExportTooLarge once they weigh more than MaxExportBytes.
func (s *Server) exportMessages(ctx context.Context, calls []correlate.Call) ([]correlate.Message, error) {
	if cm, ok := s.store.(CallMessagesStore); ok {
		ids := make([]string, len(calls))
		for i := range calls {
			ids[i] = calls[i].CallID
		}
		msgs, err := cm.CallMessages(ctx, ids, s.cfg.MaxExportBytes)
		if errors.Is(err, storage.ErrTooLarge) {
			return nil, errExportTooLarge
		}
		return msgs, err
	}
	var msgs []correlate.Message
	var raw int64
	for _, call := range calls {
		d, err := s.store.GetCall(ctx, call.CallID)
		if err != nil {
			return nil, err
		}
		for _, m := range d.Messages {
			raw += int64(len(m.Raw))
		}
		if raw > s.cfg.MaxExportBytes {
			return nil, errExportTooLarge
		}
		msgs = append(msgs, d.Messages...)
	}
	slices.SortStableFunc(msgs, func(a, b correlate.Message) int { return a.TS.Compare(b.TS) })
	return msgs, nil
}

func (s *Server) exportTooLarge(c *gin.Context) {
	c.JSON(http.StatusRequestEntityTooLarge, gin.H{"error": fmt.Sprintf("the export would exceed %d bytes: narrow the search or page it with limit and offset",
		s.cfg.MaxExportBytes), "max_bytes": s.cfg.MaxExportBytes})
}

// exportSlot takes one of the export slots (calls.pcap, audio), or answers
// 503 with Retry-After when all are busy: exports read many rows and
// stream large answers, so only a few run at once.
func (s *Server) exportSlot(c *gin.Context) (release func(), ok bool) {
	select {
	case s.exports <- struct{}{}:
		return func() { <-s.exports }, true
	default:
		c.Header("Retry-After", "5")
		c.JSON(http.StatusServiceUnavailable, gin.H{"error": "too many exports are running; try again shortly"})
		return nil, false
	}
}
