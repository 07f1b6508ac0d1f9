package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"

	"github.com/sipscope/sipscope/hep"
)

// sipDatagram is one SIP message of a test's traffic.
type sipDatagram struct {
	ts       time.Time
	src, dst netip.AddrPort
	payload  []byte
}

// scannerSweep is a SIPVicious-style OPTIONS sweep from 203.0.113.9 over
// 200 extensions of 192.0.2.10, each answered 404, 150 ms apart (30 s:
// an alert is confirmed by a second check 10 s of capture time after the
// first), from at.
func scannerSweep(at time.Time) []sipDatagram {
	attacker, pbx := netip.MustParseAddrPort("203.0.113.9:5070"), netip.MustParseAddrPort("192.0.2.10:5060")
	var out []sipDatagram
	for i := range 200 {
		ts := at.Add(time.Duration(i) * 150 * time.Millisecond)
		user := fmt.Sprint(100 + i)
		req := fmt.Sprintf("OPTIONS sip:%s@192.0.2.10 SIP/2.0\r\nVia: SIP/2.0/UDP 203.0.113.9:5070;branch=z9hG4bK-scan%d\r\n"+
			"From: \"sipvicious\"<sip:100@1.1.1.1>;tag=%d\r\nTo: <sip:%s@192.0.2.10>\r\nCall-ID: scan-%d\r\nCSeq: 1 OPTIONS\r\n"+
			"User-Agent: friendly-scanner\r\nContent-Length: 0\r\n\r\n", user, i, i, user, i)
		resp := fmt.Sprintf("SIP/2.0 404 Not Found\r\nVia: SIP/2.0/UDP 203.0.113.9:5070;branch=z9hG4bK-scan%d\r\n"+
			"From: \"sipvicious\"<sip:100@1.1.1.1>;tag=%d\r\nTo: <sip:%s@192.0.2.10>;tag=pbx%d\r\nCall-ID: scan-%d\r\nCSeq: 1 OPTIONS\r\n"+
			"Content-Length: 0\r\n\r\n", i, i, user, i, i)
		out = append(out, sipDatagram{ts, attacker, pbx, []byte(req)}, sipDatagram{ts.Add(2 * time.Millisecond), pbx, attacker, []byte(resp)})
	}
	return out
}

// A capture of a scanner sweep gives a scanner alert in analyze --json.
func TestAnalyzeReportsAScannerSweep(t *testing.T) {
	path := filepath.Join(t.TempDir(), "scan.pcap")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	w := pcapgo.NewWriter(f)
	if err := w.WriteFileHeader(65535, layers.LinkTypeRaw); err != nil {
		t.Fatal(err)
	}
	for _, d := range scannerSweep(time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)) {
		ip := &layers.IPv4{Version: 4, TTL: 64, Protocol: layers.IPProtocolUDP, SrcIP: d.src.Addr().AsSlice(), DstIP: d.dst.Addr().AsSlice()}
		udp := &layers.UDP{SrcPort: layers.UDPPort(d.src.Port()), DstPort: layers.UDPPort(d.dst.Port())}
		if err := udp.SetNetworkLayerForChecksum(ip); err != nil {
			t.Fatal(err)
		}
		buf := gopacket.NewSerializeBuffer()
		if err := gopacket.SerializeLayers(buf, gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true}, ip, udp, gopacket.Payload(d.payload)); err != nil {
			t.Fatal(err)
		}
		b := buf.Bytes()
		if err := w.WritePacket(gopacket.CaptureInfo{Timestamp: d.ts, CaptureLength: len(b), Length: len(b)}, b); err != nil {
			t.Fatal(err)
		}
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	var out, errb strings.Builder
	if code := run(t.Context(), []string{"analyze", path, "--json"}, &out, &errb); code != 0 {
		t.Fatalf("analyze exit %d: %s", code, errb.String())
	}
	var doc struct {
		Alerts []struct {
			Rule, Key, Summary string
			TopOffenders       json.RawMessage `json:"top_offenders"`
		} `json:"alerts"`
	}
	if err := json.Unmarshal([]byte(out.String()), &doc); err != nil {
		t.Fatal(err)
	}
	if len(doc.Alerts) != 1 || doc.Alerts[0].Rule != "scanner" || !strings.Contains(doc.Alerts[0].Key+doc.Alerts[0].Summary, "203.0.113.9") {
		t.Fatalf("alerts %+v; want one scanner alert naming 203.0.113.9", doc.Alerts)
	}
	out.Reset()
	if code := run(t.Context(), []string{"analyze", path}, &out, &errb); code != 0 || !strings.Contains(out.String(), "ALERTS (1)") {
		t.Errorf("the text output does not list the alert:\n%s", out.String())
	}
}

// The same sweep arriving over HEP at a running serve: the alert is listed
// by the API and posted to the configured webhook.
func TestServeRaisesAScannerAlertAndPostsIt(t *testing.T) {
	var mu sync.Mutex
	var posted []map[string]any
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		var body map[string]any
		if json.Unmarshal(b, &body) == nil {
			mu.Lock()
			posted = append(posted, body)
			mu.Unlock()
		}
	}))
	defer hook.Close()
	hepAddr := freeUDPAddr(t)
	base, stop := startServe(t, "--data", t.TempDir(), "--hep-listen", "udp://"+hepAddr, "--flush", "100ms", "--alert-webhook", hook.URL)
	defer stop()
	var pkts [][]byte
	for _, d := range scannerSweep(time.Now().Add(-time.Minute)) {
		h := hep.Packet{Version: 3, IPFamily: hep.FamilyIPv4, Protocol: 17, SrcIP: d.src.Addr(), DstIP: d.dst.Addr(),
			SrcPort: d.src.Port(), DstPort: d.dst.Port(), TimestampSec: uint32(d.ts.Unix()), TimestampUsec: uint32(d.ts.Nanosecond() / 1000),
			ProtoType: hep.ProtoSIP, Payload: d.payload}
		b, err := h.Marshal()
		if err != nil {
			t.Fatal(err)
		}
		pkts = append(pkts, b)
	}
	sendHEP(t, hepAddr, pkts)
	var list struct {
		Alerts []struct {
			ID, Rule, Key string
		} `json:"alerts"`
		Firing int `json:"firing"`
	}
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		getJSON(t, base+"/api/v1/alerts?rule=scanner", &list)
		mu.Lock()
		n := len(posted)
		mu.Unlock()
		if len(list.Alerts) == 1 && n > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after the sweep: alerts %+v, %d webhook posts", list.Alerts, n)
		}
	}
	if !strings.Contains(list.Alerts[0].Key, "203.0.113.9") {
		t.Errorf("alert key %q does not name the scanner", list.Alerts[0].Key)
	}
	var one struct{ Rule string }
	getJSON(t, base+"/api/v1/alerts/"+list.Alerts[0].ID, &one)
	mu.Lock()
	defer mu.Unlock()
	if one.Rule != "scanner" || fmt.Sprint(posted[0]["rule"]) != "scanner" {
		t.Errorf("GET /alerts/{id} says %q, the webhook got %v", one.Rule, posted[0])
	}
}
