package alert

import (
	"encoding/json"
	"fmt"
	"net/netip"
	"strings"
	"testing"
	"time"
)

// attack is the incident window of a scenario.
const (
	quiet     = 10 * time.Minute // baseline before the incident
	incidentT = quiet
	total     = 35 * time.Minute // incident plus time to resolve
)

var attacker = netip.MustParseAddr("203.0.113.9")

func TestQuietBaselineRaisesNothing(t *testing.T) {
	tr := newTraffic()
	tr.baseline(0, total)
	eng, sink := run(t, tr, Config{}, total)
	for _, a := range eng.Alerts() {
		t.Errorf("baseline raised %s %s: %s", a.Rule, a.Key, a.Summary)
	}
	if len(sink.alerts) != 0 {
		t.Errorf("sink got %d alerts", len(sink.alerts))
	}
}

// scenario is one incident on top of the baseline and the alerts it must
// raise: rule and key, firing within the incident and resolved after.
type scenario struct {
	name   string
	cfg    Config
	play   func(tr *traffic)
	within time.Duration // the incident's length
	want   []string      // "rule key"
}

func scenarios() []scenario {
	return []scenario{
		{
			name: "a registration storm of 3000 phones within 10 s is a registration storm globally and at the registrar",
			play: func(tr *traffic) {
				for i := 0; i < 3000; i++ {
					ts := incidentT + time.Duration(i)*10*time.Second/3000
					tr.register(ts, phoneAddr(5+byte(i/4000), i%4000), fmt.Sprint(20000+i), fmt.Sprintf("storm-%d", i), 200, "Polycom VVX")
				}
			},
			within: 10 * time.Second,
			want:   []string{"registration_storm global", "registration_storm registrar 10.0.0.1"},
		},
		{
			name: "a friendly-scanner OPTIONS sweep over 500 extensions is a scanner",
			play: func(tr *traffic) {
				for i := 0; i < 500; i++ {
					tr.options(incidentT+time.Duration(i)*20*time.Millisecond, attacker, registrar, fmt.Sprint(100+i),
						fmt.Sprintf("scan-%d", i), "friendly-scanner", 404)
				}
			},
			within: 10 * time.Second,
			want:   []string{"scanner source 203.0.113.9"},
		},
		{
			name: "an OPTIONS sweep over 500 extensions without a scanner User-Agent is a scanner",
			play: func(tr *traffic) {
				for i := 0; i < 500; i++ {
					tr.options(incidentT+time.Duration(i)*20*time.Millisecond, attacker, registrar, fmt.Sprint(100+i),
						fmt.Sprintf("scan-%d", i), "Asterisk PBX", 404)
				}
			},
			within: 10 * time.Second,
			want:   []string{"scanner source 203.0.113.9"},
		},
		{
			name: "300 REGISTER attempts with wrong credentials on one AoR are a brute force by source and by AoR",
			play: func(tr *traffic) {
				for i := 0; i < 300; i++ {
					tr.register(incidentT+time.Duration(i)*100*time.Millisecond, attacker, "1001", fmt.Sprintf("brute-%d", i), 403, "")
				}
			},
			within: 30 * time.Second,
			// 300 of about 480 registrations in the window fail: the share
			// of failed registrations rises as well.
			want: []string{"auth_bruteforce source 203.0.113.9", "auth_bruteforce aor sip:1001@example.com", "registration_failures global"},
		},
		{
			name: "100 new INVITEs a second from one source for 20 s are an INVITE flood from that source",
			play: func(tr *traffic) {
				for i := 0; i < 2000; i++ {
					r := req{method: "INVITE", ruri: "sip:0049301111@" + domain, from: "sip:x@" + domain, to: "sip:0049301111@" + domain,
						callID: fmt.Sprintf("flood-%d", i), cseq: 1, via: ap(attacker)}
					ts := incidentT + time.Duration(i)*10*time.Millisecond
					tr.put(ts, ap(attacker), ap(registrar), r.text())
					tr.put(ts+2*time.Millisecond, ap(registrar), ap(attacker), r.response(403, "Forbidden", "x", ""))
				}
			},
			within: 20 * time.Second,
			want:   []string{"invite_flood source 203.0.113.9"},
		},
		{
			name: "a surge of calls the trunk fails with 503 (4 of 5 for 5 minutes) is a failure spike globally and at the trunk",
			play: func(tr *traffic) {
				for i := 0; i < 600; i++ {
					ts := incidentT + time.Duration(i)*500*time.Millisecond
					code := 200
					if i%5 < 4 {
						code = 503
					}
					id := fmt.Sprintf("fail-%d", i)
					tr.call(ts+500*time.Millisecond, phoneAddr(1, i%200), fmt.Sprint(1000+i%200), "00441234", id, time.Second, code, 10*time.Second)
					tr.mos[id] = 4.3
				}
			},
			within: 5 * time.Minute,
			want:   []string{"failure_spike global", "failure_spike destination 10.0.2.1"},
		},
		{
			name: "with prefix_digits 4, failures to one country are a failure spike of that prefix too",
			cfg:  Config{PrefixDigits: 4},
			play: func(tr *traffic) {
				for i := 0; i < 600; i++ {
					code := 200
					if i%5 < 4 {
						code = 503
					}
					id := fmt.Sprintf("fail-%d", i)
					tr.call(incidentT+time.Duration(i)*500*time.Millisecond+500*time.Millisecond, phoneAddr(1, i%200), fmt.Sprint(1000+i%200), "00441234", id, time.Second, code, 10*time.Second)
					tr.mos[id] = 4.3
				}
			},
			within: 5 * time.Minute,
			want:   []string{"failure_spike global", "failure_spike destination 10.0.2.1", "failure_spike prefix 0044"},
		},
		{
			name: "half the calls scoring MOS 2.4 for 5 minutes is low MOS globally and at the trunk",
			play: func(tr *traffic) {
				for i := 0; i < 150; i++ {
					id := fmt.Sprintf("mos-%d", i)
					tr.call(incidentT+time.Duration(i)*2*time.Second+time.Second, phoneAddr(1, i%200), fmt.Sprint(1000+i%200), "00331234", id, time.Second, 200, 15*time.Second)
					tr.mos[id] = 2.4
				}
			},
			within: 5 * time.Minute,
			want:   []string{"low_mos global", "low_mos destination 10.0.2.1"},
		},
		{
			name: "answered calls with one-way audio are one_way_audio",
			play: func(tr *traffic) {
				for i := 0; i < 60; i++ {
					id := fmt.Sprintf("oneway-%d", i)
					tr.call(incidentT+time.Duration(i)*3*time.Second+time.Second, phoneAddr(1, i%200), fmt.Sprint(1000+i%200), "00391234", id, time.Second, 200, 15*time.Second)
					tr.mos[id] = 4.1
					tr.findings[id] = []string{FindingOneWayAudio}
				}
			},
			within: 3 * time.Minute,
			want:   []string{"one_way_audio global", "one_way_audio destination 10.0.2.1"},
		},
		{
			name: "answered calls without media are no_media",
			play: func(tr *traffic) {
				for i := 0; i < 60; i++ {
					id := fmt.Sprintf("nomedia-%d", i)
					tr.call(incidentT+time.Duration(i)*3*time.Second+time.Second, phoneAddr(1, i%200), fmt.Sprint(1000+i%200), "00391234", id, time.Second, 200, 15*time.Second)
					tr.findings[id] = []string{FindingNoMedia}
				}
			},
			within: 3 * time.Minute,
			want:   []string{"no_media global", "no_media destination 10.0.2.1"},
		},
		{
			name: "half the calls ringing after 9 s for 5 minutes is a long PDD globally and at the trunk",
			play: func(tr *traffic) {
				for i := 0; i < 150; i++ {
					id := fmt.Sprintf("pdd-%d", i)
					tr.call(incidentT+time.Duration(i)*2*time.Second+time.Second, phoneAddr(1, i%200), fmt.Sprint(1000+i%200), "00341234", id, 9*time.Second, 200, 15*time.Second)
					tr.mos[id] = 4.2
				}
			},
			within: 5 * time.Minute,
			want:   []string{"long_pdd global", "long_pdd destination 10.0.2.1"},
		},
	}
}

func TestEachIncidentFiresInItsWindowAndResolvesAfter(t *testing.T) {
	for _, sc := range scenarios() {
		t.Run(sc.name, func(t *testing.T) {
			tr := newTraffic()
			tr.baseline(0, total)
			sc.play(tr)
			eng, sink := run(t, tr, sc.cfg, total)
			got := map[string]Alert{}
			for _, a := range eng.Alerts() {
				got[a.Rule+" "+a.Key] = a
			}
			start, end := t0.Add(incidentT), t0.Add(incidentT+sc.within)
			for _, w := range sc.want {
				a, ok := got[w]
				if !ok {
					t.Errorf("no %q alert; got %v", w, keys(got))
					continue
				}
				delete(got, w)
				// Pending from when the condition holds, so the start is
				// inside the incident (call rules count finished calls, a
				// few seconds after they start).
				if a.Start.Before(start) || a.Start.After(end.Add(time.Minute)) {
					t.Errorf("%s started at %v, incident %v..%v", w, a.Start, start, end)
				}
				if a.State != StateResolved || a.End.IsZero() {
					t.Errorf("%s is %s at the end (end %v); want resolved", w, a.State, a.End)
				} else if a.End.Before(end) || a.End.After(end.Add(12*time.Minute)) {
					t.Errorf("%s ended at %v, incident ended %v", w, a.End, end)
				}
				if a.Summary == "" || !strings.HasSuffix(a.Summary, ".") {
					t.Errorf("%s summary %q", w, a.Summary)
				}
				if len(a.TopOffenders) == 0 {
					t.Errorf("%s has no top offenders", w)
				}
				if len(a.SampleCallIDs) == 0 || len(a.SampleCallIDs) > 10 {
					t.Errorf("%s has %d sample Call-IDs", w, len(a.SampleCallIDs))
				}
				if len(a.Thresholds) == 0 || len(a.Figures) == 0 {
					t.Errorf("%s lacks thresholds or figures", w)
				}
				b, err := json.Marshal(a)
				if err != nil {
					t.Fatal(err)
				}
				t.Logf("%s", b)
			}
			for k, a := range got {
				t.Errorf("unexpected alert %s: %s", k, a.Summary)
			}
			// The sink saw each alert fire and resolve, in that order.
			seen := map[string]string{}
			for _, a := range sink.alerts {
				k := a.Rule + " " + a.Key
				switch {
				case a.State == StateFiring && seen[k] == "":
				case a.State == StateResolved && seen[k] == StateFiring:
				default:
					t.Errorf("sink got %s %s after %q", k, a.State, seen[k])
				}
				seen[k] = a.State
			}
		})
	}
}

func keys(m map[string]Alert) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}
