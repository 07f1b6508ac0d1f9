package api_test

import (
	"context"
	"net/http/httptest"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/sipscope/sipscope/alert"
	"github.com/sipscope/sipscope/api"
)

// fixtureAlerts are two alerts about the fixture calls' addresses: a
// resolved scanner alert naming the answered call's caller (IPv4, UDP) and
// a firing brute force naming the failed call's caller (IPv6, TCP), plus a
// global one with no address to export.
func fixtureAlerts() (scanner, brute, global alert.Alert) {
	scanner = alert.Alert{ID: "00000000000000a1", Rule: "scanner", Severity: "warning", Key: "source 192.0.2.10",
		State: alert.StateFiring, Start: baseTime.Add(5 * time.Second), Summary: "192.0.2.10 swept users",
		TopOffenders: []alert.Offender{{Kind: "ip", Value: "192.0.2.10", Count: 7}, {Kind: "user_agent", Value: "friendly-scanner", Count: 7}},
		Figures:      map[string]float64{"distinct_users": 120}, Thresholds: map[string]float64{"min_distinct_users": 100}}
	brute = alert.Alert{ID: "00000000000000b2", Rule: "auth_bruteforce", Severity: "critical", Key: "source 2001:db8::10",
		State: alert.StateFiring, Start: baseTime.Add(time.Hour + time.Second), Summary: "2001:db8::10 guessed passwords",
		TopOffenders: []alert.Offender{{Kind: "ip", Value: "2001:db8::10", Count: 4}, {Kind: "aor", Value: "sip:dave@example.com", Count: 4}}}
	global = alert.Alert{ID: "00000000000000c3", Rule: "low_mos", Severity: "warning", Key: "global",
		State: alert.StateFiring, Start: baseTime.Add(2 * time.Hour), Summary: "calls sound bad"}
	return scanner, brute, global
}

// sampled is a global alert naming no address but two sample calls (and
// one that was never stored).
func sampled() alert.Alert {
	return alert.Alert{ID: "00000000000000d4", Rule: "one_way_audio", Severity: "warning", Key: "global",
		State: alert.StateResolved, Start: baseTime.Add(3 * time.Hour), End: baseTime.Add(3*time.Hour + time.Minute),
		Summary: "one-way audio", SampleCallIDs: []string{cancelledID, "never-stored@example.com", answeredID}}
}

func TestAlertRoutesReadTheStoreAndExportTheOffendersTraffic(t *testing.T) {
	ctx := context.Background()
	st := openStore(t, fixtures())
	scanner, brute, global := fixtureAlerts()
	resolved := scanner
	resolved.State, resolved.End = alert.StateResolved, baseTime.Add(20*time.Second)
	for _, a := range []alert.Alert{scanner, brute, global, resolved, sampled()} {
		if err := st.WriteAlert(ctx, a); err != nil {
			t.Fatal(err)
		}
	}
	// The engine's memory holds an alert the store does not: the routes
	// must not list it once the store keeps alerts.
	memory := alert.Alert{ID: "memory-only", Rule: "invite_flood", State: alert.StateFiring, Start: baseTime}
	srv := httptest.NewServer(api.New(api.Config{Alerts: func() []alert.Alert { return []alert.Alert{memory} }}, st, testLogger(t)).Handler())
	t.Cleanup(srv.Close)

	var list struct {
		Alerts []alert.Alert `json:"alerts"`
		Total  int           `json:"total"`
		Firing int           `json:"firing"`
	}
	getJSON(t, srv, "/api/v1/alerts", 200, &list)
	var ids []string
	for _, a := range list.Alerts {
		ids = append(ids, a.ID+":"+a.State)
	}
	if got, want := strings.Join(ids, " "), "00000000000000d4:resolved 00000000000000c3:firing 00000000000000b2:firing 00000000000000a1:resolved"; got != want || list.Total != 4 || list.Firing != 2 {
		t.Errorf("list %q total %d firing %d, want %q total 4 firing 2", got, list.Total, list.Firing, want)
	}
	getJSON(t, srv, "/api/v1/alerts?state=resolved&rule=scanner", 200, &list)
	if len(list.Alerts) != 1 || list.Total != 1 || !list.Alerts[0].End.Equal(resolved.End) {
		t.Errorf("resolved scanners: %+v", list)
	}
	var one alert.Alert
	getJSON(t, srv, "/api/v1/alerts/"+brute.ID, 200, &one)
	if one.Key != brute.Key || len(one.TopOffenders) != 2 || one.TopOffenders[1].Value != "sip:dave@example.com" {
		t.Errorf("get: %+v", one)
	}

	cases := []struct {
		name      string
		id        string
		status    int
		transport string
		packets   int
		addr      string
	}{
		{"a resolved alert's PCAP holds its offender's messages from a minute before it until its end", scanner.ID, 200, "udp", 7, "192.0.2.10"},
		{"a firing alert's PCAP runs until now and holds the IPv6 offender's TCP messages", brute.ID, 200, "tcp", 4, "2001:db8::10"},
		{"an alert naming no address exports its stored sample calls in capture order", sampled().ID, 200, "udp", 14, ""},
		{"an alert without an offending address or a sample call has nothing to export", global.ID, 404, "", 0, ""},
		{"an alert only the engine's memory holds is not found", memory.ID, 404, "", 0, ""},
		{"an unknown alert is not found", "nope", 404, "", 0, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			status, h, body := get(t, srv, "/api/v1/alerts/"+c.id+"/pcap")
			if status != c.status {
				t.Fatalf("status %d, want %d: %s", status, c.status, body)
			}
			if status != 200 {
				return
			}
			if ct := h.Get("Content-Type"); ct != "application/vnd.tcpdump.pcap" {
				t.Errorf("Content-Type %q", ct)
			}
			if cd := h.Get("Content-Disposition"); !strings.Contains(cd, c.id) || h.Get("X-Sipscope-Truncated") != "" {
				t.Errorf("Content-Disposition %q, truncated %q", cd, h.Get("X-Sipscope-Truncated"))
			}
			pkts := readPCAP(t, body)
			if len(pkts) != c.packets {
				t.Fatalf("%d packets, want %d", len(pkts), c.packets)
			}
			var addr netip.Addr
			if c.addr != "" {
				addr = netip.MustParseAddr(c.addr)
			}
			for i, p := range pkts {
				if p.transport != c.transport || addr.IsValid() && p.src.Addr() != addr && p.dst.Addr() != addr {
					t.Errorf("packet %d: %s %v → %v", i, p.transport, p.src, p.dst)
				}
				if i > 0 && p.ts.Before(pkts[i-1].ts) {
					t.Errorf("packet %d out of order", i)
				}
			}
			if !slices.ContainsFunc(pkts, func(p decodedPacket) bool { return strings.HasPrefix(string(p.payload), "INVITE ") }) {
				t.Errorf("no INVITE among the exported packets")
			}
		})
	}
}

// The KPI buckets count every stored alert, also one that started in an
// hour without calls or registrations (the sampled alert, three hours in).
func TestKPIBucketsCountAlertsOfHoursWithoutCalls(t *testing.T) {
	ctx := context.Background()
	st := openStore(t, fixtures())
	scanner, brute, global := fixtureAlerts()
	for _, a := range []alert.Alert{scanner, brute, global, sampled()} {
		if err := st.WriteAlert(ctx, a); err != nil {
			t.Fatal(err)
		}
	}
	srv := httptest.NewServer(api.New(api.Config{}, st, testLogger(t)).Handler())
	t.Cleanup(srv.Close)

	from := baseTime.Truncate(time.Hour)
	var kpis struct {
		Buckets []struct {
			Start       string `json:"start"`
			Attempts    int    `json:"attempts"`
			AlertsFired int    `json:"alerts_fired"`
		} `json:"buckets"`
	}
	getJSON(t, srv, "/api/v1/kpis?step=1h&from="+api.FormatTime(from)+"&to="+api.FormatTime(from.Add(4*time.Hour)), 200, &kpis)
	var got []string
	for _, b := range kpis.Buckets {
		got = append(got, b.Start[11:16]+"="+strconv.Itoa(b.AlertsFired))
	}
	// One alert in each of the four hours; the last hour has no call.
	if want := "10:00=1 11:00=1 12:00=1 13:00=1"; strings.Join(got, " ") != want {
		t.Errorf("alerts per bucket %q, want %q", strings.Join(got, " "), want)
	}
	if n := len(kpis.Buckets); n == 4 && kpis.Buckets[3].Attempts != 0 {
		t.Errorf("the alert-only bucket has %d attempts", kpis.Buckets[3].Attempts)
	}
}
