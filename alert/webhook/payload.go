package webhook

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/sipscope/sipscope/alert"
)

// body encodes a for a receiver of format f.
func body(f string, a alert.Alert) ([]byte, error) {
	switch f {
	case FormatSlack:
		return json.Marshal(struct {
			Text string `json:"text"`
		}{slackText(a)})
	case FormatAlertmanager:
		return json.Marshal([]amAlert{toAlertmanager(a)})
	default:
		return json.Marshal(a)
	}
}

func slackText(a alert.Alert) string {
	var b strings.Builder
	fmt.Fprintf(&b, "[%s] %s %s (%s): %s", strings.ToUpper(a.State), a.Rule, a.Key, a.Severity, a.Summary)
	if len(a.SampleCallIDs) > 0 {
		fmt.Fprintf(&b, "\nCall-IDs: %s", strings.Join(a.SampleCallIDs, ", "))
	}
	fmt.Fprintf(&b, "\nalert %s", a.ID)
	return b.String()
}

// amAlert is one element of Alertmanager's POST /api/v2/alerts body.
type amAlert struct {
	Labels       map[string]string `json:"labels"`
	Annotations  map[string]string `json:"annotations"`
	StartsAt     string            `json:"startsAt"`
	EndsAt       string            `json:"endsAt,omitempty"`
	GeneratorURL string            `json:"generatorURL,omitempty"`
}

func toAlertmanager(a alert.Alert) amAlert {
	am := amAlert{
		Labels: map[string]string{
			"alertname": a.Rule, "rule": a.Rule, "severity": a.Severity, "key": a.Key, "source": "sipscope",
		},
		Annotations: map[string]string{"summary": a.Summary, "alert_id": a.ID},
		StartsAt:    a.Start.UTC().Format(time.RFC3339Nano),
	}
	if len(a.SampleCallIDs) > 0 {
		am.Annotations["sample_call_ids"] = strings.Join(a.SampleCallIDs, ",")
	}
	// A resolved alert carries its end; a firing one none, so Alertmanager
	// keeps it until resolve_timeout unless it is sent again.
	if !a.End.IsZero() {
		am.EndsAt = a.End.UTC().Format(time.RFC3339Nano)
	}
	return am
}
