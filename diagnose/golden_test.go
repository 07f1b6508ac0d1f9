package diagnose

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite testdata/findings.golden from the captures")

const goldenFile = "testdata/findings.golden"

// TestFindingsOfTheSharedCaptures lists, for every call of every capture in
// testdata/captures, its outcome, findings and sentence, and compares the
// list with testdata/findings.golden, which a person read against the
// captures (tshark) before committing it. -update rewrites it.
func TestFindingsOfTheSharedCaptures(t *testing.T) {
	paths, err := filepath.Glob("../testdata/captures/*.pcap*")
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	n := 0
	for _, p := range paths {
		if strings.HasSuffix(p, ".txt") {
			continue
		}
		n++
		calls, _ := analyzeCapture(t, p, nil)
		fmt.Fprintf(&b, "== %s (%d calls)\n", filepath.Base(p), len(calls))
		for _, c := range calls {
			fmt.Fprintf(&b, "%s\n  state %s, end %s, code %d, mos %.2f, partial %v\n  findings: %s\n  diagnosis: %s\n",
				c.CallID, c.State, c.EndReason, c.FinalCode, c.MOS, c.Partial, strings.Join(c.Findings, " "), c.Diagnosis)
		}
	}
	if n < 10 {
		t.Fatalf("found %d captures in ../testdata/captures, want the 10 shared ones", n)
	}
	got := b.String()
	if *update {
		if err := os.WriteFile(goldenFile, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(goldenFile)
	if err != nil {
		t.Fatalf("%v (run with -update to create it, then check it by hand)", err)
	}
	if got != string(want) {
		t.Errorf("findings differ from %s (-update rewrites it):\n%s", goldenFile, got)
	}
}
