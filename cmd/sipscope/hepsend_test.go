package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/sipscope/sipscope/decode"
	"github.com/sipscope/sipscope/hep"
	"github.com/sipscope/sipscope/internal/heptest"
)

func TestServeRefusesHEPSendWithoutALiveSource(t *testing.T) {
	var out, errb bytes.Buffer
	code := run(t.Context(), []string{"serve", "--data", t.TempDir(), "--listen", heptest.FreeAddr(t), "--hep-send", "udp://127.0.0.1:9060"}, &out, &errb)
	if code == 0 || !strings.Contains(errb.String(), "needs --iface or --hep-listen") {
		t.Errorf("serve --hep-send alone exited %d: %s", code, errb.String())
	}
}

// metricValue reads one sample of a Prometheus text exposition.
func metricValue(t *testing.T, base, series string) float64 {
	t.Helper()
	resp, err := http.Get(base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(series) + ` (\S+)$`).FindSubmatch(b)
	if m == nil {
		t.Fatalf("no %s in /metrics", series)
	}
	v, err := strconv.ParseFloat(string(m[1]), 64)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// TestServeForwardsWhatItReceivesAndDrainsOnShutdown runs serve as a relay:
// HEP in on A (from a "Kamailio" played by this test), HEPv3 out on B with
// the node identity of the config file. The first half of the messages is
// forwarded while serve runs (the metric counts them); the second half is
// sent just before shutdown, and still every message must reach B, in
// order, byte for byte.
func TestServeForwardsWhatItReceivesAndDrainsOnShutdown(t *testing.T) {
	pkts, _ := hepMessages(t, "../../testdata/calls.pcap")
	coll, collAddr := heptest.UDPCollector(t)
	hepIn := freeUDPAddr(t)
	cfg := filepath.Join(t.TempDir(), "sipscope.json")
	cfgJSON, err := json.Marshal(map[string]any{
		"hep_send": "udp://" + collAddr, "hep_node_id": heptest.Node.HEPNodeID,
		"hep_node_name": heptest.Node.HEPNodeName, "hep_auth_key": "from-config",
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(cfg, cfgJSON, 0o600); err != nil {
		t.Fatal(err)
	}
	// The flag overrides the config file's key.
	base, stop := startServe(t, "--data", t.TempDir(), "--config", cfg, "--hep-auth-key", heptest.Node.HEPAuthKey,
		"--hep-listen", "udp://"+hepIn, "--flush", "1h")
	defer stop()
	conn, err := net.Dial("udp", hepIn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	half := len(pkts) / 2
	for _, b := range pkts[:half] {
		if _, err := conn.Write(b); err != nil {
			t.Fatal(err)
		}
		time.Sleep(200 * time.Microsecond)
	}
	for deadline := time.Now().Add(5 * time.Second); ; {
		if v := metricValue(t, base, `sipscope_hep_send_packets_total{result="sent",type="sip"}`); v == float64(half) {
			break
		} else if time.Now().After(deadline) {
			t.Fatalf("sipscope_hep_send_packets_total{result=\"sent\",type=\"sip\"} = %v, want %d", v, half)
		}
		time.Sleep(20 * time.Millisecond)
	}
	for _, b := range pkts[half:] {
		if _, err := conn.Write(b); err != nil {
			t.Fatal(err)
		}
		time.Sleep(200 * time.Microsecond)
	}
	time.Sleep(100 * time.Millisecond) // in the kernel's socket buffer is not yet read
	stop()

	for i, b := range pkts {
		var in hep.Packet
		if err := in.Unmarshal(b); err != nil {
			t.Fatal(err)
		}
		out := heptest.ReadDatagram(t, coll)
		pkt := decode.Packet{
			TS:        in.UnixNano(),
			Src:       netip.AddrPortFrom(in.SrcIP, in.SrcPort),
			Dst:       netip.AddrPortFrom(in.DstIP, in.DstPort),
			Transport: map[uint8]decode.Transport{17: decode.TransportUDP, 6: decode.TransportTCP}[in.Protocol],
		}
		heptest.CheckForwarded(t, out, pkt, in.Payload)
		if t.Failed() {
			t.Fatalf("forwarded message %d of %d differs", i, len(pkts))
		}
	}
	coll.SetReadDeadline(time.Now().Add(200 * time.Millisecond))
	if n, err := coll.Read(make([]byte, 70000)); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Errorf("the collector got more than the %d messages (%d bytes, %v)", len(pkts), n, err)
	}
}

// TestServeForwardsRTCPOnlyWhenAsked runs serve as a relay of the same
// call's SIP and RTCP, heptest.Received over HEP: without --hep-send-rtcp nothing
// but SIP leaves; with hep_send_rtcp in the config file, the call's RTCP
// follows as heplify's JSON, the metric counts it, and RTCP of no call is
// counted and kept back.
func TestServeForwardsRTCPOnlyWhenAsked(t *testing.T) {
	mc := heptest.ReadMediaCapture(t, heptest.RTCPCapture)
	var wantRTCP []heptest.CapturedRTCP
	for _, c := range mc.RTCP {
		if c.CallID != "" {
			wantRTCP = append(wantRTCP, c)
		}
	}
	for _, tc := range []struct {
		name   string
		config map[string]any
		rtcp   bool
	}{
		{"with the flags off only SIP is forwarded", nil, false},
		{"with hep_send_rtcp in the config file the call's RTCP follows", map[string]any{"hep_send_rtcp": true}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			coll, collAddr := heptest.UDPCollector(t)
			hepIn := freeUDPAddr(t)
			args := []string{"--data", t.TempDir(), "--hep-listen", "udp://" + hepIn, "--flush", "200ms",
				"--hep-send", "udp://" + collAddr, "--hep-node-id", strconv.Itoa(int(heptest.Node.HEPNodeID)),
				"--hep-node-name", heptest.Node.HEPNodeName, "--hep-auth-key", heptest.Node.HEPAuthKey}
			if tc.config != nil {
				path := filepath.Join(t.TempDir(), "sipscope.json")
				b, err := json.Marshal(tc.config)
				if err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(path, b, 0o600); err != nil {
					t.Fatal(err)
				}
				args = append(args, "--config", path)
			}
			base, stop := startServe(t, args...)
			defer stop()
			conn, err := net.Dial("udp", hepIn)
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			for _, b := range mc.HEPFeed {
				if _, err := conn.Write(b); err != nil {
					t.Fatal(err)
				}
				time.Sleep(200 * time.Microsecond)
			}
			wantSent, wantNoCall := 0, 0
			if tc.rtcp {
				wantSent, wantNoCall = len(wantRTCP), len(mc.RTCP)-len(wantRTCP)
			}
			for deadline := time.Now().Add(5 * time.Second); ; {
				sent := metricValue(t, base, `sipscope_hep_send_packets_total{result="sent",type="rtcp"}`)
				noCall := metricValue(t, base, `sipscope_hep_send_packets_total{result="no_call",type="rtcp"}`)
				sip := metricValue(t, base, `sipscope_hep_send_packets_total{result="sent",type="sip"}`)
				if sent == float64(wantSent) && noCall == float64(wantNoCall) && sip == float64(mc.SIPMessages) {
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("metrics: rtcp sent %v, no_call %v, sip sent %v; want %d, %d, %d", sent, noCall, sip, wantSent, wantNoCall, mc.SIPMessages)
				}
				time.Sleep(20 * time.Millisecond)
			}
			stop()
			got := heptest.ByProtoType(heptest.CollectUDP(t, coll, 300*time.Millisecond))
			if n := len(got[hep.ProtoSIP]); n != mc.SIPMessages {
				t.Errorf("%d SIP messages forwarded, want %d", n, mc.SIPMessages)
			}
			if n := len(got[hep.ProtoRTCP]); n != wantSent {
				t.Fatalf("%d RTCP packets forwarded, want %d", n, wantSent)
			}
			for i, c := range wantRTCP[:wantSent] {
				heptest.CheckRTCPForwarded(t, got[hep.ProtoRTCP][i], c)
			}
			if len(got) != 1+min(wantSent, 1) {
				t.Errorf("the collector got HEP types %v", heptest.Keys(got))
			}
		})
	}
}

func TestServeRefusesRTCPOrStatsWithoutHEPSend(t *testing.T) {
	for _, flag := range []string{"--hep-send-rtcp", "--hep-send-stats"} {
		var out, errb bytes.Buffer
		code := run(t.Context(), []string{"serve", "--data", t.TempDir(), "--listen", heptest.FreeAddr(t), "--hep-listen", "udp://" + freeUDPAddr(t), flag}, &out, &errb)
		if code == 0 || !strings.Contains(errb.String(), "need --hep-send") {
			t.Errorf("serve %s without --hep-send exited %d: %s", flag, code, errb.String())
		}
	}
}
