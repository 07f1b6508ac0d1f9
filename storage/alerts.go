package storage

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"net/netip"
	"slices"
	"strings"
	"time"

	"github.com/sipscope/sipscope/alert"
	"github.com/sipscope/sipscope/correlate"
)

// Alerts live in the store so that they survive a restart and every
// collector sharing a server lists the same ones. Each transition of an
// alert (firing, resolved) is a row; the table is ReplacingMergeTree keyed
// by the alert's ID with a version, and partitioned by the day the alert
// started, so that all rows of one alert share a partition (where
// ReplacingMergeTree collapses them) and retention drops old alerts with
// the day's traffic they were about. Figures, thresholds and offenders are
// parallel arrays rather than JSON text: SQL on 18.16 can query them
// (has(offender_values, '203.0.113.7')) and neither backend needs a Map.
//
// Reads do not use FINAL with a WHERE on the state: a filter applied
// before the versions collapse could pick a stale firing row of an alert
// that has resolved. They group by ID and take each column's value at the
// highest version (argMax), which is exact on both server lines whether or
// not the parts have merged.

// TableAlerts is the table of alert transitions.
const TableAlerts = "alerts"

// Bounds of one stored alert; an engine never comes near them, but the
// store must not take whatever a caller hands it.
const (
	maxAlertID      = 256
	maxAlertEntries = 256 // figures, thresholds, offenders, samples each
)

func alertsTable() table {
	return table{
		name: TableAlerts,
		columns: []Column{
			{Name: "date", Type: TypeDate},
			{Name: "start_time", Type: TypeDateTime},
			{Name: "start_us", Type: TypeUInt64},
			{Name: "end_us", Type: TypeUInt64}, // 0 while firing
			{Name: "id", Type: TypeString},
			{Name: "rule", Type: TypeString, LowCardinality: true},
			{Name: "severity", Type: TypeString, LowCardinality: true},
			{Name: "key", Type: TypeString},
			{Name: "state", Type: TypeString, LowCardinality: true},
			{Name: "summary", Type: TypeString},
			{Name: "figure_names", Type: TypeArrayString},
			{Name: "figure_values", Type: TypeArrayFloat64},
			{Name: "threshold_names", Type: TypeArrayString},
			{Name: "threshold_values", Type: TypeArrayFloat64},
			{Name: "offender_kinds", Type: TypeArrayString},
			{Name: "offender_values", Type: TypeArrayString},
			{Name: "offender_counts", Type: TypeArrayUInt64},
			{Name: "sample_call_ids", Type: TypeArrayString},
			{Name: "version", Type: TypeUInt64},
		},
		orderBy:  "id",
		version:  "version",
		shardKey: "cityHash64(id)",
		since:    revisionAlerts,
	}
}

// AlertFilter selects alerts for listing. Zero values mean "any".
type AlertFilter struct {
	Rule  string
	State string    // alert.StateFiring or alert.StateResolved
	From  time.Time // alert start within [From, To)
	To    time.Time
	Limit int // default DefaultLimit, max MaxLimit
}

// AlertPage is one page of alerts, newest first, with how many matched the
// filter and how many of all alerts (in the time range) are firing.
type AlertPage struct {
	Alerts []alert.Alert
	Total  int
	Firing int
}

func checkAlert(a alert.Alert) error {
	switch {
	case a.ID == "" || len(a.ID) > maxAlertID:
		return fmt.Errorf("%w: alert id must be 1 to %d bytes", ErrInvalidRecord, maxAlertID)
	case a.Start.IsZero():
		return fmt.Errorf("%w: alert %s has no start", ErrInvalidRecord, a.ID)
	case len(a.Figures) > maxAlertEntries || len(a.Thresholds) > maxAlertEntries ||
		len(a.TopOffenders) > maxAlertEntries || len(a.SampleCallIDs) > maxAlertEntries:
		return fmt.Errorf("%w: alert %s has more than %d figures, thresholds, offenders or samples", ErrInvalidRecord, a.ID, maxAlertEntries)
	}
	return nil
}

// sortedFigures is m as parallel arrays, by name (a stable row).
func sortedFigures(m map[string]float64) ([]string, []float64) {
	names := slices.Sorted(maps.Keys(m))
	values := make([]float64, len(names))
	for i, n := range names {
		values[i] = m[n]
	}
	if names == nil {
		names = []string{}
	}
	return names, values
}

func alertRow(a alert.Alert, version uint64) []any {
	fn, fv := sortedFigures(a.Figures)
	tn, tv := sortedFigures(a.Thresholds)
	kinds := make([]string, len(a.TopOffenders))
	values := make([]string, len(a.TopOffenders))
	counts := make([]uint64, len(a.TopOffenders))
	for i, o := range a.TopOffenders {
		kinds[i], values[i], counts[i] = o.Kind, o.Value, uint64(max(o.Count, 0))
	}
	return []any{dateOf(a.Start), secondsOf(a.Start), microsOf(a.Start), microsOf(a.End),
		a.ID, a.Rule, a.Severity, a.Key, a.State, a.Summary,
		fn, fv, tn, tv, kinds, values, counts, nonNil(a.SampleCallIDs), version}
}

// WriteAlert stores one transition of a; a later write of the same ID
// (its resolution) replaces the earlier one.
func WriteAlert(ctx context.Context, ins Inserter, db string, a alert.Alert, clock *VersionClock) error {
	if err := checkAlert(a); err != nil {
		return err
	}
	return insert(ctx, ins, db, alertsTable(), [][]any{alertRow(a, clock.Next())})
}

// latestAlerts is the current row of every alert as a subquery: each
// column at the alert's highest version. The aliases differ from the
// column names, which 18.16 requires of an aggregate's alias.
func latestAlerts(db, where string) string {
	return "SELECT id AS a_id, argMax(start_us, version) AS a_start, argMax(end_us, version) AS a_end, " +
		"argMax(rule, version) AS a_rule, argMax(severity, version) AS a_severity, argMax(key, version) AS a_key, " +
		"argMax(state, version) AS a_state, argMax(summary, version) AS a_summary, " +
		"argMax(figure_names, version) AS a_fn, argMax(figure_values, version) AS a_fv, " +
		"argMax(threshold_names, version) AS a_tn, argMax(threshold_values, version) AS a_tv, " +
		"argMax(offender_kinds, version) AS a_ok, argMax(offender_values, version) AS a_ov, " +
		"argMax(offender_counts, version) AS a_oc, argMax(sample_call_ids, version) AS a_samples " +
		"FROM " + db + "." + TableAlerts + where + " GROUP BY id"
}

const alertSelect = "a_id, a_start, a_end, a_rule, a_severity, a_key, a_state, a_summary, " +
	"a_fn, a_fv, a_tn, a_tv, a_ok, a_ov, a_oc, a_samples"

type alertScan struct {
	id                         string
	startUS, endUS             uint64
	rule, severity, key, state string
	summary                    string
	fn                         []string
	fv                         []float64
	tn                         []string
	tv                         []float64
	kinds, values              []string
	counts                     []uint64
	samples                    []string
}

func (s *alertScan) dest() []any {
	return []any{&s.id, &s.startUS, &s.endUS, &s.rule, &s.severity, &s.key, &s.state, &s.summary,
		&s.fn, &s.fv, &s.tn, &s.tv, &s.kinds, &s.values, &s.counts, &s.samples}
}

func figuresOf(names []string, values []float64) (map[string]float64, error) {
	if len(names) != len(values) {
		return nil, fmt.Errorf("%w: %d figure names for %d values", ErrBadRow, len(names), len(values))
	}
	m := make(map[string]float64, len(names))
	for i, n := range names {
		m[n] = values[i]
	}
	return m, nil
}

func (s *alertScan) alert() (alert.Alert, error) {
	figs, err := figuresOf(s.fn, s.fv)
	if err != nil {
		return alert.Alert{}, err
	}
	ths, err := figuresOf(s.tn, s.tv)
	if err != nil {
		return alert.Alert{}, err
	}
	if len(s.kinds) != len(s.values) || len(s.kinds) != len(s.counts) {
		return alert.Alert{}, fmt.Errorf("%w: alert %s offender arrays differ in length", ErrBadRow, s.id)
	}
	offs := make([]alert.Offender, len(s.kinds))
	for i := range s.kinds {
		offs[i] = alert.Offender{Kind: s.kinds[i], Value: s.values[i], Count: int(min(s.counts[i], 1<<31-1))}
	}
	return alert.Alert{ID: s.id, Rule: s.rule, Severity: s.severity, Key: s.key, State: s.state,
		Start: timeOfMicros(s.startUS), End: timeOfMicros(s.endUS), Summary: s.summary,
		Figures: figs, Thresholds: ths, TopOffenders: offs, SampleCallIDs: slices.Clone(s.samples)}, nil
}

// ListAlerts returns the alerts f selects, newest first (ties by ID).
func ListAlerts(ctx context.Context, q Querier, db string, f AlertFilter) (AlertPage, error) {
	if f.Limit < 0 {
		return AlertPage{}, fmt.Errorf("%w: negative limit %d", ErrInvalidFilter, f.Limit)
	}
	if !f.From.IsZero() && !f.To.IsZero() && f.To.Before(f.From) {
		return AlertPage{}, fmt.Errorf("%w: time range ends (%s) before it starts (%s)", ErrInvalidFilter, f.To, f.From)
	}
	if f.State != "" && f.State != alert.StateFiring && f.State != alert.StateResolved {
		return AlertPage{}, fmt.Errorf("%w: alert state %q", ErrInvalidFilter, f.State)
	}
	limit := f.Limit
	if limit == 0 {
		limit = DefaultLimit
	}
	limit = min(limit, MaxLimit)
	// The time range selects by start, which every row of an alert shares,
	// so it may filter rows before they are grouped.
	var inner []string
	if !f.From.IsZero() {
		inner = append(inner, "start_us >= "+QuoteUint(microsOf(f.From)))
	}
	if !f.To.IsZero() {
		inner = append(inner, "start_us < "+QuoteUint(microsOf(f.To)))
	}
	where := ""
	if len(inner) > 0 {
		where = " WHERE " + strings.Join(inner, " AND ")
	}
	var outer []string
	if f.Rule != "" {
		outer = append(outer, "a_rule = "+QuoteString(f.Rule))
	}
	if f.State != "" {
		outer = append(outer, "a_state = "+QuoteString(f.State))
	}
	match := "1"
	if len(outer) > 0 {
		match = strings.Join(outer, " AND ")
	}
	sub := "(" + latestAlerts(db, where) + ")"
	var total, firing uint64
	err := q.Query(ctx, "SELECT countIf("+match+"), countIf(a_state = "+QuoteString(alert.StateFiring)+") FROM "+sub,
		[]any{&total, &firing}, func() error { return nil })
	if err != nil {
		return AlertPage{}, fmt.Errorf("storage: count alerts: %w", err)
	}
	page := AlertPage{Total: int(total), Firing: int(firing), Alerts: []alert.Alert{}}
	var s alertScan
	err = q.Query(ctx, "SELECT "+alertSelect+" FROM "+sub+" WHERE "+match+
		" ORDER BY a_start DESC, a_id LIMIT "+QuoteInt(int64(limit)), s.dest(), func() error {
		a, err := s.alert()
		page.Alerts = append(page.Alerts, a)
		return err
	})
	if err != nil {
		return AlertPage{}, fmt.Errorf("storage: list alerts: %w", err)
	}
	return page, nil
}

// GetAlert reads one alert; ErrNotFound when there is none.
func GetAlert(ctx context.Context, q Querier, db, id string) (alert.Alert, error) {
	if id == "" || len(id) > maxAlertID {
		return alert.Alert{}, fmt.Errorf("%w: alert %q", ErrNotFound, id)
	}
	var (
		s     alertScan
		out   alert.Alert
		found bool
	)
	err := q.Query(ctx, "SELECT "+alertSelect+" FROM ("+latestAlerts(db, " WHERE id = "+QuoteString(id))+")",
		s.dest(), func() error {
			a, err := s.alert()
			out, found = a, true
			return err
		})
	if err != nil {
		return alert.Alert{}, fmt.Errorf("storage: get alert: %w", err)
	}
	if !found {
		return alert.Alert{}, fmt.Errorf("%w: alert %q", ErrNotFound, id)
	}
	return out, nil
}

// MessageWindow selects the SIP messages sent from or to some addresses
// within a time range: the traffic behind an alert.
type MessageWindow struct {
	IPs      []netip.Addr
	From, To time.Time // ts within [From, To]
	// MaxMessages and MaxBytes (of raw SIP) bound the result; the messages
	// past either bound are left out and Truncated is set.
	MaxMessages int
	MaxBytes    int
}

// Bounds of MessageWindow.
const (
	MaxWindowIPs      = 64
	MaxWindowMessages = 100000
)

// errWindowFull stops reading once a bound is reached.
var errWindowFull = errors.New("storage: window full")

// MessagesInWindow returns the messages w selects in capture order, and
// whether bounds cut them short.
func MessagesInWindow(ctx context.Context, q Querier, db string, w MessageWindow) (msgs []correlate.Message, truncated bool, err error) {
	switch {
	case len(w.IPs) == 0 || len(w.IPs) > MaxWindowIPs:
		return nil, false, fmt.Errorf("%w: 1 to %d addresses, not %d", ErrInvalidFilter, MaxWindowIPs, len(w.IPs))
	case w.From.IsZero() || w.To.Before(w.From):
		return nil, false, fmt.Errorf("%w: time window %s..%s", ErrInvalidFilter, w.From, w.To)
	case w.MaxMessages < 1 || w.MaxMessages > MaxWindowMessages || w.MaxBytes < 1:
		return nil, false, fmt.Errorf("%w: bounds %d messages, %d bytes", ErrInvalidFilter, w.MaxMessages, w.MaxBytes)
	}
	ips := make([]string, 0, len(w.IPs))
	for _, a := range w.IPs {
		if !a.IsValid() {
			return nil, false, fmt.Errorf("%w: invalid address", ErrInvalidFilter)
		}
		ips = append(ips, QuoteString(a.String()))
	}
	set := "(" + strings.Join(ips, ", ") + ")"
	from, to := microsOf(w.From), microsOf(w.To)
	// date bounds prune the partitions; ts_us is exact. No FINAL: it
	// merges every row of the day's partitions before filtering (0.47 s
	// against 0.08-0.20 s over a day of a million messages, load ~10,
	// BenchmarkMessagesInWindow); the copies a re-import left are
	// dropped here by the table's identity (call_id, ts_us, msg_hash),
	// and LIMIT leaves room for one copy of each.
	query := "SELECT " + messageSelect + ", msg_hash FROM " + db + "." + TableMessages +
		" WHERE date >= " + QuoteString(dateOf(w.From).Format(time.DateOnly)) +
		" AND date <= " + QuoteString(dateOf(w.To).Format(time.DateOnly)) +
		" AND ts_us >= " + QuoteUint(from) + " AND ts_us <= " + QuoteUint(to) +
		" AND (src_ip IN " + set + " OR dst_ip IN " + set + ")" +
		" ORDER BY ts_us, seq LIMIT " + QuoteInt(2*int64(w.MaxMessages)+1)
	type identity struct {
		callID     string
		tsUS, hash uint64
	}
	var (
		ms    messageScan
		hash  uint64
		bytes int
		seen  = map[identity]bool{}
	)
	err = q.Query(ctx, query, append(ms.dest(), &hash), func() error {
		id := identity{ms.callID, ms.tsUS, hash}
		if seen[id] {
			return nil
		}
		if len(msgs) == w.MaxMessages || bytes+len(ms.raw) > w.MaxBytes {
			truncated = true
			return errWindowFull
		}
		seen[id] = true
		m, err := ms.message()
		if err != nil {
			return err
		}
		bytes += len(m.Raw)
		msgs = append(msgs, m)
		return nil
	})
	if err != nil && !errors.Is(err, errWindowFull) {
		return nil, false, fmt.Errorf("storage: messages in window: %w", err)
	}
	return msgs, truncated, nil
}
