package api

import (
	"net/http"
	"slices"

	"github.com/gin-gonic/gin"

	"github.com/sipscope/sipscope/alert"
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

// alerts reads the live engine's alerts; none when serve runs without live
// traffic.
func (s *Server) alerts() []alert.Alert {
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
	if state != "" && state != "firing" && state != "resolved" {
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
	all := s.alerts()
	out := alertListView{Alerts: []alert.Alert{}}
	for i := len(all) - 1; i >= 0; i-- { // the engine lists them oldest first
		a := all[i]
		firing := a.End.IsZero()
		if firing {
			out.Firing++
		}
		if (rule != "" && a.Rule != rule) || (state == "firing" && !firing) || (state == "resolved" && firing) {
			continue
		}
		out.Total++
		if len(out.Alerts) < limit {
			out.Alerts = append(out.Alerts, a)
		}
	}
	c.JSON(http.StatusOK, out)
}

func (s *Server) getAlert(c *gin.Context) {
	id := c.Param("id")
	for _, a := range s.alerts() {
		if a.ID == id {
			c.JSON(http.StatusOK, a)
			return
		}
	}
	c.JSON(http.StatusNotFound, gin.H{"error": "alert not found", "id": id})
}
