package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sipscope/sipscope/gen"
	"github.com/sipscope/sipscope/pipeline"
)

// TestAnalyzeEncapsulationsMatchGroundTruth runs the real analyze pipeline
// over every capture in testdata/encap/ (one per encapsulation and SIP
// transport: VLAN, QinQ, MPLS, VXLAN, Geneve, GRE, ERSPAN II/III, IP-in-IP,
// IPv6, fragments, HEP, TZSP, Linux cooked, segmented/reordered/retransmitted TCP,
// WebSocket, SCTP) and checks it against the generator's truth, which tshark
// confirms in the gen package's tests.
func TestAnalyzeEncapsulationsMatchGroundTruth(t *testing.T) {
	truths, err := filepath.Glob("../../testdata/encap/*.truth.json")
	if err != nil || len(truths) == 0 {
		t.Fatalf("no truth files in testdata/encap/ (%v); regenerate with: go test ./gen -run TestGenerateEncapTestdata -update", err)
	}
	for _, tp := range truths {
		pcap := strings.TrimSuffix(tp, ".truth.json") + ".pcap"
		t.Run(strings.TrimSuffix(filepath.Base(pcap), ".pcap"), func(t *testing.T) {
			var truth gen.Truth
			b, err := os.ReadFile(tp)
			if err != nil {
				t.Fatal(err)
			}
			if err := json.Unmarshal(b, &truth); err != nil {
				t.Fatalf("%s: %v", tp, err)
			}
			r, err := pipeline.AnalyzeFile(pcap, pipeline.QualityOptions{G711PLC: true})
			if err != nil {
				t.Fatal(err)
			}
			compareWithTruth(t, &r, &truth)
		})
	}
}
