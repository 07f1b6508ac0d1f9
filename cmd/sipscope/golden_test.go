package main

import (
	"bytes"
	"context"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var updateGolden = flag.Bool("update-golden", false, "rewrite testdata/golden/*.json from today's analyze --json")

// goldenCaptures lists every capture in the project's testdata: generated,
// encapsulated and third-party.
func goldenCaptures(t *testing.T) []string {
	t.Helper()
	var files []string
	for _, pat := range []string{"*.pcap", "encap/*.pcap", "captures/*.pcap", "captures/*.pcapng"} {
		m, err := filepath.Glob(filepath.Join("../../testdata", pat))
		if err != nil {
			t.Fatal(err)
		}
		files = append(files, m...)
	}
	if len(files) < 30 {
		t.Fatalf("only %d captures under ../../testdata: the fixtures are missing", len(files))
	}
	return files
}

// The analyze --json document of every capture in testdata is byte for byte
// the one recorded in testdata/golden: a refactoring that changes what a
// user reads is caught here (regenerate with -update-golden only when the
// change is meant).
func TestAnalyzeJSONMatchesGoldenFiles(t *testing.T) {
	for _, path := range goldenCaptures(t) {
		rel, _ := filepath.Rel("../../testdata", path)
		golden := filepath.Join("testdata/golden", strings.ReplaceAll(rel, "/", "__")+".json")
		t.Run(rel, func(t *testing.T) {
			var out, errOut bytes.Buffer
			if code := run(context.Background(), []string{"analyze", path, "--json"}, &out, &errOut); code != 0 {
				t.Fatalf("analyze exit %d: %s", code, errOut.String())
			}
			if *updateGolden {
				if err := os.MkdirAll(filepath.Dir(golden), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(golden, out.Bytes(), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("golden file: %v (write it with -update-golden)", err)
			}
			if !bytes.Equal(out.Bytes(), want) {
				t.Errorf("analyze --json differs from %s (first difference at byte %d)", golden, firstDiff(out.Bytes(), want))
			}
		})
	}
}

func firstDiff(a, b []byte) int {
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			return i
		}
	}
	return min(len(a), len(b))
}
