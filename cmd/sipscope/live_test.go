package main

import (
	"errors"
	"io"
	"net"
	"net/url"
	"testing"
	"time"

	"github.com/sipscope/sipscope/capture"
	"github.com/sipscope/sipscope/decode"
	"github.com/sipscope/sipscope/decode/sip"
	"github.com/sipscope/sipscope/frame"
	"github.com/sipscope/sipscope/hep"
	"github.com/sipscope/sipscope/pipeline"
)

// hepMessages reads every SIP message of a capture and wraps it as the
// HEPv3 packet a capture agent would send, with its original time.
func hepMessages(t *testing.T, path string) (pkts [][]byte, callIDs []string) {
	t.Helper()
	src, err := capture.OpenFile(path)
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	dec := decode.NewDecoder()
	var (
		f   frame.Frame
		p   decode.Packet
		msg sip.Message
	)
	for {
		err := src.Next(&f)
		if errors.Is(err, io.EOF) {
			return pkts, callIDs
		}
		if err != nil {
			t.Fatal(err)
		}
		if dec.Decode(f.LinkType, f.Data, f.TS, &p) != nil || !sip.LooksLikeSIP(p.Payload) || msg.Unmarshal(p.Payload) != nil {
			continue
		}
		proto := uint8(17)
		if p.Transport == decode.TransportTCP {
			proto = 6
		}
		h := hep.Packet{
			Version: 3, IPFamily: hep.FamilyIPv4, Protocol: proto,
			SrcIP: p.Src.Addr(), DstIP: p.Dst.Addr(), SrcPort: p.Src.Port(), DstPort: p.Dst.Port(),
			TimestampSec: uint32(f.TS / 1e9), TimestampUsec: uint32(f.TS % 1e9 / 1e3),
			ProtoType: hep.ProtoSIP, NodeID: 7, NodeName: []byte("edge-1"), Payload: p.Payload,
		}
		b, err := h.Marshal()
		if err != nil {
			t.Fatal(err)
		}
		pkts = append(pkts, b)
		callIDs = append(callIDs, string(msg.CallID))
	}
}

func freeUDPAddr(t *testing.T) string {
	t.Helper()
	c, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := c.LocalAddr().String()
	c.Close()
	return addr
}

// TestLiveHEPCallsAppearWhileRinging feeds a running serve over its HEP
// listener: a call must be listed within 2 s of its INVITE, before it is
// answered, and end in the state the capture shows.
func TestLiveHEPCallsAppearWhileRinging(t *testing.T) {
	pkts, ids := hepMessages(t, "../../testdata/calls.pcap")
	hepAddr := freeUDPAddr(t)
	base, stop := startServe(t, "--data", t.TempDir(), "--hep-listen", "udp://"+hepAddr, "--flush", "200ms")
	defer stop()
	conn, err := net.Dial("udp", hepAddr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()

	first := ids[0]
	if _, err := conn.Write(pkts[0]); err != nil { // the first INVITE only
		t.Fatal(err)
	}
	sent := time.Now()
	var list callList
	for {
		getJSON(t, base+"/api/v1/calls?call_id="+url.QueryEscape(first), &list)
		if list.Total == 1 {
			break
		}
		if time.Since(sent) > 2*time.Second {
			t.Fatalf("call %s not listed 2 s after its INVITE", first)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if st := list.Calls[0].State; st != "no_final" {
		t.Errorf("a ringing call is listed as %q", st)
	}
	for _, b := range pkts[1:] {
		if _, err := conn.Write(b); err != nil {
			t.Fatal(err)
		}
		time.Sleep(200 * time.Microsecond) // a loopback socket buffer is small
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		var all, answered callList
		getJSON(t, base+"/api/v1/calls?limit=100", &all)
		getJSON(t, base+"/api/v1/calls?state=answered", &answered)
		if all.Total == 8 && answered.Total == 2 {
			var st struct {
				Live pipeline.LiveStatus `json:"live"`
			}
			getJSON(t, base+"/api/v1/status", &st)
			if st.Live.HEPReceived != uint64(len(pkts)) || st.Live.HEPDropped != 0 {
				t.Errorf("status reports %d HEP packets received (%d dropped), sent %d", st.Live.HEPReceived, st.Live.HEPDropped, len(pkts))
			}
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("after all messages: %d calls (%d answered), want 8 (2)", all.Total, answered.Total)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// TestLiveShutdownLosesNothing stops serve right after the last HEP packet
// is sent: every message already received must be in the store after the
// drain, as a restart shows.
func TestLiveShutdownLosesNothing(t *testing.T) {
	pkts, _ := hepMessages(t, "../../testdata/calls.pcap")
	hepAddr := freeUDPAddr(t)
	dir := t.TempDir()
	_, stop := startServe(t, "--data", dir, "--hep-listen", "udp://"+hepAddr, "--flush", "1h")
	conn, err := net.Dial("udp", hepAddr)
	if err != nil {
		t.Fatal(err)
	}
	for _, b := range pkts {
		if _, err := conn.Write(b); err != nil {
			t.Fatal(err)
		}
		time.Sleep(200 * time.Microsecond)
	}
	conn.Close()
	time.Sleep(100 * time.Millisecond) // in the kernel's socket buffer is not yet received
	stop()

	base, stop2 := startServe(t, "--data", dir)
	defer stop2()
	var all callList
	getJSON(t, base+"/api/v1/calls?limit=100", &all)
	if all.Total != 8 {
		t.Fatalf("after shutdown and restart: %d calls, want 8", all.Total)
	}
	stored := 0
	for _, c := range all.Calls {
		var d struct {
			Messages []struct{} `json:"messages"`
		}
		getJSON(t, base+"/api/v1/calls/"+url.PathEscape(c.CallID), &d)
		stored += len(d.Messages)
	}
	// 48 SIP messages in calls.pcap, 8 of them in the two registrations.
	if want := len(pkts) - 8; stored != want {
		t.Errorf("stored %d call messages after shutdown, want %d", stored, want)
	}
}
