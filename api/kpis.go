package api

import (
	"context"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/sipscope/sipscope/storage"
)

// KPIStore computes KPIs per time bucket (both backends do).
type KPIStore interface {
	KPIs(ctx context.Context, f storage.KPIFilter) ([]storage.KPIBucket, error)
}

// KPIView is one bucket of GET /api/v1/kpis. Ratios are 0 to 1.
type KPIView struct {
	Start                 string  `json:"start"`
	Group                 string  `json:"group,omitempty"`
	Attempts              int     `json:"attempts"`
	Answered              int     `json:"answered"`
	ASR                   float64 `json:"asr"`
	NER                   float64 `json:"ner"`
	SER                   float64 `json:"ser"`
	ACDSeconds            float64 `json:"acd_s"`
	PDDAvgMs              float64 `json:"pdd_avg_ms"`
	PDDP95Ms              float64 `json:"pdd_p95_ms"`
	MOSGood               int     `json:"mos_good"`
	MOSFair               int     `json:"mos_fair"`
	MOSPoor               int     `json:"mos_poor"`
	ConcurrentAvg         float64 `json:"concurrent_avg"`
	Registrations         int     `json:"registrations"`
	RegistrationSucceeded int     `json:"registrations_succeeded"`
	RegistrationSuccess   float64 `json:"registration_success"`
	AlertsFired           int     `json:"alerts_fired"`
}

// KPIListView is GET /api/v1/kpis.
type KPIListView struct {
	From    string    `json:"from"`
	To      string    `json:"to"`
	Step    string    `json:"step"`
	GroupBy string    `json:"group_by,omitempty"`
	Buckets []KPIView `json:"buckets"`
}

var kpiParams = []param{
	{name: "from", in: "query", typ: "string", format: "date-time", desc: "first bucket's start, RFC 3339 (default: to minus 24 h)", bad: "yesterday"},
	{name: "to", in: "query", typ: "string", format: "date-time", desc: "end of the last bucket, RFC 3339 (default: now)", bad: "2024-13-01T00:00:00Z"},
	{name: "step", in: "query", typ: "string", desc: "bucket length, a Go duration such as 5m or 1h (at least 1m, at most 2000 buckets; default 1h)", bad: "1s"},
	{name: "group_by", in: "query", typ: "string", desc: "split each bucket by this", enum: []string{"src_ip", "dst_ip", "user_agent", "prefix"}, bad: "node"},
	{name: "prefix_len", in: "query", typ: "integer", min: 1, max: 32, desc: "digits of the called number grouped by, with group_by=prefix (default 4)", bad: "0"},
}

func (s *Server) kpis(c *gin.Context) {
	q := c.Request.URL.Query()
	f := storage.KPIFilter{To: time.Now().UTC().Truncate(time.Minute), Step: time.Hour, GroupBy: q.Get("group_by"), PrefixLen: 4}
	var err error
	if q.Has("to") {
		if f.To, err = timeParam(q, "to"); err != nil {
			s.badRequest(c, err)
			return
		}
	}
	f.From = f.To.Add(-24 * time.Hour)
	if q.Has("from") {
		if f.From, err = timeParam(q, "from"); err != nil {
			s.badRequest(c, err)
			return
		}
	}
	if v := q.Get("step"); v != "" {
		if f.Step, err = time.ParseDuration(v); err != nil || f.Step < storage.MinKPIStep {
			s.badRequest(c, badParam("step", "want a duration of at least %v", storage.MinKPIStep))
			return
		}
	}
	switch f.GroupBy {
	case "", "src_ip", "dst_ip", "user_agent", "prefix":
	default:
		s.badRequest(c, badParam("group_by", "want src_ip, dst_ip, user_agent or prefix"))
		return
	}
	if q.Has("prefix_len") {
		if f.PrefixLen, err = intParam(q, "prefix_len", 1, 32); err != nil {
			s.badRequest(c, err)
			return
		}
	}
	if !f.From.Before(f.To) {
		s.badRequest(c, badParam("from", "must be before to"))
		return
	}
	if f.To.Sub(f.From)/f.Step > storage.MaxKPIBuckets {
		s.badRequest(c, badParam("step", "gives more than %d buckets over from..to", storage.MaxKPIBuckets))
		return
	}
	st, ok := s.store.(KPIStore)
	if !ok {
		c.JSON(http.StatusNotImplemented, gin.H{"error": "this store computes no KPIs"})
		return
	}
	buckets, err := st.KPIs(c.Request.Context(), f)
	if err != nil {
		s.storeFailed(c, "kpis", err)
		return
	}
	out := KPIListView{From: FormatTime(f.From), To: FormatTime(f.To), Step: f.Step.String(), GroupBy: f.GroupBy, Buckets: []KPIView{}}
	fired, err := s.alertsPerBucket(c.Request.Context(), f)
	if err != nil {
		s.storeFailed(c, "kpi alerts", err)
		return
	}
	for _, b := range buckets {
		out.Buckets = append(out.Buckets, KPIView{
			Start: FormatTime(b.Start), Group: b.Group, Attempts: b.Attempts, Answered: b.Answered,
			ASR: b.ASR, NER: b.NER, SER: b.SER, ACDSeconds: b.ACD, PDDAvgMs: b.PDDAvgMs, PDDP95Ms: b.PDDP95Ms,
			MOSGood: b.MOSGood, MOSFair: b.MOSFair, MOSPoor: b.MOSPoor, ConcurrentAvg: b.ConcurrentAvg,
			Registrations: b.Registrations, RegistrationSucceeded: b.RegistrationSucceeded, RegistrationSuccess: b.RegistrationSuccess,
			AlertsFired: fired[b.Start.Unix()],
		})
	}
	out.Buckets = addAlertOnlyBuckets(out.Buckets, buckets, fired, f.GroupBy)
	c.JSON(http.StatusOK, out)
}

// alertsPerBucket counts the alerts that started in each bucket (by the
// bucket's start, Unix seconds): the stored alerts when the store keeps
// them (the newest storage.MaxLimit of the range), else the live engine's.
func (s *Server) alertsPerBucket(ctx context.Context, f storage.KPIFilter) (map[int64]int, error) {
	all := s.memoryAlerts()
	if st, ok := s.alertStore(); ok {
		p, err := st.ListAlerts(ctx, storage.AlertFilter{From: f.From, To: f.To, Limit: storage.MaxLimit})
		if err != nil {
			return nil, err
		}
		all = p.Alerts
	}
	out := map[int64]int{}
	for _, a := range all {
		if a.Start.Before(f.From) || !a.Start.Before(f.To) {
			continue
		}
		out[f.From.Add(a.Start.Sub(f.From)/f.Step*f.Step).Unix()]++
	}
	return out, nil
}

// addAlertOnlyBuckets gives an alert that started in a bucket without calls
// or registrations a bucket of its own, so the per-step figures add up to
// the whole range's. Alerts carry no group, so grouped answers get none.
func addAlertOnlyBuckets(out []KPIView, buckets []storage.KPIBucket, fired map[int64]int, groupBy string) []KPIView {
	if groupBy != "" || len(fired) == 0 {
		return out
	}
	have := make(map[int64]bool, len(buckets))
	for _, b := range buckets {
		have[b.Start.Unix()] = true
	}
	added := false
	for start, n := range fired {
		if !have[start] {
			out = append(out, KPIView{Start: FormatTime(time.Unix(start, 0).UTC()), AlertsFired: n})
			added = true
		}
	}
	if added {
		// FormatTime's fixed-width UTC form sorts as time does.
		slices.SortFunc(out, func(a, b KPIView) int { return strings.Compare(a.Start, b.Start) })
	}
	return out
}
