package storetest

import (
	"context"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"testing"
	"time"

	"github.com/sipscope/sipscope/gen"
	"github.com/sipscope/sipscope/pipeline"
	"github.com/sipscope/sipscope/storage"
)

// KPIStore is what the KPI check needs of a backend.
type KPIStore interface {
	pipeline.StoreWriter
	KPIs(ctx context.Context, f storage.KPIFilter) ([]storage.KPIBucket, error)
}

// testdata is the project's testdata directory.
func testdata() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "../../testdata")
}

// KPIs imports testdata/calls.pcap and checks the KPIs against the
// generator's truth (attempts, ASR, NER, registrations) and the offline
// analysis (ACD, PDD), in one bucket and in one-second buckets.
func KPIs(t *testing.T, s KPIStore) {
	ctx := t.Context()
	path := filepath.Join(testdata(), "calls.pcap")
	if _, err := pipeline.ImportFile(ctx, s, path); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(testdata(), "calls.truth.json"))
	if err != nil {
		t.Fatal(err)
	}
	var truth gen.Truth
	if err := json.Unmarshal(b, &truth); err != nil {
		t.Fatal(err)
	}
	offline, err := pipeline.AnalyzeFile(path, pipeline.QualityOptions{G711PLC: true})
	if err != nil {
		t.Fatal(err)
	}
	attempts, answered, userFailed := len(truth.Calls), 0, 0
	for _, c := range truth.Calls {
		switch {
		case c.State == "answered":
			answered++
		case c.FinalCode == 480 || c.FinalCode == 486 || c.FinalCode == 600 || c.FinalCode == 603:
			userFailed++
		}
	}
	var talk, pddSum float64
	var pdds int
	for _, c := range offline.Calls {
		if c.State == "answered" {
			talk += c.DurationMs
		}
		if c.PDDMs > 0 {
			pddSum += c.PDDMs
			pdds++
		}
	}
	start := truth.Calls[0].Start.Truncate(time.Hour)
	one, err := s.KPIs(ctx, storage.KPIFilter{From: start, To: start.Add(time.Hour), Step: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	if len(one) != 1 {
		t.Fatalf("one hour in one bucket gave %d buckets: %+v", len(one), one)
	}
	k := one[0]
	near := func(a, b float64) bool { return math.Abs(a-b) < 1e-6 }
	if k.Attempts != attempts || k.Answered != answered || !near(k.ASR, float64(answered)/float64(attempts)) ||
		!near(k.NER, float64(answered+userFailed)/float64(attempts)) || !near(k.ACD, talk/1000/float64(answered)) ||
		!near(k.PDDAvgMs, pddSum/float64(pdds)) {
		t.Errorf("KPIs %+v; truth: %d attempts, %d answered, %d user failures, ACD %.3f s, mean PDD %.3f ms",
			k, attempts, answered, userFailed, talk/1000/float64(answered), pddSum/float64(pdds))
	}
	if k.Registrations != len(truth.Registrations) || k.RegistrationSuccess != 1 {
		t.Errorf("registrations %d (success %v), truth %d all succeeded", k.Registrations, k.RegistrationSuccess, len(truth.Registrations))
	}
	// The talk time over the hour, as a mean of calls in progress.
	if !near(k.ConcurrentAvg, talk/float64(time.Hour/time.Millisecond)) {
		t.Errorf("mean concurrent calls %v, want %v", k.ConcurrentAvg, talk/float64(time.Hour/time.Millisecond))
	}
	// In one-minute buckets the calls fall in the first minute (the capture
	// lasts seconds); in one-second buckets the counts still add up.
	secs, err := s.KPIs(ctx, storage.KPIFilter{From: start, To: start.Add(30 * time.Minute), Step: time.Minute, GroupBy: "dst_ip"})
	if err != nil {
		t.Fatal(err)
	}
	sum, talkSum := 0, 0.0
	for _, k := range secs {
		sum += k.Attempts
		talkSum += k.ConcurrentAvg * 60_000
		if k.Group == "" && k.Attempts > 0 {
			t.Errorf("a bucket grouped by dst_ip has calls but no group: %+v", k)
		}
	}
	if sum != attempts || !near(talkSum, talk) {
		t.Errorf("by minute and callee: %d attempts and %.3f ms of talk, want %d and %.3f", sum, talkSum, attempts, talk)
	}
	for _, bad := range []storage.KPIFilter{
		{From: start, To: start, Step: time.Hour},
		{From: start, To: start.Add(time.Hour), Step: time.Second},
		{From: start, To: start.Add(1000 * time.Hour), Step: time.Minute},
		{From: start, To: start.Add(time.Hour), Step: time.Hour, GroupBy: "'; DROP TABLE calls; --"},
		{From: start, To: start.Add(time.Hour), Step: time.Hour, GroupBy: "prefix"},
	} {
		if _, err := s.KPIs(ctx, bad); err == nil {
			t.Errorf("KPIs(%+v) accepted", bad)
		}
	}
}
