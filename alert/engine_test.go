package alert

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/sipscope/sipscope/correlate"
	"github.com/sipscope/sipscope/decode/sip"
)

func parse(t testing.TB, raw string) *sip.Message {
	t.Helper()
	m := new(sip.Message)
	if err := m.Unmarshal([]byte(raw)); err != nil {
		t.Fatal(err)
	}
	return m
}

// steadyMessages are one of each kind of message the rules look at.
func steadyMessages(t testing.TB) []*sip.Message {
	reg := req{method: "REGISTER", ruri: "sip:" + domain, from: "sip:1001@" + domain, to: "sip:1001@" + domain,
		callID: "steady-reg", ua: "friendly-scanner", cseq: 2, via: ap(attacker), extra: fmt.Sprintf(authHeader, "1001")}
	inv := req{method: "INVITE", ruri: "sip:0049301111@" + domain, from: "sip:1001@" + domain, to: "sip:0049301111@" + domain,
		callID: "steady-inv", ua: "Yealink", cseq: 1, via: ap(attacker), extra: fmt.Sprintf(authHeader, "1001")}
	opt := req{method: "OPTIONS", ruri: "sip:100@" + domain, from: "sip:ping@" + domain, to: "sip:100@" + domain,
		callID: "steady-opt", ua: "sipvicious", cseq: 1, via: ap(attacker)}
	return []*sip.Message{
		parse(t, reg.text()), parse(t, reg.response(401, "Unauthorized", "x", "")), parse(t, reg.response(200, "OK", "x", "")),
		parse(t, inv.text()), parse(t, inv.response(407, "Proxy Authentication Required", "y", "")), parse(t, inv.response(403, "Forbidden", "y", "")),
		parse(t, opt.text()), parse(t, opt.response(404, "Not Found", "z", "")),
	}
}

func TestOnSIPAllocatesNothingForKeysAlreadyTracked(t *testing.T) {
	for _, firing := range []bool{false, true} {
		msgs := ordinaryMessages(t)
		if firing {
			msgs = steadyMessages(t)
		}
		t.Run(fmt.Sprintf("with alerts firing %v", firing), func(t *testing.T) {
			eng, err := New(Config{}.WithDefaults(), Options{})
			if err != nil {
				t.Fatal(err)
			}
			ts := t0.UnixNano()
			src, dst := ap(attacker), ap(registrar)
			feed := func() {
				for _, m := range msgs {
					if m.IsRequest {
						eng.OnSIP(ts, src, dst, m)
					} else {
						eng.OnSIP(ts, dst, src, m)
					}
				}
			}
			n := 1
			if firing {
				n = 200 // the scanner UA and the failures arm and fill the evidence
			}
			for range n {
				feed()
			}
			if firing {
				eng.Advance(ts + int64(10*time.Second)) // confirm: firing
				ts += int64(10 * time.Second)
				feed()
				if len(eng.Alerts()) == 0 {
					t.Fatal("no alert fired")
				}
			}
			if a := testing.AllocsPerRun(200, feed); a != 0 {
				t.Errorf("%v allocations per %d messages", a, len(msgs))
			}
		})
	}
}

// ordinaryMessages are a phone's REGISTER with credentials, a call's
// INVITE and an OPTIONS ping, answered as usual.
func ordinaryMessages(t testing.TB) []*sip.Message {
	reg := req{method: "REGISTER", ruri: "sip:" + domain, from: "sip:1001@" + domain, to: "sip:1001@" + domain,
		callID: "o-reg", ua: "Yealink SIP-T46S", cseq: 2, via: ap(attacker), extra: fmt.Sprintf(authHeader, "1001")}
	inv := req{method: "INVITE", ruri: "sip:0049301111@" + domain, from: "sip:1001@" + domain, to: "sip:0049301111@" + domain,
		callID: "o-inv", ua: "Yealink SIP-T46S", cseq: 1, via: ap(attacker)}
	opt := req{method: "OPTIONS", ruri: "sip:1001@" + domain, from: "sip:ping@" + domain, to: "sip:1001@" + domain,
		callID: "o-opt", ua: "Kamailio", cseq: 1, via: ap(attacker)}
	return []*sip.Message{
		parse(t, reg.text()), parse(t, reg.response(200, "OK", "x", "")),
		parse(t, inv.text()), parse(t, inv.response(180, "Ringing", "y", "")), parse(t, inv.response(200, "OK", "y", "")),
		parse(t, opt.text()), parse(t, opt.response(200, "OK", "z", "")),
	}
}

// BenchmarkOnSIP feeds messages from 1000 sources at 1 M messages per
// second of capture time: ordinary traffic, and an attack where every
// source has alerts firing (so every message also feeds evidence).
func BenchmarkOnSIP(b *testing.B) {
	for _, bc := range []struct {
		name string
		msgs []*sip.Message
	}{{"ordinary traffic", ordinaryMessages(b)}, {"every source attacking", steadyMessages(b)}} {
		b.Run(bc.name, func(b *testing.B) {
			eng, err := New(Config{}.WithDefaults(), Options{})
			if err != nil {
				b.Fatal(err)
			}
			srcs := make([]netip.AddrPort, 1000)
			for i := range srcs {
				srcs[i] = ap(phoneAddr(7, i))
			}
			dst := ap(registrar)
			ts := t0.UnixNano()
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				m := bc.msgs[i%len(bc.msgs)]
				src := srcs[i/len(bc.msgs)%len(srcs)]
				ts += 1000
				if m.IsRequest {
					eng.OnSIP(ts, src, dst, m)
				} else {
					eng.OnSIP(ts, dst, src, m)
				}
			}
		})
	}
}

func TestAMillionSourcesEachSendingOneREGISTERStayWithinTheCap(t *testing.T) {
	cfg := Config{MaxKeys: 10000}.WithDefaults()
	reg := prometheus.NewRegistry()
	eng, err := New(cfg, Options{Registerer: reg})
	if err != nil {
		t.Fatal(err)
	}
	// 1000 REGISTERs (different AoRs, with credentials), sent by a million
	// different sources over 100 s.
	msgs := make([]*sip.Message, 1000)
	for i := range msgs {
		r := req{method: "REGISTER", ruri: "sip:" + domain, from: fmt.Sprintf("sip:%d@%s", 5000+i, domain), to: fmt.Sprintf("sip:%d@%s", 5000+i, domain),
			callID: fmt.Sprintf("m-%d", i), ua: "Zoiper", cseq: 2, via: ap(attacker), extra: fmt.Sprintf(authHeader, fmt.Sprint(5000+i))}
		msgs[i] = parse(t, r.text())
	}
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	base, peak := ms.HeapAlloc, ms.HeapAlloc
	const n = 1_000_000
	dst := ap(registrar)
	for i := 0; i < n; i++ {
		src := netip.AddrPortFrom(netip.AddrFrom4([4]byte{100, byte(i >> 16), byte(i >> 8), byte(i)}), 5060)
		eng.OnSIP(t0.UnixNano()+int64(i)*100_000, src, dst, msgs[i%len(msgs)])
		if i%50000 == 0 {
			runtime.ReadMemStats(&ms)
			peak = max(peak, ms.HeapAlloc)
		}
	}
	runtime.ReadMemStats(&ms)
	peak = max(peak, ms.HeapAlloc)
	t.Logf("heap before %.1f MB, peak %.1f MB (+%.1f MB) for %d sources with max_keys %d",
		float64(base)/1e6, float64(peak)/1e6, float64(peak-base)/1e6, n, cfg.MaxKeys)
	for name, l := range map[string]int{"scanner": eng.scan.keys.len(), "auth_source": eng.auth.bySrc.len(), "registrar": eng.storm.keys.len()} {
		if l > cfg.MaxKeys {
			t.Errorf("%s table holds %d keys, cap %d", name, l, cfg.MaxKeys)
		}
	}
	for _, table := range []string{"scanner_source", "auth_source"} {
		got := value(eng.m.evictions.WithLabelValues(table))
		if want := float64(n - cfg.MaxKeys); got != want {
			t.Errorf("%s evictions %v, want %v", table, got, want)
		}
	}
	// Every state per key is a few hundred bytes to ~1 KB: tens of MB at
	// most, whatever the number of sources.
	if grew := int64(peak) - int64(base); grew > 64<<20 {
		t.Errorf("heap grew by %d MB", grew>>20)
	}
	// A million phones in 100 s is a registration storm, and only that.
	for _, a := range eng.Alerts() {
		if a.Rule != RuleRegistrationStorm {
			t.Errorf("unexpected %s %s: %s", a.Rule, a.Key, a.Summary)
		}
	}
}

func TestAKeyEvictedWhileFiringResolvesItsAlert(t *testing.T) {
	cfg := Config{MaxKeys: 2}.WithDefaults()
	sink := &recSink{}
	eng, err := New(cfg, Options{Sink: sink})
	if err != nil {
		t.Fatal(err)
	}
	opt := parse(t, req{method: "OPTIONS", ruri: "sip:1@x", from: "sip:a@x", to: "sip:1@x", callID: "c", ua: "friendly-scanner", cseq: 1, via: ap(attacker)}.text())
	ts := t0.UnixNano()
	eng.OnSIP(ts, ap(attacker), ap(registrar), opt)
	eng.Advance(ts + 10e9)
	if a := eng.Alerts(); len(a) != 1 || a[0].State != StateFiring {
		t.Fatalf("alerts %+v", a)
	}
	plain := parse(t, req{method: "OPTIONS", ruri: "sip:1@x", from: "sip:a@x", to: "sip:1@x", callID: "d", ua: "Linphone", cseq: 1, via: ap(registrar)}.text())
	for i := 0; i < 2; i++ {
		eng.OnSIP(ts+11e9, ap(phoneAddr(1, i)), ap(registrar), plain)
	}
	a := eng.Alerts()
	if len(a) != 1 || a[0].State != StateResolved || a[0].End.IsZero() {
		t.Fatalf("after eviction: %+v", a)
	}
	if got := value(eng.m.evictions.WithLabelValues("scanner_source")); got != 1 {
		t.Errorf("evictions %v", got)
	}
	if len(sink.alerts) != 2 || sink.alerts[1].State != StateResolved {
		t.Errorf("sink %+v", sink.alerts)
	}
	// The pipeline goes on: a new key of the same table works, and the
	// evicted alert's slot is not reused by it.
	eng.Advance(ts + 30e9)
}

func TestMetricsAndLogFollowTheLifecycle(t *testing.T) {
	reg := prometheus.NewRegistry()
	var logs bytes.Buffer
	eng, err := New(Config{}.WithDefaults(), Options{Registerer: reg, Logger: slog.New(slog.NewJSONHandler(&logs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	opt := parse(t, req{method: "OPTIONS", ruri: "sip:1@x", from: "sip:a@x", to: "sip:1@x", callID: "c", ua: "SIPVicious 0.3", cseq: 1, via: ap(attacker)}.text())
	ts := t0.UnixNano()
	eng.OnSIP(ts, ap(attacker), ap(registrar), opt)
	eng.Advance(ts + 10e9)
	if g := value(eng.m.firing.WithLabelValues(RuleScanner)); g != 1 {
		t.Errorf("firing gauge %v", g)
	}
	eng.Advance(ts + int64(20*time.Minute))
	if g := value(eng.m.firing.WithLabelValues(RuleScanner)); g != 0 {
		t.Errorf("firing gauge after resolve %v", g)
	}
	if c := value(eng.m.total.WithLabelValues(RuleScanner)); c != 1 {
		t.Errorf("alerts total %v", c)
	}
	mfs, err := reg.Gather()
	n := 0
	for _, mf := range mfs {
		if mf.GetName() == "sipscope_alerts_firing" || mf.GetName() == "sipscope_alerts_total" {
			n += len(mf.GetMetric())
		}
	}
	if err != nil || n != 2*len(Rules()) {
		t.Errorf("gathered %d series (%v), want %d", n, err, 2*len(Rules()))
	}
	var states []string
	for _, line := range strings.Split(strings.TrimSpace(logs.String()), "\n") {
		var rec struct {
			Msg, Rule, Key, Summary string
		}
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			t.Fatalf("log line %q: %v", line, err)
		}
		if rec.Rule != RuleScanner || rec.Key != "source 203.0.113.9" || rec.Summary == "" {
			t.Errorf("log line %q", line)
		}
		states = append(states, rec.Msg)
	}
	if strings.Join(states, ",") != "alert firing,alert resolved" {
		t.Errorf("log messages %v", states)
	}
}

func TestAlertJSONHasTheAnalyzeFields(t *testing.T) {
	a := Alert{ID: "0123456789abcdef", Rule: RuleScanner, Severity: SeverityWarning, Key: "source 203.0.113.9", State: StateFiring,
		Start: t0, Summary: "x.", Figures: map[string]float64{"distinct_users": 500}, Thresholds: map[string]float64{"min_distinct_users": 100}}
	b, err := json.Marshal(a)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"id", "rule", "severity", "key", "state", "start", "end", "summary", "figures", "thresholds", "top_offenders", "sample_call_ids"} {
		if _, ok := m[k]; !ok {
			t.Errorf("no %q in %s", k, b)
		}
	}
	if m["end"] != nil || m["start"] != "2026-03-02T09:00:00.000000Z" {
		t.Errorf("start %v end %v", m["start"], m["end"])
	}
	a.State, a.End = StateResolved, t0.Add(90*time.Second)
	b, _ = json.Marshal(a)
	var back Alert
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	if !back.End.Equal(a.End) || back.Rule != a.Rule || back.Figures["distinct_users"] != 500 {
		t.Errorf("round trip %+v", back)
	}
}

func TestConfig(t *testing.T) {
	tests := []struct {
		name  string
		json  string
		field string // in the error; "" for valid
	}{
		{"an empty section takes every default", `{}`, ""},
		{"a rule can be disabled and retuned", `{"scanner":{"disabled":true},"registration_storm":{"factor":5,"window":"2m"}}`, ""},
		{"a window must be a multiple of the interval", `{"low_mos":{"window":"15s"}}`, "low_mos.window"},
		{"a window may span at most 32 intervals", `{"failure_spike":{"window":"6m"}}`, "failure_spike.window"},
		{"a severity is one of three", `{"long_pdd":{"severity":"page"}}`, "long_pdd.severity"},
		{"a share is at most 1", `{"low_mos":{"min_share":1.5}}`, "low_mos.min_share"},
		{"a factor below 1 would fire on the baseline", `{"invite_flood":{"factor":0.5}}`, "invite_flood.factor"},
		{"a distinct-user threshold must be countable", `{"scanner":{"min_distinct_users":5000}}`, "scanner.min_distinct_users"},
		{"an empty scanner User-Agent would match everything", `{"scanner":{"user_agents":[" "]}}`, "scanner.user_agents[0]"},
		{"top offenders are bounded by the sketch", `{"top_offenders":20}`, "top_offenders"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var c Config
			if err := json.Unmarshal([]byte(tc.json), &c); err != nil {
				t.Fatal(err)
			}
			err := c.WithDefaults().Validate()
			switch {
			case tc.field == "" && err != nil:
				t.Fatalf("unexpected error %v", err)
			case tc.field != "" && (!errors.Is(err, ErrBadConfig) || !strings.Contains(err.Error(), tc.field+" ")):
				t.Fatalf("error %v, want one naming %s", err, tc.field)
			}
		})
	}
	var c Config
	if err := json.Unmarshal([]byte(`{"interval":"ten"}`), &c); !errors.Is(err, ErrBadConfig) {
		t.Errorf("bad duration: %v", err)
	}
	b, _ := json.Marshal(DefaultConfig())
	for _, r := range Rules() {
		if !strings.Contains(string(b), `"`+r+`":`) {
			t.Errorf("config JSON has no %s section", r)
		}
	}
}

func TestADisabledRuleRaisesNothing(t *testing.T) {
	tr := newTraffic()
	tr.baseline(0, 15*time.Minute)
	for i := 0; i < 500; i++ {
		tr.options(incidentT+time.Duration(i)*20*time.Millisecond, attacker, registrar, fmt.Sprint(100+i), fmt.Sprintf("scan-%d", i), "friendly-scanner", 404)
	}
	var cfg Config
	cfg.Scanner.Disabled = true
	eng, _ := run(t, tr, cfg, 15*time.Minute)
	if a := eng.Alerts(); len(a) != 0 {
		t.Errorf("alerts %+v", a)
	}
}

func TestTheSameTrafficGivesTheSameAlerts(t *testing.T) {
	play := func() []Alert {
		tr := newTraffic()
		tr.baseline(0, 20*time.Minute)
		for i := 0; i < 300; i++ {
			tr.register(incidentT+time.Duration(i)*100*time.Millisecond, attacker, "1001", fmt.Sprintf("brute-%d", i), 403, "")
		}
		eng, _ := run(t, tr, Config{}, 20*time.Minute)
		return eng.Alerts()
	}
	a, b := play(), play()
	ja, _ := json.Marshal(a)
	jb, _ := json.Marshal(b)
	if len(a) == 0 || !bytes.Equal(ja, jb) {
		t.Errorf("two runs differ:\n%s\n%s", ja, jb)
	}
}

// value reads a gauge's or counter's current value.
func value(m prometheus.Metric) float64 {
	var d dto.Metric
	if err := m.Write(&d); err != nil {
		panic(err)
	}
	if d.Gauge != nil {
		return d.Gauge.GetValue()
	}
	return d.Counter.GetValue()
}

func TestAlertsCanBeReadWhileTheEngineRuns(t *testing.T) {
	tr := newTraffic()
	tr.baseline(0, 12*time.Minute)
	for i := 0; i < 500; i++ {
		tr.options(incidentT+time.Duration(i)*20*time.Millisecond, attacker, registrar, fmt.Sprint(100+i), fmt.Sprintf("scan-%d", i), "friendly-scanner", 404)
	}
	eng, err := New(Config{}.WithDefaults(), Options{})
	if err != nil {
		t.Fatal(err)
	}
	stop, done := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(done)
		for {
			select {
			case <-stop:
				return
			default:
			}
			for _, a := range eng.Alerts() {
				_ = a.Summary + a.TopOffenders[0].Value // what the API would serve
			}
		}
	}()
	feed(t, tr, eng)
	eng.Advance(t0.Add(12 * time.Minute).UnixNano())
	close(stop)
	<-done
	if len(eng.Alerts()) != 1 {
		t.Errorf("alerts %v", eng.Alerts())
	}
}

func TestASystemBusierThanTheFloorFromTheStartFiresOnceAndSettles(t *testing.T) {
	// A carrier SBC sending 30 new INVITEs a second from the first
	// second: above the per-source floor (20/s) before any baseline was
	// learnt. It fires, and resolves once the baseline has caught up.
	inv := parse(t, req{method: "INVITE", ruri: "sip:1@x", from: "sip:a@x", to: "sip:1@x", callID: "sbc", cseq: 1, via: ap(trunk)}.text())
	eng, err := New(Config{}.WithDefaults(), Options{})
	if err != nil {
		t.Fatal(err)
	}
	const hours = 3
	for i := int64(0); i < hours*3600*30; i++ {
		eng.OnSIP(t0.UnixNano()+i*1e9/30, ap(trunk), ap(registrar), inv)
	}
	al := eng.Alerts()
	if len(al) != 1 || al[0].Rule != RuleInviteFlood || al[0].State != StateResolved {
		t.Fatalf("alerts %+v %v", al, al[0].Figures)
	}
	t.Logf("%s %v", al[0].Summary, al[0].Figures)
	if d := al[0].End.Sub(al[0].Start); d > 90*time.Minute {
		t.Errorf("took %v to settle", d)
	}
}

func TestATrunkThatAlwaysFailsHalfItsCallsFiresOnceAndSettles(t *testing.T) {
	eng, err := New(Config{}.WithDefaults(), Options{})
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 24*3600/2; i++ {
		at := t0.Add(time.Duration(i) * 2 * time.Second)
		c := correlate.Call{CallID: fmt.Sprintf("c%d", i), SrcIP: phoneAddr(1, i%200), DstIP: trunk, State: correlate.StateAnswered,
			FinalCode: 200, Start: at, End: at.Add(time.Second), LastUpdate: at.Add(time.Second), Finished: true}
		if i%2 == 0 {
			c.State, c.FinalCode = correlate.StateFailed, 503
		}
		eng.OnCall(c)
	}
	eng.Advance(t0.Add(25 * time.Hour).UnixNano())
	al := eng.Alerts()
	if len(al) != 2 {
		t.Fatalf("%d alerts: %v", len(al), al)
	}
	for _, a := range al {
		if a.Rule != RuleFailureSpike || a.State != StateResolved {
			t.Errorf("%v", a)
		}
		t.Logf("%s (%v)", a.Summary, a.End.Sub(a.Start))
	}
}
