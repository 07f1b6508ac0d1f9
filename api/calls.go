package api

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/gin-gonic/gin"
	"github.com/sipscope/sipscope/storage"
)

func (s *Server) listCalls(c *gin.Context) {
	f, err := ParseCallFilter(c.Request.URL.Query())
	if err != nil {
		s.badRequest(c, err)
		return
	}
	counts, err := boolParam(c.Request.URL.Query(), "counts")
	if err != nil {
		s.badRequest(c, err)
		return
	}
	rows, err := boolParam(c.Request.URL.Query(), "rows")
	if err != nil {
		s.badRequest(c, err)
		return
	}
	total, err := boolParam(c.Request.URL.Query(), "total")
	if err != nil {
		s.badRequest(c, err)
		return
	}
	// total=false leaves the total uncounted (-1 unless the page holds
	// every match): the rows come sooner, and the UI's count strip
	// counts the filter's calls anyway.
	f.NoTotal = total != nil && !*total
	wantCounts := counts != nil && *counts
	// rows=false with counts=true asks for the counts alone: the UI draws
	// a page's rows first and fetches its count strip in a second request,
	// which need not list (and total) the calls again.
	countsOnly := wantCounts && rows != nil && !*rows
	v := CallListView{Calls: []CallView{}}
	if !countsOnly {
		page, err := s.store.ListCalls(c.Request.Context(), f)
		if err != nil {
			s.storeFailed(c, "list calls", err)
			return
		}
		v = NewCallListView(page)
		if n := len(page.Calls); n > 0 && n == min(cmp.Or(f.Limit, storage.DefaultLimit), storage.MaxLimit) &&
			(f.Sort == "" || f.Sort == storage.SortStart) {
			last := page.Calls[n-1]
			v.NextCursor = EncodeCursor(storage.CallKey{Start: last.Start, CallID: last.CallID})
		}
	}
	if wantCounts {
		cc, ok := s.store.(CallCounter)
		if !ok {
			c.JSON(http.StatusNotImplemented, gin.H{"error": "this store cannot count calls"})
			return
		}
		n, err := cc.CountCalls(c.Request.Context(), f)
		if err != nil {
			s.storeFailed(c, "count calls", err)
			return
		}
		v.Counts = &n
		if countsOnly || v.Total < 0 {
			v.Total = n.Total
		}
	}
	c.JSON(http.StatusOK, v)
}

// CallCounter counts a search's calls per state and final code (both
// storage backends).
type CallCounter interface {
	CountCalls(ctx context.Context, f storage.CallFilter) (storage.CallCounts, error)
}

func (s *Server) getCall(c *gin.Context) {
	detail, ok := s.loadCall(c)
	if !ok {
		return
	}
	c.JSON(http.StatusOK, NewCallDetailView(detail))
}

func (s *Server) callPCAP(c *gin.Context) {
	legs := false
	switch v := c.Query("legs"); v {
	case "", "0":
	case "1":
		legs = true
	default:
		s.badRequest(c, badParam("legs", "want 0 or 1, got %q", v))
		return
	}
	detail, ok := s.loadCall(c)
	if !ok {
		return
	}
	ctx := c.Request.Context()
	ids := []string{detail.Call.CallID}
	msgs := detail.Messages
	if legs {
		// The other legs a B2BUA made of this call, as many as one read
		// takes; a leg never stored is left out.
		for _, leg := range detail.Call.LinkedCallIDs {
			if len(ids) == storage.MaxPacketCalls {
				break
			}
			if slices.Contains(ids, leg) {
				continue
			}
			d, err := s.store.GetCall(ctx, leg)
			if errors.Is(err, storage.ErrNotFound) {
				continue
			}
			if err != nil {
				s.storeFailed(c, "get call leg", err)
				return
			}
			ids = append(ids, leg)
			msgs = append(msgs, d.Messages...)
		}
	}
	var pkts []storage.Packet
	if fs, ok := s.store.(FrameStore); ok {
		var err error
		if pkts, err = fs.CallPackets(ctx, ids); err != nil {
			s.storeFailed(c, "get call packets", err)
			return
		}
	}
	// Build the whole file before answering so that a failure is still a
	// clean 500 rather than a truncated download.
	var buf bytes.Buffer
	format, err := WriteCallPCAP(&buf, msgs, pkts)
	if err != nil {
		id := requestIDOf(c)
		s.log.Error("api pcap export failed", "call_id", detail.Call.CallID, "err", err, "request_id", id)
		c.JSON(http.StatusInternalServerError, gin.H{"error": "cannot export this call as PCAP", "request_id": id})
		return
	}
	name, ctype := PCAPFilename(detail.Call.CallID), "application/vnd.tcpdump.pcap"
	if format == FormatPCAPNG {
		name, ctype = strings.TrimSuffix(name, ".pcap")+".pcapng", "application/x-pcapng"
	}
	c.Header("Content-Disposition", `attachment; filename="`+name+`"`)
	c.Data(http.StatusOK, ctype, buf.Bytes())
}

// loadCall fetches the call named by the :id path segment, answering the
// error itself when there is none.
func (s *Server) loadCall(c *gin.Context) (storage.CallDetail, bool) {
	id, err := url.PathUnescape(c.Param("id"))
	switch {
	case err != nil:
		s.badRequest(c, badParam("id", "bad percent-encoding"))
		return storage.CallDetail{}, false
	case id == "":
		s.badRequest(c, badParam("id", "empty Call-ID"))
		return storage.CallDetail{}, false
	case len(id) > maxCallIDSize:
		s.badRequest(c, badParam("id", "longer than %d bytes", maxCallIDSize))
		return storage.CallDetail{}, false
	}
	detail, err := s.store.GetCall(c.Request.Context(), id)
	if errors.Is(err, storage.ErrNotFound) {
		c.JSON(http.StatusNotFound, gin.H{"error": "call not found", "call_id": id})
		return storage.CallDetail{}, false
	}
	if err != nil {
		s.storeFailed(c, "get call", err)
		return storage.CallDetail{}, false
	}
	return detail, true
}

func (s *Server) badRequest(c *gin.Context, err error) {
	body := gin.H{"error": err.Error()}
	var pe *paramError
	if errors.As(err, &pe) {
		body["param"] = pe.param
	}
	c.JSON(http.StatusBadRequest, body)
}

// storeFailed answers a storage error without leaking its text to clients;
// the log keeps the detail. A client that went away is not an error.
func (s *Server) storeFailed(c *gin.Context, op string, err error) {
	if errors.Is(err, context.Canceled) && c.Request.Context().Err() != nil {
		s.log.Debug("api client gone", "op", op)
		c.Status(499) // nginx's "client closed request"; nobody reads it
		return
	}
	id := requestIDOf(c)
	s.log.Error("api storage failed", "op", op, "err", err, "request_id", id)
	c.JSON(http.StatusInternalServerError, gin.H{"error": "storage unavailable", "request_id": id})
}

// PCAPFilename is the download name for a call's PCAP: the Call-ID with
// anything outside [A-Za-z0-9._@-] replaced by '_', so that it is safe in a
// Content-Disposition header and on every file system.
func PCAPFilename(callID string) string {
	const maxBase = 120
	var b strings.Builder
	for i := 0; i < len(callID) && b.Len() < maxBase; i++ {
		ch := callID[i]
		switch {
		case ch >= 'a' && ch <= 'z', ch >= 'A' && ch <= 'Z', ch >= '0' && ch <= '9',
			ch == '-', ch == '_', ch == '@':
			b.WriteByte(ch)
		case ch == '.' && b.Len() > 0: // no hidden or "..": names
			b.WriteByte(ch)
		default:
			b.WriteByte('_')
		}
	}
	if b.Len() == 0 {
		return "call.pcap"
	}
	return b.String() + ".pcap"
}
