package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sipscope/sipscope/decode"
	"github.com/sipscope/sipscope/hep"
)

// hepTestNode is the agent identity the sender tests configure.
var hepTestNode = hepSendConfig{HEPNodeID: 4242, HEPNodeName: "edge-test", HEPAuthKey: "s3cret"}

// sipMessage builds a small, valid INVITE whose Call-ID is numbered i and
// whose size grows with pad bytes of a padding header.
func sipMessage(i, pad int) []byte {
	return fmt.Appendf(nil, "INVITE sip:bob@example.com SIP/2.0\r\n"+
		"Via: SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bK%d\r\n"+
		"From: <sip:alice@example.com>;tag=%d\r\n"+
		"To: <sip:bob@example.com>\r\n"+
		"Call-ID: hepsend-%d@192.0.2.1\r\n"+
		"CSeq: 1 INVITE\r\n"+
		"X-Pad: %s\r\n"+
		"Content-Length: 0\r\n\r\n", i, i, i, strings.Repeat("p", pad))
}

// sentPacket is what the pipeline hands the sender for message i.
func sentPacket(i int, transport decode.Transport, v6 bool) decode.Packet {
	src, dst := netip.MustParseAddr("192.0.2.1"), netip.MustParseAddr("198.51.100.7")
	if v6 {
		src, dst = netip.MustParseAddr("2001:db8::1"), netip.MustParseAddr("2001:db8::7")
	}
	return decode.Packet{
		TS:        1700000000_123456000 + int64(i)*1_000_000,
		Src:       netip.AddrPortFrom(src, uint16(5060+i%100)),
		Dst:       netip.AddrPortFrom(dst, 5080),
		Transport: transport,
	}
}

// received is one HEP packet as the collector got it, copied out.
type received struct {
	p   hep.Packet
	raw []byte
}

func decodeHEP(t *testing.T, b []byte) received {
	t.Helper()
	raw := bytes.Clone(b)
	var r received
	if err := r.p.Unmarshal(raw); err != nil {
		t.Fatalf("the collector got a packet that is not HEP: %v", err)
	}
	r.raw = raw
	return r
}

// checkForwarded verifies that r is exactly message i sent with pkt.
func checkForwarded(t *testing.T, r received, pkt decode.Packet, payload []byte) {
	t.Helper()
	p := &r.p
	wantProto := map[decode.Transport]uint8{decode.TransportUDP: 17, decode.TransportTCP: 6, decode.TransportSCTP: 132}[pkt.Transport]
	wantFamily := uint8(hep.FamilyIPv4)
	if pkt.Src.Addr().Is6() {
		wantFamily = hep.FamilyIPv6
	}
	for _, c := range []struct {
		field     string
		got, want any
	}{
		{"version", p.Version, uint8(3)},
		{"proto type", p.ProtoType, uint8(hep.ProtoSIP)},
		{"node id", p.NodeID, hepTestNode.HEPNodeID},
		{"node name", string(p.NodeName), hepTestNode.HEPNodeName},
		{"auth key", string(p.AuthKey), hepTestNode.HEPAuthKey},
		{"IP family", p.IPFamily, wantFamily},
		{"IP protocol", p.Protocol, wantProto},
		{"source", netip.AddrPortFrom(p.SrcIP, p.SrcPort), pkt.Src},
		{"destination", netip.AddrPortFrom(p.DstIP, p.DstPort), pkt.Dst},
		{"capture time", p.UnixNano(), pkt.TS / 1000 * 1000},
		{"payload", string(p.Payload), string(payload)},
		{"compressed", p.CompressedPayload, false},
	} {
		if c.got != c.want {
			t.Errorf("forwarded %s = %v, want %v", c.field, c.got, c.want)
		}
	}
}

// runSender starts s.Run and returns a stop that ends the queue (finish),
// cancels ctx, and waits for Run to return, failing if it takes longer
// than within.
func runSender(t *testing.T, s *hepSender) (cancel context.CancelFunc, wait func(within time.Duration)) {
	t.Helper()
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	var once sync.Once
	wait = func(within time.Duration) {
		once.Do(func() {
			s.finish()
			select {
			case err := <-done:
				if err != nil {
					t.Errorf("Run: %v", err)
				}
			case <-time.After(within):
				t.Fatalf("Run did not return within %v of finish", within)
			}
		})
	}
	t.Cleanup(func() { cancel(); wait(30 * time.Second) })
	return cancel, wait
}

// udpCollector is a real UDP socket on 127.0.0.1 that reads HEP datagrams.
func udpCollector(t *testing.T) (*net.UDPConn, string) {
	t.Helper()
	c, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	c.SetReadBuffer(8 << 20)
	t.Cleanup(func() { c.Close() })
	return c, c.LocalAddr().String()
}

func readDatagram(t *testing.T, c *net.UDPConn) received {
	t.Helper()
	buf := make([]byte, 70000)
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	n, err := c.Read(buf)
	if err != nil {
		t.Fatalf("collector read: %v", err)
	}
	return decodeHEP(t, buf[:n])
}

// tcpCollector accepts connections on a real TCP listener and splits each
// stream into HEP packets with hep.FrameLength. conns tells each accepted
// connection (so a test can cut it).
type tcpCollector struct {
	ln    net.Listener
	pkts  chan received
	conns chan net.Conn
}

func listenTCPCollector(t *testing.T, addr string) *tcpCollector {
	t.Helper()
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	c := &tcpCollector{ln: ln, pkts: make(chan received, 100000), conns: make(chan net.Conn, 16)}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			c.conns <- conn
			go c.read(t, conn)
		}
	}()
	return c
}

func (c *tcpCollector) read(t *testing.T, conn net.Conn) {
	defer conn.Close()
	r := bufio.NewReaderSize(conn, 1<<17)
	for {
		hdr, err := r.Peek(6)
		if err != nil {
			return
		}
		n, err := hep.FrameLength(hdr)
		if err != nil {
			t.Errorf("TCP stream lost its HEP framing: %v", err)
			return
		}
		b := make([]byte, n)
		if _, err := io.ReadFull(r, b); err != nil {
			return
		}
		var got received
		if err := got.p.Unmarshal(b); err != nil {
			t.Errorf("the collector got a packet that is not HEP: %v", err)
			return
		}
		got.raw = b
		c.pkts <- got
	}
}

func (c *tcpCollector) next(t *testing.T) received {
	t.Helper()
	select {
	case r := <-c.pkts:
		return r
	case <-time.After(10 * time.Second):
		t.Fatal("the TCP collector received nothing for 10 s")
		return received{}
	}
}

func TestHEPSenderForwardsEveryFieldOverUDP(t *testing.T) {
	coll, addr := udpCollector(t)
	s := newHEPSenderTo("udp", addr, hepTestNode, hepRingBytes, hepMaxSpans, nil)
	_, wait := runSender(t, s)
	for i, tc := range []struct {
		name      string
		transport decode.Transport
		v6        bool
	}{
		{"a SIP message seen on UDP over IPv4 keeps protocol 17", decode.TransportUDP, false},
		{"a SIP message seen on TCP keeps protocol 6", decode.TransportTCP, false},
		{"a SIP message seen on SCTP keeps protocol 132", decode.TransportSCTP, false},
		{"a SIP message seen over IPv6 is sent with IPv6 addresses", decode.TransportUDP, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			pkt, msg := sentPacket(i, tc.transport, tc.v6), sipMessage(i, 10)
			s.send(&pkt, msg)
			checkForwarded(t, readDatagram(t, coll), pkt, msg)
		})
	}
	t.Run("an IPv4-mapped IPv6 address is sent as IPv4", func(t *testing.T) {
		pkt, msg := sentPacket(9, decode.TransportUDP, false), sipMessage(9, 0)
		want := pkt
		pkt.Src = netip.AddrPortFrom(netip.AddrFrom16(pkt.Src.Addr().As16()), pkt.Src.Port())
		pkt.Dst = netip.AddrPortFrom(netip.AddrFrom16(pkt.Dst.Addr().As16()), pkt.Dst.Port())
		s.send(&pkt, msg)
		checkForwarded(t, readDatagram(t, coll), want, msg)
	})
	wait(5 * time.Second)
	if st := s.stats(); st != (hepSendStats{sent: 5}) {
		t.Errorf("counters %+v, want 5 sent and nothing else", st)
	}
}

// TestHEPSenderWaitsForATCPCollectorAndReconnects starts with no collector
// listening: messages wait in the queue while the sender backs off, and all
// arrive, in order, once the collector is up. Then the collector cuts the
// connection: the sender must dial again and deliver what follows.
func TestHEPSenderWaitsForATCPCollectorAndReconnects(t *testing.T) {
	addr := freeAddr(t) // nothing listens here yet
	s := newHEPSenderTo("tcp", addr, hepTestNode, hepRingBytes, hepMaxSpans, nil)
	s.backoffMin, s.backoffMax = 10*time.Millisecond, 50*time.Millisecond
	_, wait := runSender(t, s)

	const early = 20
	pkts := make([]decode.Packet, 0, 2*early)
	msgs := make([][]byte, 0, 2*early)
	for i := range early {
		pkts, msgs = append(pkts, sentPacket(i, decode.TransportUDP, false)), append(msgs, sipMessage(i, i*7))
		s.send(&pkts[i], msgs[i])
	}
	time.Sleep(200 * time.Millisecond) // several failed dials
	if st := s.stats(); st.sent+st.errors+st.dropped != 0 {
		t.Fatalf("with no collector: %+v, want everything still queued", st)
	}
	coll := listenTCPCollector(t, addr)
	for i := range early {
		checkForwarded(t, coll.next(t), pkts[i], msgs[i])
	}
	first := <-coll.conns
	first.Close()

	// A write into a connection the peer just closed may still succeed
	// (the reset comes back later), so a few messages may be lost in the
	// gap; keep sending until the sender has dialled again.
	var second net.Conn
	for i := early; second == nil; i++ {
		if i > early+500 {
			t.Fatal("the sender did not reconnect after the collector closed the connection")
		}
		pkt, msg := sentPacket(i, decode.TransportUDP, false), sipMessage(i, 0)
		s.send(&pkt, msg)
		select {
		case second = <-coll.conns:
		case <-time.After(20 * time.Millisecond):
		}
	}
	// Everything sent from now on goes over the new connection, complete
	// and in order.
	drainCollector(coll)
	for i := 1000; i < 1010; i++ {
		pkt, msg := sentPacket(i, decode.TransportTCP, false), sipMessage(i, 3)
		s.send(&pkt, msg)
		checkForwarded(t, coll.next(t), pkt, msg)
	}
	wait(5 * time.Second)
}

// drainCollector waits until the collector has had nothing new for a
// moment and throws away what it holds.
func drainCollector(c *tcpCollector) {
	for {
		select {
		case <-c.pkts:
		case <-time.After(300 * time.Millisecond):
			return
		}
	}
}

// TestHEPSenderDropsAndCountsWhenTheQueueIsFull blocks the sender on a
// collector that is not there yet: the queue holds exactly its capacity,
// the rest is dropped and counted, and what was held arrives later.
func TestHEPSenderDropsAndCountsWhenTheQueueIsFull(t *testing.T) {
	addr := freeAddr(t)
	const spans = 8
	s := newHEPSenderTo("tcp", addr, hepTestNode, hepRingBytes, spans, nil)
	s.backoffMin, s.backoffMax = 10*time.Millisecond, 20*time.Millisecond
	_, wait := runSender(t, s)

	pkt0, msg0 := sentPacket(0, decode.TransportUDP, false), sipMessage(0, 0)
	s.send(&pkt0, msg0)
	// Wait until Run has taken the first message: it now retries it, and
	// the channel has room for exactly `spans` more.
	for deadline := time.Now().Add(5 * time.Second); len(s.q.spans) != 0; {
		if time.Now().After(deadline) {
			t.Fatal("Run never took the first message")
		}
		time.Sleep(time.Millisecond)
	}
	const total = 100
	for i := 1; i < total; i++ {
		pkt, msg := sentPacket(i, decode.TransportUDP, false), sipMessage(i, 0)
		s.send(&pkt, msg)
	}
	held := 1 + spans
	if st := s.stats(); st.dropped != total-uint64(held) || st.sent != 0 {
		t.Fatalf("with the queue full: %+v, want %d dropped, 0 sent", st, total-held)
	}
	coll := listenTCPCollector(t, addr)
	for i := range held {
		r := coll.next(t)
		checkForwarded(t, r, sentPacket(i, decode.TransportUDP, false), sipMessage(i, 0))
	}
	wait(5 * time.Second)
	if st := s.stats(); st != (hepSendStats{sent: uint64(held), dropped: total - uint64(held)}) {
		t.Errorf("counters %+v, want %d sent, %d dropped", st, held, total-held)
	}
}

// TestHEPSenderReusesItsRingWithoutCorruption pushes 2 MB of messages of
// changing sizes through the smallest ring (one largest HEP packet): the
// ring wraps hundreds of times, and every message must arrive intact.
func TestHEPSenderReusesItsRingWithoutCorruption(t *testing.T) {
	ln := listenTCPCollector(t, "127.0.0.1:0")
	s := newHEPSenderTo("tcp", ln.ln.Addr().String(), hepTestNode, 0, hepMaxSpans, nil)
	if len(s.q.buf) != hepMaxEncoded {
		t.Fatalf("ring of %d bytes, want the minimum %d", len(s.q.buf), hepMaxEncoded)
	}
	_, wait := runSender(t, s)
	const n = 1000
	for i := range n {
		// Keep at most half the ring in flight so nothing is dropped.
		for s.q.wpos-s.q.rpos.Load() > uint64(len(s.q.buf))/2 {
			time.Sleep(50 * time.Microsecond)
		}
		pkt, msg := sentPacket(i, decode.TransportUDP, i%2 == 1), sipMessage(i, (i*997)%4000)
		s.send(&pkt, msg)
	}
	for i := range n {
		checkForwarded(t, ln.next(t), sentPacket(i, decode.TransportUDP, i%2 == 1), sipMessage(i, (i*997)%4000))
	}
	wait(5 * time.Second)
	if st := s.stats(); st != (hepSendStats{sent: n}) {
		t.Errorf("counters %+v, want %d sent", st, n)
	}
}

// TestHEPSenderDrainsOnShutdown cancels the sender right after queueing
// thousands of messages: Run must forward every one before it returns.
func TestHEPSenderDrainsOnShutdown(t *testing.T) {
	const n = 5000 // ~2.5 MB of HEP: fits the sender's queue
	for _, network := range []string{"udp", "tcp"} {
		t.Run("over "+network, func(t *testing.T) {
			var (
				addr string
				next func() received
			)
			if network == "udp" {
				c, a := udpCollector(t)
				// Read as it comes: the kernel's socket buffer is smaller than
				// what the sender pushes out while draining.
				got := make(chan received, n)
				go func() {
					buf := make([]byte, 70000)
					for {
						k, err := c.Read(buf)
						if err != nil {
							return
						}
						var r received
						r.raw = bytes.Clone(buf[:k])
						if r.p.Unmarshal(r.raw) != nil {
							r.raw = nil // reported below as a mismatch
						}
						got <- r
					}
				}()
				addr, next = a, func() received {
					select {
					case r := <-got:
						return r
					case <-time.After(5 * time.Second):
						t.Fatal("the UDP collector received nothing for 5 s")
						return received{}
					}
				}
			} else {
				c := listenTCPCollector(t, "127.0.0.1:0")
				addr, next = c.ln.Addr().String(), func() received { return c.next(t) }
			}
			s := newHEPSenderTo(network, addr, hepTestNode, hepRingBytes, hepMaxSpans, nil)
			cancel, wait := runSender(t, s)
			for i := range n {
				pkt, msg := sentPacket(i, decode.TransportUDP, false), sipMessage(i, 100)
				s.send(&pkt, msg)
			}
			cancel()
			wait(10 * time.Second)
			if st := s.stats(); st != (hepSendStats{sent: n}) {
				t.Fatalf("after shutdown: %+v, want all %d sent", st, n)
			}
			for i := range n {
				checkForwarded(t, next(), sentPacket(i, decode.TransportUDP, false), sipMessage(i, 100))
				if t.Failed() {
					t.Fatalf("message %d of %d", i, n)
				}
			}
		})
	}
}

// TestHEPSenderGivesUpOnAnUnreachableCollectorAtShutdown: with nobody
// listening, shutdown waits at most the drain timeout, and the messages it
// could not deliver are counted as errors, not lost silently.
func TestHEPSenderGivesUpOnAnUnreachableCollectorAtShutdown(t *testing.T) {
	s := newHEPSenderTo("tcp", freeAddr(t), hepTestNode, hepRingBytes, hepMaxSpans, nil)
	s.drainTimeout = 300 * time.Millisecond
	s.backoffMin, s.backoffMax = 20*time.Millisecond, 100*time.Millisecond
	cancel, wait := runSender(t, s)
	for i := range 5 {
		pkt, msg := sentPacket(i, decode.TransportUDP, false), sipMessage(i, 0)
		s.send(&pkt, msg)
	}
	start := time.Now()
	cancel()
	wait(5 * time.Second)
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("shutdown took %v with a drain timeout of 300ms", d)
	}
	if st := s.stats(); st != (hepSendStats{errors: 5}) {
		t.Errorf("counters %+v, want 5 errors", st)
	}
}

// TestHEPSenderAllocatesNothingPerMessage measures the whole process while
// messages go out over a real UDP socket: encoding, queueing and the
// sender's writes together allocate nothing.
func TestHEPSenderAllocatesNothingPerMessage(t *testing.T) {
	coll, addr := udpCollector(t)
	go func() {
		buf := make([]byte, 70000)
		for {
			if _, err := coll.Read(buf); err != nil {
				return
			}
		}
	}()
	s := newHEPSenderTo("udp", addr, hepTestNode, hepRingBytes, hepMaxSpans, nil)
	_, wait := runSender(t, s)
	pkt, msg := sentPacket(1, decode.TransportUDP, false), sipMessage(1, 300)
	for range 100 { // warm up: the first write connects the socket
		s.send(&pkt, msg)
	}
	allocs := testing.AllocsPerRun(2000, func() { s.send(&pkt, msg) })
	wait(5 * time.Second)
	if allocs != 0 {
		t.Errorf("%v allocations per forwarded message, want 0", allocs)
	}
	if st := s.stats(); st.sent != 2101 {
		t.Errorf("counters %+v, want 2101 sent", st)
	}
}

func TestParseHEPSend(t *testing.T) {
	for _, tc := range []struct {
		spec, network, addr string
		ok                  bool
	}{
		{"udp://127.0.0.1:9060", "udp", "127.0.0.1:9060", true},
		{"tcp://homer.example.net:9061", "tcp", "homer.example.net:9061", true},
		{"tcp://[2001:db8::1]:9060", "tcp", "[2001:db8::1]:9060", true},
		{"127.0.0.1:9060", "", "", false},
		{"http://127.0.0.1:9060", "", "", false},
		{"udp://127.0.0.1", "", "", false},
		{"udp://127.0.0.1:0", "", "", false},
		{"udp://127.0.0.1:70000", "", "", false},
	} {
		network, addr, err := parseHEPSend(tc.spec)
		if (err == nil) != tc.ok || network != tc.network || addr != tc.addr {
			t.Errorf("parseHEPSend(%q) = %q, %q, %v; want %q, %q, ok=%v", tc.spec, network, addr, err, tc.network, tc.addr, tc.ok)
		}
	}
}

func TestServeRefusesHEPSendWithoutALiveSource(t *testing.T) {
	var out, errb bytes.Buffer
	code := run(t.Context(), []string{"serve", "--data", t.TempDir(), "--listen", freeAddr(t), "--hep-send", "udp://127.0.0.1:9060"}, &out, &errb)
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
	coll, collAddr := udpCollector(t)
	hepIn := freeUDPAddr(t)
	cfg := filepath.Join(t.TempDir(), "sipscope.json")
	cfgJSON, err := json.Marshal(map[string]any{
		"hep_send": "udp://" + collAddr, "hep_node_id": hepTestNode.HEPNodeID,
		"hep_node_name": hepTestNode.HEPNodeName, "hep_auth_key": "from-config",
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(cfg, cfgJSON, 0o600); err != nil {
		t.Fatal(err)
	}
	// The flag overrides the config file's key.
	base, stop := startServe(t, "--data", t.TempDir(), "--config", cfg, "--hep-auth-key", hepTestNode.HEPAuthKey,
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
		out := readDatagram(t, coll)
		pkt := decode.Packet{
			TS:        in.UnixNano(),
			Src:       netip.AddrPortFrom(in.SrcIP, in.SrcPort),
			Dst:       netip.AddrPortFrom(in.DstIP, in.DstPort),
			Transport: map[uint8]decode.Transport{17: decode.TransportUDP, 6: decode.TransportTCP}[in.Protocol],
		}
		checkForwarded(t, out, pkt, in.Payload)
		if t.Failed() {
			t.Fatalf("forwarded message %d of %d differs", i, len(pkts))
		}
	}
	coll.SetReadDeadline(time.Now().Add(200 * time.Millisecond))
	if n, err := coll.Read(make([]byte, 70000)); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Errorf("the collector got more than the %d messages (%d bytes, %v)", len(pkts), n, err)
	}
}

// BenchmarkHEPSenderSend is the pipeline's cost per forwarded message:
// encoding into the ring and queueing (the queue is emptied in place, no
// network).
func BenchmarkHEPSenderSend(b *testing.B) {
	s := newHEPSenderTo("udp", "127.0.0.1:9", hepTestNode, hepRingBytes, hepMaxSpans, nil)
	pkt, msg := sentPacket(1, decode.TransportUDP, false), sipMessage(1, 500)
	b.SetBytes(int64(len(msg)))
	b.ReportAllocs()
	for b.Loop() {
		s.send(&pkt, msg)
		s.q.release(<-s.q.spans)
	}
	if st := s.stats(); st.dropped+st.errors != 0 {
		b.Fatalf("%+v", st)
	}
}

// BenchmarkHEPSenderOverUDP is end to end: messages encoded, queued and
// written by Run to a UDP socket on loopback, paced so nothing is dropped.
func BenchmarkHEPSenderOverUDP(b *testing.B) {
	coll, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		b.Fatal(err)
	}
	defer coll.Close()
	go func() {
		buf := make([]byte, 70000)
		for {
			if _, err := coll.Read(buf); err != nil {
				return
			}
		}
	}()
	s := newHEPSenderTo("udp", coll.LocalAddr().String(), hepTestNode, hepRingBytes, hepMaxSpans, nil)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	pkt, msg := sentPacket(1, decode.TransportUDP, false), sipMessage(1, 500)
	b.SetBytes(int64(len(msg)))
	b.ReportAllocs()
	for b.Loop() {
		for len(s.q.spans) > cap(s.q.spans)/2 || s.q.wpos-s.q.rpos.Load() > uint64(len(s.q.buf))/2 {
			time.Sleep(10 * time.Microsecond)
		}
		s.send(&pkt, msg)
	}
	cancel()
	s.finish()
	<-done
	if st := s.stats(); st.dropped+st.errors != 0 {
		b.Fatalf("%+v", st)
	}
}
