package api

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"net/netip"
	"slices"
	"strconv"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/sipscope/sipscope/alert"
	"github.com/sipscope/sipscope/correlate"
	"github.com/sipscope/sipscope/storage"
)

// AlertStore reads stored alerts (both backends do). With a store that has
// them the alert routes read from it, so alerts survive a restart and every
// collector sharing a server lists the same ones; otherwise they read the
// live engine's memory (Config.Alerts). GetAlert returns an error wrapping
// storage.ErrNotFound for an unknown ID.
type AlertStore interface {
	ListAlerts(ctx context.Context, f storage.AlertFilter) (storage.AlertPage, error)
	GetAlert(ctx context.Context, id string) (alert.Alert, error)
}

// EvidenceStore reads the SIP messages behind an alert.
type EvidenceStore interface {
	MessagesInWindow(ctx context.Context, w storage.MessageWindow) ([]correlate.Message, bool, error)
}

// Bounds of an alert's evidence PCAP: a storm or a flood has far more
// messages than an engineer opens, and the file is built in memory.
const (
	EvidenceMaxMessages = 10000
	EvidenceMaxBytes    = 50 << 20
	// EvidenceLead is how long before an alert's start its evidence
	// begins: an alert starts once a rule's window has filled with the
	// traffic that raised it, and the rate rules' default window is a
	// minute.
	EvidenceLead = time.Minute
	// maxAlertIDSize bounds the :id path segment (the engine's IDs are
	// 16 hex digits).
	maxAlertIDSize = 256
)

// alertListView is GET /api/v1/alerts: newest first.
type alertListView struct {
	Alerts []alert.Alert `json:"alerts"`
	Total  int           `json:"total"`
	Firing int           `json:"firing"`
}

var alertFilterParams = []param{
	{name: "rule", in: "query", typ: "string", desc: "only this rule", enum: alert.Rules(), bad: "storm"},
	{name: "state", in: "query", typ: "string", desc: "only firing or only resolved alerts", enum: []string{"firing", "resolved"}, bad: "pending"},
	{name: "limit", in: "query", typ: "integer", min: 1, max: 1000, desc: "at most this many (default 100)", bad: "0"},
}

var alertIDParam = param{name: "id", in: "path", typ: "string", desc: "the alert's id"}

func (s *Server) alertStore() (AlertStore, bool) {
	st, ok := s.store.(AlertStore)
	return st, ok
}

// memoryAlerts reads the live engine's alerts; none when serve runs
// without live traffic.
func (s *Server) memoryAlerts() []alert.Alert {
	if s.cfg.Alerts == nil {
		return nil
	}
	return s.cfg.Alerts()
}

func (s *Server) listAlerts(c *gin.Context) {
	q := c.Request.URL.Query()
	rule, state := q.Get("rule"), q.Get("state")
	if rule != "" && !slices.Contains(alert.Rules(), rule) {
		s.badRequest(c, badParam("rule", "unknown rule %q", rule))
		return
	}
	if state != "" && state != alert.StateFiring && state != alert.StateResolved {
		s.badRequest(c, badParam("state", "want firing or resolved"))
		return
	}
	limit := 100
	if q.Has("limit") {
		n, err := intParam(q, "limit", 1, 1000)
		if err != nil {
			s.badRequest(c, err)
			return
		}
		limit = n
	}
	if st, ok := s.alertStore(); ok {
		p, err := st.ListAlerts(c.Request.Context(), storage.AlertFilter{Rule: rule, State: state, Limit: limit})
		if err != nil {
			s.storeFailed(c, "list alerts", err)
			return
		}
		c.JSON(http.StatusOK, alertListView{Alerts: p.Alerts, Total: p.Total, Firing: p.Firing})
		return
	}
	all := s.memoryAlerts()
	out := alertListView{Alerts: []alert.Alert{}}
	for i := len(all) - 1; i >= 0; i-- { // the engine lists them oldest first
		a := all[i]
		firing := a.End.IsZero()
		if firing {
			out.Firing++
		}
		if (rule != "" && a.Rule != rule) || (state == alert.StateFiring && !firing) || (state == alert.StateResolved && firing) {
			continue
		}
		out.Total++
		if len(out.Alerts) < limit {
			out.Alerts = append(out.Alerts, a)
		}
	}
	c.JSON(http.StatusOK, out)
}

// loadAlert finds the alert named by :id, answering the error itself when
// there is none.
func (s *Server) loadAlert(c *gin.Context) (alert.Alert, bool) {
	id := c.Param("id")
	if id == "" || len(id) > maxAlertIDSize {
		c.JSON(http.StatusNotFound, gin.H{"error": "alert not found", "id": id})
		return alert.Alert{}, false
	}
	if st, ok := s.alertStore(); ok {
		a, err := st.GetAlert(c.Request.Context(), id)
		if errors.Is(err, storage.ErrNotFound) {
			c.JSON(http.StatusNotFound, gin.H{"error": "alert not found", "id": id})
			return alert.Alert{}, false
		}
		if err != nil {
			s.storeFailed(c, "get alert", err)
			return alert.Alert{}, false
		}
		return a, true
	}
	for _, a := range s.memoryAlerts() {
		if a.ID == id {
			return a, true
		}
	}
	c.JSON(http.StatusNotFound, gin.H{"error": "alert not found", "id": id})
	return alert.Alert{}, false
}

func (s *Server) getAlert(c *gin.Context) {
	if a, ok := s.loadAlert(c); ok {
		c.JSON(http.StatusOK, a)
	}
}

// offenderIPs is the IP addresses among a's top offenders.
func offenderIPs(a alert.Alert) []netip.Addr {
	var out []netip.Addr
	for _, o := range a.TopOffenders {
		if o.Kind != "ip" {
			continue
		}
		if ip, err := netip.ParseAddr(o.Value); err == nil && !slices.Contains(out, ip.Unmap()) &&
			len(out) < storage.MaxWindowIPs {
			out = append(out, ip.Unmap())
		}
	}
	return out
}

// errNoEvidence: the alert names nothing whose traffic could be exported.
var errNoEvidence = errors.New("api: alert names no address and no call")

// evidence is the SIP behind a: the messages from and to its offending
// IPs from EvidenceLead before its start until its end (now while it
// fires); for an alert that names no address (a global failure spike,
// low MOS, one-way audio), the messages of its sample calls. Both are
// bounded by EvidenceMaxMessages and EvidenceMaxBytes; cut reports a
// bound was reached.
func (s *Server) evidence(ctx context.Context, a alert.Alert) (msgs []correlate.Message, cut bool, err error) {
	if ips := offenderIPs(a); len(ips) > 0 {
		end := a.End
		if end.IsZero() {
			end = time.Now()
		}
		if end.Before(a.Start) {
			end = a.Start
		}
		return s.store.(EvidenceStore).MessagesInWindow(ctx, storage.MessageWindow{
			IPs: ips, From: a.Start.Add(-EvidenceLead), To: end,
			MaxMessages: EvidenceMaxMessages, MaxBytes: EvidenceMaxBytes,
		})
	}
	if len(a.SampleCallIDs) == 0 {
		return nil, false, errNoEvidence
	}
	size := 0
calls:
	for _, id := range a.SampleCallIDs {
		d, err := s.store.GetCall(ctx, id)
		if errors.Is(err, storage.ErrNotFound) {
			continue // a sample call not written (yet, or any more)
		}
		if err != nil {
			return nil, false, err
		}
		for _, m := range d.Messages {
			if len(msgs) == EvidenceMaxMessages || size+len(m.Raw) > EvidenceMaxBytes {
				cut = true
				break calls
			}
			size += len(m.Raw)
			msgs = append(msgs, m)
		}
	}
	// Capture order across the calls (each call's own order is kept).
	slices.SortStableFunc(msgs, func(x, y correlate.Message) int { return x.TS.Compare(y.TS) })
	return msgs, cut, nil
}

// alertPCAP is the SIP traffic of an alert's offending IPs from a little
// before it started until it ended (until now while it fires), bounded.
func (s *Server) alertPCAP(c *gin.Context) {
	a, ok := s.loadAlert(c)
	if !ok {
		return
	}
	if _, ok := s.store.(EvidenceStore); !ok {
		c.JSON(http.StatusNotImplemented, gin.H{"error": "this store keeps no SIP messages to export"})
		return
	}
	msgs, cut, err := s.evidence(c.Request.Context(), a)
	if errors.Is(err, errNoEvidence) {
		c.JSON(http.StatusNotFound, gin.H{"error": "the alert names no offending IP address and no sample call", "id": a.ID})
		return
	}
	if err != nil {
		s.storeFailed(c, "alert evidence", err)
		return
	}
	var buf bytes.Buffer
	if err := WritePCAP(&buf, msgs); err != nil {
		id := requestIDOf(c)
		s.log.Error("api alert pcap export failed", "alert", a.ID, "err", err, "request_id", id)
		c.JSON(http.StatusInternalServerError, gin.H{"error": "cannot export this alert's traffic as PCAP", "request_id": id})
		return
	}
	if cut {
		// The file is whole, but not all the traffic: say so to scripts.
		c.Header("X-Sipscope-Truncated", "true")
	}
	c.Header("X-Sipscope-Messages", strconv.Itoa(len(msgs)))
	c.Header("Content-Disposition", `attachment; filename="`+PCAPFilename("alert-"+a.Rule+"-"+a.ID)+`"`)
	c.Data(http.StatusOK, "application/vnd.tcpdump.pcap", buf.Bytes())
}
