package alert

import (
	"encoding/json"
	"fmt"
	"hash/fnv"
	"time"
)

// Alert states. An alert is pending from the moment its condition first
// holds until the next evaluation confirms it (a pending alert that does
// not confirm is forgotten); it is firing until its figures stay below the
// clear level for resolve_after, then resolved.
const (
	StatePending  = "pending"
	StateFiring   = "firing"
	StateResolved = "resolved"
)

// Offender is one of the heaviest values behind an alert.
type Offender struct {
	Kind  string `json:"kind"` // "ip", "aor" or "user_agent"
	Value string `json:"value"`
	Count int    `json:"count"`
}

// Alert is one incident: a rule and a key (what it is about, e.g.
// "source 203.0.113.7" or "global"), deduplicated while it lasts.
type Alert struct {
	ID       string    `json:"id"`
	Rule     string    `json:"rule"`
	Severity string    `json:"severity"`
	Key      string    `json:"key"`
	State    string    `json:"state"`
	Start    time.Time `json:"start"`
	// End is when the condition cleared; zero while firing (null in JSON).
	End     time.Time `json:"end"`
	Summary string    `json:"summary"`
	// Figures are the latest measured values and their peaks ("peak_*").
	Figures map[string]float64 `json:"figures"`
	// Thresholds are the rule's settings and derived trigger levels at the
	// time the alert started.
	Thresholds    map[string]float64 `json:"thresholds"`
	TopOffenders  []Offender         `json:"top_offenders"`
	SampleCallIDs []string           `json:"sample_call_ids"`
}

// alertJSON is Alert with the times formatted as analyze --json does
// (RFC 3339, µs) and a null end while firing.
type alertJSON struct {
	ID            string             `json:"id"`
	Rule          string             `json:"rule"`
	Severity      string             `json:"severity"`
	Key           string             `json:"key"`
	State         string             `json:"state"`
	Start         string             `json:"start"`
	End           *string            `json:"end"`
	Summary       string             `json:"summary"`
	Figures       map[string]float64 `json:"figures"`
	Thresholds    map[string]float64 `json:"thresholds"`
	TopOffenders  []Offender         `json:"top_offenders"`
	SampleCallIDs []string           `json:"sample_call_ids"`
}

const timeLayout = "2006-01-02T15:04:05.000000Z07:00"

// MarshalJSON writes the analyze --json shape.
func (a Alert) MarshalJSON() ([]byte, error) {
	j := alertJSON{ID: a.ID, Rule: a.Rule, Severity: a.Severity, Key: a.Key, State: a.State,
		Start: a.Start.UTC().Format(timeLayout), Summary: a.Summary, Figures: a.Figures,
		Thresholds: a.Thresholds, TopOffenders: a.TopOffenders, SampleCallIDs: a.SampleCallIDs}
	if !a.End.IsZero() {
		s := a.End.UTC().Format(timeLayout)
		j.End = &s
	}
	if j.TopOffenders == nil {
		j.TopOffenders = []Offender{}
	}
	if j.SampleCallIDs == nil {
		j.SampleCallIDs = []string{}
	}
	return json.Marshal(j)
}

// UnmarshalJSON reads what MarshalJSON wrote.
func (a *Alert) UnmarshalJSON(b []byte) error {
	var j alertJSON
	if err := json.Unmarshal(b, &j); err != nil {
		return err
	}
	start, err := time.Parse(time.RFC3339Nano, j.Start)
	if err != nil {
		return fmt.Errorf("alert: start: %w", err)
	}
	*a = Alert{ID: j.ID, Rule: j.Rule, Severity: j.Severity, Key: j.Key, State: j.State, Start: start,
		Summary: j.Summary, Figures: j.Figures, Thresholds: j.Thresholds, TopOffenders: j.TopOffenders,
		SampleCallIDs: j.SampleCallIDs}
	if j.End != nil {
		if a.End, err = time.Parse(time.RFC3339Nano, *j.End); err != nil {
			return fmt.Errorf("alert: end: %w", err)
		}
	}
	return nil
}

// alertID is stable for a rule, key and start, so a file analysed twice
// and the same traffic seen live give the same IDs.
func alertID(rule, key string, start int64) string {
	h := fnv.New64a()
	fmt.Fprintf(h, "%s|%s|%d", rule, key, start)
	return fmt.Sprintf("%016x", h.Sum64())
}

// String is the alert on one line, as analyze's text output lists it.
func (a Alert) String() string {
	end := "…"
	if !a.End.IsZero() {
		end = a.End.UTC().Format("15:04:05")
	}
	return fmt.Sprintf("%s–%s %-8s %-21s %s: %s", a.Start.UTC().Format("2006-01-02 15:04:05"), end, a.Severity, a.Rule, a.Key, a.Summary)
}
