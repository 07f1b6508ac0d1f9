package main

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"

	"github.com/sipscope/sipscope/hep"
)

// register is one phone's registration with a digest challenge: REGISTER,
// 401, REGISTER with credentials, 200, a few ms apart, from at.
func register(at time.Time, phone, registrar netip.AddrPort, user string) []sipDatagram {
	callID := fmt.Sprintf("reg-%s@%s", user, phone.Addr())
	head := func(cseq int, branch string) string {
		return fmt.Sprintf("Via: SIP/2.0/UDP %s;branch=z9hG4bK-%s-%s\r\nFrom: <sip:%s@example.com>;tag=t%s\r\n"+
			"To: <sip:%s@example.com>\r\nCall-ID: %s\r\nCSeq: %d REGISTER\r\n", phone, branch, user, user, user, user, callID, cseq)
	}
	contact := fmt.Sprintf("Contact: <sip:%s@%s>;expires=3600\r\nUser-Agent: Yealink SIP-T46S 66.86\r\n", user, phone)
	req1 := "REGISTER sip:example.com SIP/2.0\r\n" + head(1, "a") + contact + "Content-Length: 0\r\n\r\n"
	chal := "SIP/2.0 401 Unauthorized\r\n" + head(1, "a") +
		"WWW-Authenticate: Digest realm=\"example.com\", nonce=\"5f2a\", algorithm=MD5\r\nContent-Length: 0\r\n\r\n"
	req2 := "REGISTER sip:example.com SIP/2.0\r\n" + head(2, "b") + contact +
		fmt.Sprintf("Authorization: Digest username=\"%s\", realm=\"example.com\", nonce=\"5f2a\", uri=\"sip:example.com\", response=\"0123456789abcdef0123456789abcdef\"\r\n", user) +
		"Content-Length: 0\r\n\r\n"
	ok := "SIP/2.0 200 OK\r\n" + head(2, "b") + contact + "Content-Length: 0\r\n\r\n"
	ms := time.Millisecond
	return []sipDatagram{
		{at, phone, registrar, []byte(req1)}, {at.Add(2 * ms), registrar, phone, []byte(chal)},
		{at.Add(10 * ms), phone, registrar, []byte(req2)}, {at.Add(13 * ms), registrar, phone, []byte(ok)},
	}
}

// registrationStorm is every phone of a site re-registering at once after
// an outage: phones 10.20.x.y, each challenged once, within 10 s from at,
// then one ordinary registration a second until until (the capture time
// the engine needs to confirm the storm, see it end and resolve it).
func registrationStorm(phones int, at, until time.Time) []sipDatagram {
	registrar := netip.MustParseAddrPort("192.0.2.1:5060")
	var out []sipDatagram
	for i := range phones {
		phone := netip.AddrPortFrom(netip.AddrFrom4([4]byte{10, 20, byte(i / 250), byte(1 + i%250)}), 5060)
		ts := at.Add(time.Duration(i) * 10 * time.Second / time.Duration(phones))
		out = append(out, register(ts, phone, registrar, fmt.Sprint(20000+i))...)
	}
	phone := netip.MustParseAddrPort("10.30.0.1:5060")
	for ts, i := at.Add(11*time.Second), 0; ts.Before(until); ts, i = ts.Add(time.Second), i+1 {
		out = append(out, register(ts, phone, registrar, fmt.Sprint(30000+i))...)
	}
	return out
}

func hepOf(t *testing.T, ds []sipDatagram) [][]byte {
	t.Helper()
	var pkts [][]byte
	for _, d := range ds {
		h := hep.Packet{Version: 3, IPFamily: hep.FamilyIPv4, Protocol: 17, SrcIP: d.src.Addr(), DstIP: d.dst.Addr(),
			SrcPort: d.src.Port(), DstPort: d.dst.Port(), TimestampSec: uint32(d.ts.Unix()), TimestampUsec: uint32(d.ts.Nanosecond() / 1000),
			ProtoType: hep.ProtoSIP, Payload: d.payload}
		b, err := h.Marshal()
		if err != nil {
			t.Fatal(err)
		}
		pkts = append(pkts, b)
	}
	return pkts
}

// sendBurst sends pkts over UDP as fast as the listener's 16 MB socket
// buffer takes them, pausing a millisecond every 100 packets.
func sendBurst(t *testing.T, addr string, pkts [][]byte) {
	t.Helper()
	conn, err := net.Dial("udp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	for i, b := range pkts {
		if _, err := conn.Write(b); err != nil {
			t.Fatal(err)
		}
		if i%100 == 99 {
			time.Sleep(time.Millisecond)
		}
	}
}

type storedAlert struct {
	ID, Rule, Key, State string
	End                  string // "" while firing
	TopOffenders         []struct {
		Kind, Value string
		Count       int
	} `json:"top_offenders"`
}

// A registration storm over HEP into a running serve raises
// registration_storm; the alert is stored, resolved once the storm is
// over, listed again after serve restarts, and its PCAP holds the
// offending phones' registrations.
func TestServeStoresARegistrationStormAcrossARestart(t *testing.T) {
	const phones = 3000
	data, hepAddr := t.TempDir(), freeUDPAddr(t)
	args := []string{"--data", data, "--hep-listen", "udp://" + hepAddr, "--flush", "100ms"}
	base, stop := startServe(t, args...)
	defer func() { stop() }()
	// Capture time starts just ahead of the clock, which serve's engine
	// follows until packets arrive, and runs 2 minutes on: sent at once,
	// the storm, its end and its resolution play out within seconds.
	at := time.Now().Add(2 * time.Second)
	feed := registrationStorm(phones, at, at.Add(130*time.Second))
	began := time.Now()
	sendBurst(t, hepAddr, hepOf(t, feed))
	t.Logf("sent %d SIP messages (%d phones registering within 10 s, then 1 a second) over HEP in %v", len(feed), phones, time.Since(began))

	var list struct {
		Alerts []storedAlert `json:"alerts"`
		Total  int           `json:"total"`
		Firing int           `json:"firing"`
	}
	storms := func() []storedAlert {
		getJSON(t, base+"/api/v1/alerts?rule=registration_storm", &list)
		return list.Alerts
	}
	var before []storedAlert
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		before = storms()
		resolved := len(before) > 0
		for _, a := range before {
			resolved = resolved && a.State == "resolved"
		}
		if resolved {
			break
		}
		if time.Now().After(deadline) {
			resp, _ := http.Get(base + "/metrics")
			m, _ := io.ReadAll(resp.Body)
			var st map[string]any
			getJSON(t, base+"/api/v1/status", &st)
			var keep []string
			for _, l := range strings.Split(string(m), "\n") {
				if strings.HasPrefix(l, "sipscope_alert") || strings.Contains(l, "drop") {
					keep = append(keep, l)
				}
			}
			t.Fatalf("after the storm: stored registration storms %+v\n%s\n%v", before, strings.Join(keep, "\n"), st)
		}
	}
	t.Logf("stored after %v: %+v", time.Since(began), before)
	if !strings.Contains(fmt.Sprint(before), "global") {
		t.Errorf("no global registration storm among %+v", before)
	}

	stop()
	base, stop = startServe(t, args...)
	after := storms()
	if fmt.Sprint(after) != fmt.Sprint(before) {
		t.Fatalf("after the restart the stored storms are\n%+v\nwant\n%+v", after, before)
	}

	a := after[0]
	resp, err := http.Get(base + "/api/v1/alerts/" + a.ID + "/pcap")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("pcap: status %d: %s", resp.StatusCode, body)
	}
	offenders := map[string]bool{}
	for _, o := range a.TopOffenders {
		if o.Kind == "ip" {
			offenders[o.Value] = true
		}
	}
	r, err := pcapgo.NewReader(strings.NewReader(string(body)))
	if err != nil {
		t.Fatal(err)
	}
	n, registers := 0, 0
	for {
		b, _, err := r.ReadPacketData()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		p := gopacket.NewPacket(b, layers.LayerTypeEthernet, gopacket.Default)
		ip, _ := p.Layer(layers.LayerTypeIPv4).(*layers.IPv4)
		if ip == nil || !offenders[ip.SrcIP.String()] && !offenders[ip.DstIP.String()] {
			t.Fatalf("packet %d is not from or to an offender %v: %v", n, offenders, p)
		}
		if udp, _ := p.Layer(layers.LayerTypeUDP).(*layers.UDP); udp != nil && strings.HasPrefix(string(udp.Payload), "REGISTER ") {
			registers++
		}
		n++
	}
	t.Logf("evidence of %s %s: %d packets (%d REGISTERs) of offenders %v, truncated %q",
		a.Rule, a.Key, n, registers, offenders, resp.Header.Get("X-Sipscope-Truncated"))
	if n == 0 || registers == 0 {
		t.Errorf("the evidence PCAP holds %d packets, %d REGISTERs", n, registers)
	}
}
