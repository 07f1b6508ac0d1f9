//go:build linux

package main

import (
	"fmt"
	"os/exec"
	"strconv"
	"testing"
	"time"

	"github.com/sipscope/sipscope/hep"
)

// TestServeSendsTheRTPStatsOfACallCapturedOnAVeth replays heplify's example
// call with tcpreplay into a veth that serve captures (--iface, eBPF
// filter), with --hep-send-stats and --hep-send-rtcp: the collector gets
// both media streams of the call as RTP agent reports under its Call-ID,
// the final ones with the packet counts and loss tshark found (timing
// values differ on a replay), and the call's RTCP.
func TestServeSendsTheRTPStatsOfACallCapturedOnAVeth(t *testing.T) {
	requireLiveRoot(t, "tcpreplay", "sysctl")
	mc := readMediaCapture(t, rtcpCapture)
	oracle := tsharkStreams(t, rtcpCapture)
	link := newUACLink(t)
	coll, collAddr := udpCollector(t)
	_, stop := startServe(t, "--data", t.TempDir(), "--iface", link.rootIf, "--flush", "200ms", "--ring-mb", "8", "--promisc",
		"--hep-send", "udp://"+collAddr, "--hep-send-stats", "--hep-send-rtcp",
		"--hep-node-id", strconv.Itoa(int(hepTestNode.HEPNodeID)), "--hep-node-name", hepTestNode.HEPNodeName, "--hep-auth-key", hepTestNode.HEPAuthKey)
	t.Cleanup(stop) // before the veth goes away
	out, err := exec.Command("ip", "netns", "exec", link.ns, "tcpreplay", "-q", "-i", link.nsIf, "--multiplier", "8", rtcpCapture).CombinedOutput()
	if err != nil {
		t.Fatalf("tcpreplay: %v\n%s", err, out)
	}
	time.Sleep(500 * time.Millisecond) // the last frames through the ring and the pipeline
	stop()
	got := byProtoType(collectUDP(t, coll, 300*time.Millisecond))

	if n := len(got[hep.ProtoSIP]); n != mc.sipMessages {
		t.Errorf("%d SIP messages forwarded, the capture has %d", n, mc.sipMessages)
	}
	var wantRTCP []capturedRTCP
	for _, c := range mc.rtcp {
		if c.callID != "" {
			wantRTCP = append(wantRTCP, c)
		}
	}
	if n := len(got[hep.ProtoRTCP]); n != len(wantRTCP) {
		t.Errorf("%d RTCP packets forwarded, want %d", n, len(wantRTCP))
	}
	finals := map[string]statsJSON{}
	for _, r := range got[hep.ProtoMOSFull] {
		var st statsJSON
		decodeStrict(t, r.p.Payload, &st)
		if st.Type == "FINAL" {
			key := fmt.Sprintf("%s %s:%d", st.SSRC, st.SrcIP, st.SrcPort)
			if _, dup := finals[key]; dup {
				t.Errorf("%s: two final reports", key)
			}
			finals[key] = st
		}
		if string(r.p.CorrelationID) != st.CorrelationID || r.p.NodeID != hepTestNode.HEPNodeID {
			t.Errorf("report with correlation id %q (JSON %q), node %d", r.p.CorrelationID, st.CorrelationID, r.p.NodeID)
		}
	}
	// The call's two directions are the SDP-learned streams with the
	// INVITE's Call-ID; the third SDP-learned stream belongs to SDP without
	// SIP (MGCP) and is bound to no call.
	callID := wantRTCP[0].callID
	matched := 0
	for key, ts := range oracle {
		st, ok := finals[key]
		if !ok {
			continue
		}
		matched++
		if st.CorrelationID != callID || st.TotalPK != ts.packets || st.PacketLoss != max(ts.lost, 0) || st.MOS < 1 {
			t.Errorf("%s: final report %+v; want Call-ID %s, %d packets, %d lost (tshark)", key, st, callID, ts.packets, ts.lost)
		}
	}
	if matched != 2 || len(finals) != 2 {
		t.Errorf("final reports for %d streams (%d of tshark's SDP-learned streams), want the call's 2 directions", len(finals), matched)
	}
}
