//go:build linux

package main

import (
	"fmt"
	"os/exec"
	"strconv"
	"testing"
	"time"

	"github.com/sipscope/sipscope/hep"
	"github.com/sipscope/sipscope/internal/heptest"
	"github.com/sipscope/sipscope/internal/netnstest"
)

// TestServeSendsTheRTPStatsOfACallCapturedOnAVeth replays heplify's example
// call with tcpreplay into a veth that serve captures (--iface, eBPF
// filter), with --hep-send-stats and --hep-send-rtcp: the collector gets
// both media streams of the call as RTP agent reports under its Call-ID,
// the final ones with the packet counts and loss tshark found (timing
// values differ on a replay), and the call's RTCP.
func TestServeSendsTheRTPStatsOfACallCapturedOnAVeth(t *testing.T) {
	netnstest.RequireLiveRoot(t, "tcpreplay", "sysctl")
	mc := heptest.ReadMediaCapture(t, heptest.RTCPCapture)
	oracle := heptest.TsharkStreams(t, heptest.RTCPCapture)
	link := netnstest.NewUACLink(t)
	coll, collAddr := heptest.UDPCollector(t)
	_, stop := startServe(t, "--data", t.TempDir(), "--iface", link.RootIf, "--flush", "200ms", "--ring-mb", "8", "--promisc",
		"--hep-send", "udp://"+collAddr, "--hep-send-stats", "--hep-send-rtcp",
		"--hep-node-id", strconv.Itoa(int(heptest.Node.HEPNodeID)), "--hep-node-name", heptest.Node.HEPNodeName, "--hep-auth-key", heptest.Node.HEPAuthKey)
	t.Cleanup(stop) // before the veth goes away
	out, err := exec.Command("ip", "netns", "exec", link.NS, "tcpreplay", "-q", "-i", link.NsIf, "--multiplier", "8", heptest.RTCPCapture).CombinedOutput()
	if err != nil {
		t.Fatalf("tcpreplay: %v\n%s", err, out)
	}
	time.Sleep(500 * time.Millisecond) // the last frames through the ring and the pipeline
	stop()
	got := heptest.ByProtoType(heptest.CollectUDP(t, coll, 300*time.Millisecond))

	if n := len(got[hep.ProtoSIP]); n != mc.SIPMessages {
		t.Errorf("%d SIP messages forwarded, the capture has %d", n, mc.SIPMessages)
	}
	var wantRTCP []heptest.CapturedRTCP
	for _, c := range mc.RTCP {
		if c.CallID != "" {
			wantRTCP = append(wantRTCP, c)
		}
	}
	if n := len(got[hep.ProtoRTCP]); n != len(wantRTCP) {
		t.Errorf("%d RTCP packets forwarded, want %d", n, len(wantRTCP))
	}
	finals := map[string]heptest.StatsJSON{}
	for _, r := range got[hep.ProtoMOSFull] {
		var st heptest.StatsJSON
		heptest.DecodeStrict(t, r.P.Payload, &st)
		if st.Type == "FINAL" {
			key := fmt.Sprintf("%s %s:%d", st.SSRC, st.SrcIP, st.SrcPort)
			if _, dup := finals[key]; dup {
				t.Errorf("%s: two final reports", key)
			}
			finals[key] = st
		}
		if string(r.P.CorrelationID) != st.CorrelationID || r.P.NodeID != heptest.Node.HEPNodeID {
			t.Errorf("report with correlation id %q (JSON %q), node %d", r.P.CorrelationID, st.CorrelationID, r.P.NodeID)
		}
	}
	// The call's two directions are the SDP-learned streams with the
	// INVITE's Call-ID; the third SDP-learned stream belongs to SDP without
	// SIP (MGCP) and is bound to no call.
	callID := wantRTCP[0].CallID
	matched := 0
	for key, ts := range oracle {
		st, ok := finals[key]
		if !ok {
			continue
		}
		matched++
		if st.CorrelationID != callID || st.TotalPK != ts.Packets || st.PacketLoss != max(ts.Lost, 0) || st.MOS < 1 {
			t.Errorf("%s: final report %+v; want Call-ID %s, %d packets, %d lost (tshark)", key, st, callID, ts.Packets, ts.Lost)
		}
	}
	if matched != 2 || len(finals) != 2 {
		t.Errorf("final reports for %d streams (%d of tshark's SDP-learned streams), want the call's 2 directions", len(finals), matched)
	}
}
