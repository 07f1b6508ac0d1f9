package storetest

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/sipscope/sipscope/alert"
	"github.com/sipscope/sipscope/correlate"
	"github.com/sipscope/sipscope/storage"
)

// AlertStore is what RunAlerts exercises: the alert and evidence methods
// both backends have, and Write for the messages behind the alerts.
type AlertStore interface {
	Write(ctx context.Context, b storage.Batch) error
	WriteAlert(ctx context.Context, a alert.Alert) error
	ListAlerts(ctx context.Context, f storage.AlertFilter) (storage.AlertPage, error)
	GetAlert(ctx context.Context, id string) (alert.Alert, error)
	MessagesInWindow(ctx context.Context, w storage.MessageWindow) ([]correlate.Message, bool, error)
	Close() error
}

// alertDay is the day the alert suite's records live on, apart from the
// other suites' days.
func alertDay(hour int) time.Time { return time.Date(2024, time.July, 9, hour, 0, 0, 0, time.UTC) }

// stormAlert is a registration storm as the engine raises it, with every
// field set and a hostile summary.
func stormAlert() alert.Alert {
	start := alertDay(10).Add(123456 * time.Microsecond)
	return alert.Alert{
		ID: "a1b2c3d4e5f60718", Rule: "registration_storm", Severity: "critical", Key: "registrar 192.0.2.1",
		State: alert.StateFiring, Start: start,
		Summary:    `4 012 REGISTER/s to 192.0.2.1, 45× its baseline; it's "quoted" \ back`,
		Figures:    map[string]float64{"rate": 4012.5, "peak_rate": 5210.25, "baseline": 88.125},
		Thresholds: map[string]float64{"factor": 10, "min_rate": 50},
		TopOffenders: []alert.Offender{
			{Kind: "ip", Value: "198.51.100.7", Count: 1200},
			{Kind: "ip", Value: "2001:db8::7", Count: 800},
			{Kind: "aor", Value: "sip:1001@example.com", Count: 30},
			{Kind: "user_agent", Value: "Yealink SIP-T46S", Count: 1950},
		},
		SampleCallIDs: []string{"reg-1@198.51.100.7", "reg-2@[2001:db8::7]"},
	}
}

// RunAlerts runs the alert suite. As for Run, open must return a store
// over the same, initially empty, data every time.
func RunAlerts(t *testing.T, open func(t *testing.T) AlertStore) {
	ctx := context.Background()
	st := open(t)
	defer func() {
		if st != nil {
			st.Close()
		}
	}()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	list := func(f storage.AlertFilter) (ids string, total, firing int) {
		t.Helper()
		p, err := st.ListAlerts(ctx, f)
		must(err)
		var b []string
		for _, a := range p.Alerts {
			b = append(b, a.ID+":"+a.State)
		}
		return strings.Join(b, " "), p.Total, p.Firing
	}

	storm := stormAlert()
	scanner := alert.Alert{ID: "scan-1", Rule: "scanner", Severity: "warning", Key: "source 203.0.113.9",
		State: alert.StateFiring, Start: alertDay(9), Summary: "friendly-scanner swept 500 users",
		TopOffenders: []alert.Offender{{Kind: "ip", Value: "203.0.113.9", Count: 500}}}
	flood := alert.Alert{ID: "flood-1", Rule: "invite_flood", Severity: "critical", Key: "global",
		State: alert.StateFiring, Start: alertDay(11), Summary: "INVITE flood"}

	t.Run("a firing alert reads back whole", func(t *testing.T) {
		must(st.WriteAlert(ctx, storm))
		got, err := st.GetAlert(ctx, storm.ID)
		must(err)
		if err := sameAlert(got, storm); err != nil {
			t.Error(err)
		}
	})

	t.Run("its resolution replaces it, before and after a restart", func(t *testing.T) {
		must(st.WriteAlert(ctx, scanner))
		resolved := storm
		resolved.State, resolved.End = alert.StateResolved, storm.Start.Add(95*time.Second+7*time.Microsecond)
		resolved.Figures = map[string]float64{"rate": 12, "peak_rate": 5210.25, "baseline": 90}
		must(st.WriteAlert(ctx, resolved))
		check := func(when string) {
			got, err := st.GetAlert(ctx, storm.ID)
			must(err)
			if err := sameAlert(got, resolved); err != nil {
				t.Errorf("%s: %v", when, err)
			}
			if ids, total, firing := list(storage.AlertFilter{}); ids != storm.ID+":resolved scan-1:firing" || total != 2 || firing != 1 {
				t.Errorf("%s: list %q total %d firing %d", when, ids, total, firing)
			}
		}
		check("before the restart")
		must(st.Close())
		st = nil
		st = open(t)
		check("after the restart")
	})

	t.Run("filters select by rule, state and start", func(t *testing.T) {
		must(st.WriteAlert(ctx, flood))
		cases := []struct {
			name   string
			f      storage.AlertFilter
			ids    string
			total  int
			firing int
		}{
			{"every alert, newest first", storage.AlertFilter{}, "flood-1:firing " + storm.ID + ":resolved scan-1:firing", 3, 2},
			{"one rule", storage.AlertFilter{Rule: "scanner"}, "scan-1:firing", 1, 2},
			{"only firing ones", storage.AlertFilter{State: alert.StateFiring}, "flood-1:firing scan-1:firing", 2, 2},
			{"only resolved ones", storage.AlertFilter{State: alert.StateResolved}, storm.ID + ":resolved", 1, 2},
			{"a time range counts the firing ones in it", storage.AlertFilter{From: alertDay(10), To: alertDay(12)}, "flood-1:firing " + storm.ID + ":resolved", 2, 1},
			{"a limit cuts the page, not the total", storage.AlertFilter{Limit: 1}, "flood-1:firing", 3, 2},
			{"a rule with no alerts", storage.AlertFilter{Rule: "low_mos"}, "", 0, 2},
		}
		for _, c := range cases {
			ids, total, firing := list(c.f)
			if ids != c.ids || total != c.total || firing != c.firing {
				t.Errorf("%s: %q total %d firing %d, want %q total %d firing %d", c.name, ids, total, firing, c.ids, c.total, c.firing)
			}
		}
	})

	t.Run("bad filters, unknown and invalid alerts are refused", func(t *testing.T) {
		for _, f := range []storage.AlertFilter{{Limit: -1}, {State: "pending"}, {From: alertDay(12), To: alertDay(10)}} {
			if _, err := st.ListAlerts(ctx, f); !errors.Is(err, storage.ErrInvalidFilter) {
				t.Errorf("filter %+v: %v, want ErrInvalidFilter", f, err)
			}
		}
		for _, id := range []string{"nope", "", "x' OR 1=1 --"} {
			if _, err := st.GetAlert(ctx, id); !errors.Is(err, storage.ErrNotFound) {
				t.Errorf("get %q: %v, want ErrNotFound", id, err)
			}
		}
		for _, a := range []alert.Alert{{Rule: "scanner", Start: alertDay(1)}, {ID: "no-start"}} {
			if err := st.WriteAlert(ctx, a); !errors.Is(err, storage.ErrInvalidRecord) {
				t.Errorf("write %+v: %v, want ErrInvalidRecord", a, err)
			}
		}
	})

	t.Run("the messages of some addresses in a window read back once each, in order and bounded", func(t *testing.T) {
		base := alertDay(10)
		var msgs []correlate.Message
		add := func(ts time.Time, src, dst, callID string) {
			raw := fmt.Sprintf("REGISTER sip:example.com SIP/2.0\r\nCall-ID: %s\r\n\r\n", callID)
			msgs = append(msgs, correlate.Message{TS: ts, Src: ap(src), Dst: ap(dst), Transport: "udp", CallID: callID,
				IsRequest: true, Method: "REGISTER", CSeq: 1, CSeqMethod: "REGISTER", Raw: []byte(raw)})
		}
		for i := range 20 { // the offender's REGISTERs, a second apart
			add(base.Add(time.Duration(i)*time.Second), "198.51.100.7:5060", "192.0.2.1:5060", fmt.Sprintf("off-%02d", i))
		}
		add(base.Add(3*time.Second), "192.0.2.1:5060", "[2001:db8::7]:5062", "to-v6") // to the second offender
		add(base.Add(4*time.Second), "198.51.100.8:5060", "192.0.2.1:5060", "bystander")
		add(base.Add(-time.Second), "198.51.100.7:5060", "192.0.2.1:5060", "before")
		add(base.Add(time.Hour), "198.51.100.7:5060", "192.0.2.1:5060", "after")
		must(st.Write(ctx, storage.Batch{Messages: msgs}))
		must(st.Write(ctx, storage.Batch{Messages: msgs})) // a re-import: read once
		ips := []netip.Addr{netip.MustParseAddr("198.51.100.7"), netip.MustParseAddr("2001:db8::7")}
		w := storage.MessageWindow{IPs: ips, From: base, To: base.Add(19 * time.Second), MaxMessages: 1000, MaxBytes: 1 << 20}
		got, cut, err := st.MessagesInWindow(ctx, w)
		must(err)
		var ids []string
		for _, m := range got {
			ids = append(ids, m.CallID)
		}
		want := "off-00 off-01 off-02 off-03 to-v6 off-04 off-05 off-06 off-07 off-08 off-09 off-10 off-11 off-12 off-13 off-14 off-15 off-16 off-17 off-18 off-19"
		if strings.Join(ids, " ") != want || cut {
			t.Errorf("window: %q (cut %v), want %q", strings.Join(ids, " "), cut, want)
		}
		if len(got) > 0 && (got[0].Src != ap("198.51.100.7:5060") || string(got[0].Raw) != string(msgs[0].Raw)) {
			t.Errorf("first message %+v", got[0])
		}
		w.MaxMessages = 5
		if got, cut, err := st.MessagesInWindow(ctx, w); err != nil || len(got) != 5 || !cut {
			t.Errorf("5-message bound: %d messages, cut %v, err %v", len(got), cut, err)
		}
		w.MaxMessages, w.MaxBytes = 1000, 3*len(msgs[0].Raw)+1
		if got, cut, err := st.MessagesInWindow(ctx, w); err != nil || len(got) != 3 || !cut {
			t.Errorf("byte bound of 3 messages: %d messages, cut %v, err %v", len(got), cut, err)
		}
		for _, bad := range []storage.MessageWindow{
			{From: base, To: base, MaxMessages: 1, MaxBytes: 1},
			{IPs: ips, To: base, MaxMessages: 1, MaxBytes: 1},
			{IPs: ips, From: base, To: base, MaxMessages: 0, MaxBytes: 1},
			{IPs: []netip.Addr{{}}, From: base, To: base, MaxMessages: 1, MaxBytes: 1},
		} {
			if _, _, err := st.MessagesInWindow(ctx, bad); !errors.Is(err, storage.ErrInvalidFilter) {
				t.Errorf("window %+v: %v, want ErrInvalidFilter", bad, err)
			}
		}
	})
}

func sameAlert(got, want alert.Alert) error {
	if got.Figures == nil {
		got.Figures = map[string]float64{}
	}
	if want.Figures == nil {
		want.Figures = map[string]float64{}
	}
	if got.Thresholds == nil {
		got.Thresholds = map[string]float64{}
	}
	if want.Thresholds == nil {
		want.Thresholds = map[string]float64{}
	}
	if len(got.TopOffenders) == 0 && len(want.TopOffenders) == 0 {
		got.TopOffenders, want.TopOffenders = nil, nil
	}
	if len(got.SampleCallIDs) == 0 && len(want.SampleCallIDs) == 0 {
		got.SampleCallIDs, want.SampleCallIDs = nil, nil
	}
	want.Start, want.End = want.Start.UTC(), want.End.UTC()
	if want.End.Equal(time.Time{}.UTC()) {
		want.End = time.Time{}
	}
	if !reflect.DeepEqual(got, want) {
		return fmt.Errorf("alert differs:\n got %+v\nwant %+v", got, want)
	}
	return nil
}
