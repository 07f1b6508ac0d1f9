package pipeline

import (
	"log/slog"
	"math"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/sipscope/sipscope/capture"
	"github.com/sipscope/sipscope/correlate"
	"github.com/sipscope/sipscope/gen"
	"github.com/sipscope/sipscope/storage/embedded"
)

// gathered is the registry's metric families by name.
func gathered(t *testing.T, reg *prometheus.Registry) map[string]*dto.MetricFamily {
	t.Helper()
	fams, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]*dto.MetricFamily{}
	for _, f := range fams {
		out[f.GetName()] = f
	}
	return out
}

// labelled is the value of the counter of fam whose labels are all of want.
func labelled(fam *dto.MetricFamily, want map[string]string) float64 {
	if fam == nil {
		return 0
	}
	total := 0.0
	for _, m := range fam.GetMetric() {
		match := true
		for _, lp := range m.GetLabel() {
			if v, ok := want[lp.GetName()]; ok && v != lp.GetValue() {
				match = false
			}
		}
		if match {
			total += m.GetCounter().GetValue()
		}
	}
	return total
}

// TestLiveCallMetricsEqualTheGeneratedTruth runs a generated capture
// (answered calls with RTP, busy, cancelled, registrations, calls that
// never get a final answer) through the live runner into the embedded
// store, as serve does, and reads the Prometheus registry: calls_total
// per state equals the truth's calls of that state that ended (a call
// without a final answer stays in progress in live mode, so it is not
// counted), per end reason it equals the offline analysis of the same
// file; the MOS and PDD histograms hold one observation per answered call
// (PDD also per cancelled call, which rang) with the analysis' values;
// registrations_total counts the truth's registrations as succeeded.
func TestLiveCallMetricsEqualTheGeneratedTruth(t *testing.T) {
	file := filepath.Join(t.TempDir(), "calls.pcap")
	f, err := os.Create(file)
	if err != nil {
		t.Fatal(err)
	}
	truth, err := gen.Write(f, gen.Config{Calls: 25, Seed: 7, LossPct: 2})
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	store, err := embedded.Open(ctx, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	reg := prometheus.NewRegistry()
	r := NewLiveRunner(LiveOptions{FlushEvery: 2 * time.Millisecond, NoResume: true}, store, slog.New(slog.DiscardHandler), reg)
	src, err := capture.OpenFile(file)
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	r.sources = append(r.sources, src)
	if err := r.Run(ctx); err != nil {
		t.Fatalf("Run: %v", err)
	}

	report, err := AnalyzeFile(file, QualityOptions{G711PLC: true})
	if err != nil {
		t.Fatal(err)
	}
	byState := map[string]int{}
	byReason := map[[2]string]int{}
	var mosN, pddN int
	var mosSum, pddSum float64
	for _, c := range truth.Calls {
		if c.State == "no_final" {
			continue
		}
		byState[c.State]++
		for _, rc := range report.Calls {
			if rc.CallID != c.CallID {
				continue
			}
			byReason[[2]string{rc.State, rc.EndReason}]++
			if rc.MOS > 0 {
				mosN++
				mosSum += rc.MOS
			}
			if rc.PDDMs > 0 {
				pddN++
				pddSum += rc.PDDMs / 1000
			}
		}
	}
	if byState["answered"] == 0 || byState["failed"] == 0 || byState["cancelled"] == 0 || len(truth.Registrations) == 0 {
		t.Fatalf("the capture lacks a kind of call: %v, %d registrations", byState, len(truth.Registrations))
	}

	fams := gathered(t, reg)
	calls := fams["sipscope_calls_total"]
	for _, state := range []string{"answered", "failed", "cancelled", "no_final"} {
		if got := labelled(calls, map[string]string{"state": state}); got != float64(byState[state]) {
			t.Errorf("calls_total{state=%q} is %v; the truth has %d that ended", state, got, byState[state])
		}
	}
	for k, n := range byReason {
		if got := labelled(calls, map[string]string{"state": k[0], "end_reason": k[1]}); got != float64(n) {
			t.Errorf("calls_total{state=%q,end_reason=%q} is %v, the analysis says %d", k[0], k[1], got, n)
		}
	}
	if got := len(calls.GetMetric()); got != len(byReason) {
		t.Errorf("%d label sets, want %d", got, len(byReason))
	}
	checkHist := func(name string, n int, sum float64) {
		t.Helper()
		fam := fams[name]
		if fam == nil || len(fam.GetMetric()) != 1 {
			t.Fatalf("%s missing", name)
		}
		h := fam.GetMetric()[0].GetHistogram()
		if h.GetSampleCount() != uint64(n) || math.Abs(h.GetSampleSum()-sum) > 1e-9*float64(n) {
			t.Errorf("%s: %d observations summing to %v, want %d summing to %v", name, h.GetSampleCount(), h.GetSampleSum(), n, sum)
		}
	}
	if mosN != byState["answered"] || pddN != byState["answered"]+byState["cancelled"] {
		t.Fatalf("the analysis has %d MOS and %d PDD for %v", mosN, pddN, byState)
	}
	checkHist("sipscope_call_mos", mosN, mosSum)
	checkHist("sipscope_call_pdd_seconds", pddN, pddSum)
	regs := fams["sipscope_registrations_total"]
	if got := labelled(regs, map[string]string{"result": "succeeded"}); got != float64(len(truth.Registrations)) {
		t.Errorf("registrations_total{result=succeeded} is %v; the truth has %d", got, len(truth.Registrations))
	}
	if got := labelled(regs, map[string]string{"result": "failed"}); got != 0 {
		t.Errorf("registrations_total{result=failed} is %v, want 0", got)
	}
	t.Logf("calls %v, MOS mean %.2f, PDD mean %.3f s, %d registrations", byState, mosSum/float64(mosN), pddSum/float64(pddN), len(truth.Registrations))
}

func TestCallMetricsCountEachRecordOnce(t *testing.T) {
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	answered := correlate.Call{CallID: "a@x", State: correlate.StateAnswered, EndReason: correlate.EndCallerBye, Finished: true, MOS: 4.1, PDDMs: 1500}
	ringing := correlate.Call{CallID: "b@x", State: correlate.StateNoFinal, EndReason: correlate.EndInProgress}
	odd := correlate.Call{CallID: "c@x", State: "weird", EndReason: "made up by a peer", Finished: true}
	challenged := correlate.Registration{CallID: "r@x", Start: start, FinalCode: 401, Attempts: 1, Failed: true}
	ok := challenged
	ok.FinalCode, ok.Attempts, ok.Failed = 200, 2, false
	refused := correlate.Registration{CallID: "s@x", Start: start, FinalCode: 403, Attempts: 2, Failed: true}
	refresh := ok
	refresh.Attempts = 4

	cases := []struct {
		name      string
		calls     []correlate.Call
		regs      []correlate.Registration
		calls2    map[[2]string]float64
		succeeded float64
		failed    float64
	}{
		{"a finished call counts once however often it is written", []correlate.Call{answered, answered, ringing}, nil,
			map[[2]string]float64{{"answered", "caller_bye"}: 1}, 0, 0},
		{"a call still in progress does not count", []correlate.Call{ringing}, nil, nil, 0, 0},
		{"values outside the enums count as other", []correlate.Call{odd}, nil,
			map[[2]string]float64{{"other", "other"}: 1}, 0, 0},
		{"a challenge is not an outcome, its answer is", nil, []correlate.Registration{challenged, ok, ok}, nil, 1, 0},
		{"a refresh of the same exchange counts again", nil, []correlate.Registration{ok, refresh}, nil, 2, 0},
		{"credentials refused count as failed", nil, []correlate.Registration{refused}, nil, 0, 1},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			reg := prometheus.NewRegistry()
			m := newCallMetrics(reg)
			m.observe(tc.calls, tc.regs)
			fams := gathered(t, reg)
			total := 0.0
			for k, want := range tc.calls2 {
				got := labelled(fams["sipscope_calls_total"], map[string]string{"state": k[0], "end_reason": k[1]})
				if got != want {
					t.Errorf("calls_total%v = %v, want %v", k, got, want)
				}
				total += want
			}
			if got := labelled(fams["sipscope_calls_total"], nil); got != total {
				t.Errorf("calls_total sums to %v, want %v", got, total)
			}
			if got := labelled(fams["sipscope_registrations_total"], map[string]string{"result": "succeeded"}); got != tc.succeeded {
				t.Errorf("succeeded %v, want %v", got, tc.succeeded)
			}
			if got := labelled(fams["sipscope_registrations_total"], map[string]string{"result": "failed"}); got != tc.failed {
				t.Errorf("failed %v, want %v", got, tc.failed)
			}
		})
	}
}

func TestCountedRecordsStayWithinTheirBound(t *testing.T) {
	f := newHashFIFO[struct{}](4)
	forgot := 0
	for k := range uint64(10) {
		if f.put(k, struct{}{}) {
			forgot++
		}
		if f.put(k, struct{}{}) {
			t.Fatal("putting a key again forgot another")
		}
	}
	if len(f.m) != 4 || forgot != 6 {
		t.Fatalf("%d held, %d forgotten; want 4 and 6", len(f.m), forgot)
	}
	for k := range uint64(10) {
		if _, ok := f.get(k); ok != (k >= 6) {
			t.Errorf("key %d held: %v", k, ok)
		}
	}
}
