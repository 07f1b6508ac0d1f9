//go:build linux

package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/sipscope/sipscope/gen"
	"github.com/sipscope/sipscope/internal/netnstest"
	"github.com/sipscope/sipscope/pipeline"
)

// TestLiveCaptureOfMirroredTunnels is what a switch mirroring a port to
// sipscope looks like: the calls arrive inside ERSPAN, VXLAN or TZSP. The
// generated captures of testdata/encap are replayed into a veth that serve
// captures with the eBPF filter, which must keep the tunnels whole, and the
// calls must come out of the store as the generator's truth has them.
func TestLiveCaptureOfMirroredTunnels(t *testing.T) {
	netnstest.RequireLiveRoot(t, "tcpreplay", "sysctl")
	for _, name := range []string{"erspan2", "vxlan", "tzsp"} {
		t.Run(name, func(t *testing.T) {
			pcap := filepath.Join("../../testdata/encap", name+".pcap")
			var truth gen.Truth
			b, err := os.ReadFile(filepath.Join("../../testdata/encap", name+".truth.json"))
			if err != nil {
				t.Fatal(err)
			}
			if err := json.Unmarshal(b, &truth); err != nil {
				t.Fatal(err)
			}
			link := netnstest.NewUACLink(t)
			base, stop := startServe(t, "--data", t.TempDir(), "--iface", link.RootIf, "--flush", "200ms", "--promisc")
			t.Cleanup(stop) // before the veth goes away
			out, err := exec.Command("ip", "netns", "exec", link.NS, "tcpreplay", "-q", "-i", link.NsIf, "--multiplier", "4", pcap).CombinedOutput()
			if err != nil {
				t.Fatalf("tcpreplay: %v\n%s", err, out)
			}

			wantPackets := map[string]int{} // per call: RTP packets of its streams
			for _, s := range truth.Streams {
				wantPackets[s.CallID] += s.Packets
			}
			for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(200 * time.Millisecond) {
				var diffs []string
				for _, c := range truth.Calls {
					d, ok := getLiveCall(t, base, c.CallID)
					if !ok {
						diffs = append(diffs, c.CallID+": not stored")
						continue
					}
					packets := 0
					for _, s := range d.Streams {
						packets += s.Packets
					}
					if d.Call.State != c.State || d.Call.Messages != c.Messages || len(d.Messages) != c.Messages || packets != wantPackets[c.CallID] {
						diffs = append(diffs, fmt.Sprintf("%s: state %s, %d messages stored (%d counted), %d RTP packets; want %s, %d, %d",
							c.CallID, d.Call.State, len(d.Messages), d.Call.Messages, packets, c.State, c.Messages, wantPackets[c.CallID]))
					}
				}
				if len(diffs) == 0 {
					break
				}
				if time.Now().After(deadline) {
					var st struct {
						Live pipeline.LiveStatus `json:"live"`
					}
					getJSON(t, base+"/api/v1/status", &st)
					t.Fatalf("after the replay of %s (capture status %+v):\n%v", pcap, st.Live, diffs)
				}
			}
		})
	}
}

// getLiveCall reads one call from the API; false while it is not stored yet.
func getLiveCall(t *testing.T, base, callID string) (liveCallDetail, bool) {
	t.Helper()
	var d liveCallDetail
	resp, err := http.Get(base + "/api/v1/calls/" + url.PathEscape(callID))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	switch resp.StatusCode {
	case http.StatusNotFound:
		return d, false
	case http.StatusOK:
	default:
		t.Fatalf("GET call %s: %s", callID, resp.Status)
	}
	if err := json.NewDecoder(resp.Body).Decode(&d); err != nil {
		t.Fatalf("GET call %s: %v", callID, err)
	}
	return d, true
}
