package hepsend

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pion/rtcp"
	"github.com/sipscope/sipscope/capture"
	"github.com/sipscope/sipscope/correlate"
	"github.com/sipscope/sipscope/decode"
	"github.com/sipscope/sipscope/frame"
	"github.com/sipscope/sipscope/hep"
	"github.com/sipscope/sipscope/internal/heptest"
	"github.com/sipscope/sipscope/pipeline"
	"github.com/sipscope/sipscope/quality"
	"github.com/sipscope/sipscope/storage"
)

// hepTestNode is the agent identity the sender tests configure.
var hepTestNode = Config{HEPNodeID: heptest.Node.HEPNodeID, HEPNodeName: heptest.Node.HEPNodeName, HEPAuthKey: heptest.Node.HEPAuthKey}

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

// runSender starts s.Run and returns a stop that ends the queue (finish),
// cancels ctx, and waits for Run to return, failing if it takes longer
// than within.
func runSender(t *testing.T, s *Sender) (cancel context.CancelFunc, wait func(within time.Duration)) {
	t.Helper()
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	var once sync.Once
	wait = func(within time.Duration) {
		once.Do(func() {
			s.Finish()
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

// tcpCollector accepts connections on a real TCP listener and splits each
// stream into HEP packets with hep.FrameLength. conns tells each accepted
// connection (so a test can cut it).
type tcpCollector struct {
	ln    net.Listener
	pkts  chan heptest.Received
	conns chan net.Conn
}

func listenTCPCollector(t *testing.T, addr string) *tcpCollector {
	t.Helper()
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	c := &tcpCollector{ln: ln, pkts: make(chan heptest.Received, 100000), conns: make(chan net.Conn, 16)}
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
		var got heptest.Received
		if err := got.P.Unmarshal(b); err != nil {
			t.Errorf("the collector got a packet that is not HEP: %v", err)
			return
		}
		got.Raw = b
		c.pkts <- got
	}
}

func (c *tcpCollector) next(t *testing.T) heptest.Received {
	t.Helper()
	select {
	case r := <-c.pkts:
		return r
	case <-time.After(10 * time.Second):
		t.Fatal("the TCP collector heptest.Received nothing for 10 s")
		return heptest.Received{}
	}
}

func TestHEPSenderForwardsEveryFieldOverUDP(t *testing.T) {
	coll, addr := heptest.UDPCollector(t)
	s := newSenderTo("udp", addr, hepTestNode, hepRingBytes, hepMaxSpans, nil)
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
			heptest.CheckForwarded(t, heptest.ReadDatagram(t, coll), pkt, msg)
		})
	}
	t.Run("an IPv4-mapped IPv6 address is sent as IPv4", func(t *testing.T) {
		pkt, msg := sentPacket(9, decode.TransportUDP, false), sipMessage(9, 0)
		want := pkt
		pkt.Src = netip.AddrPortFrom(netip.AddrFrom16(pkt.Src.Addr().As16()), pkt.Src.Port())
		pkt.Dst = netip.AddrPortFrom(netip.AddrFrom16(pkt.Dst.Addr().As16()), pkt.Dst.Port())
		s.send(&pkt, msg)
		heptest.CheckForwarded(t, heptest.ReadDatagram(t, coll), want, msg)
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
	addr := heptest.FreeAddr(t) // nothing listens here yet
	s := newSenderTo("tcp", addr, hepTestNode, hepRingBytes, hepMaxSpans, nil)
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
		heptest.CheckForwarded(t, coll.next(t), pkts[i], msgs[i])
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
		heptest.CheckForwarded(t, coll.next(t), pkt, msg)
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
	addr := heptest.FreeAddr(t)
	const spans = 8
	s := newSenderTo("tcp", addr, hepTestNode, hepRingBytes, spans, nil)
	s.backoffMin, s.backoffMax = 10*time.Millisecond, 20*time.Millisecond
	_, wait := runSender(t, s)

	pkt0, msg0 := sentPacket(0, decode.TransportUDP, false), sipMessage(0, 0)
	s.send(&pkt0, msg0)
	// Wait until Run has taken the first message: it now retries it, and
	// the channel has room for exactly `spans` more.
	for deadline := time.Now().Add(5 * time.Second); len(s.q.Spans()) != 0; {
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
		heptest.CheckForwarded(t, r, sentPacket(i, decode.TransportUDP, false), sipMessage(i, 0))
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
	s := newSenderTo("tcp", ln.ln.Addr().String(), hepTestNode, 0, hepMaxSpans, nil)
	if s.q.Size() != hepMaxEncoded {
		t.Fatalf("ring of %d bytes, want the minimum %d", s.q.Size(), hepMaxEncoded)
	}
	_, wait := runSender(t, s)
	const n = 1000
	for i := range n {
		// Keep at most half the ring in flight so nothing is dropped.
		for s.q.InFlight() > uint64(s.q.Size())/2 {
			time.Sleep(50 * time.Microsecond)
		}
		pkt, msg := sentPacket(i, decode.TransportUDP, i%2 == 1), sipMessage(i, (i*997)%4000)
		s.send(&pkt, msg)
	}
	for i := range n {
		heptest.CheckForwarded(t, ln.next(t), sentPacket(i, decode.TransportUDP, i%2 == 1), sipMessage(i, (i*997)%4000))
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
				next func() heptest.Received
			)
			if network == "udp" {
				c, a := heptest.UDPCollector(t)
				// Read as it comes: the kernel's socket buffer is smaller than
				// what the sender pushes out while draining.
				got := make(chan heptest.Received, n)
				go func() {
					buf := make([]byte, 70000)
					for {
						k, err := c.Read(buf)
						if err != nil {
							return
						}
						var r heptest.Received
						r.Raw = bytes.Clone(buf[:k])
						if r.P.Unmarshal(r.Raw) != nil {
							r.Raw = nil // reported below as a mismatch
						}
						got <- r
					}
				}()
				addr, next = a, func() heptest.Received {
					select {
					case r := <-got:
						return r
					case <-time.After(5 * time.Second):
						t.Fatal("the UDP collector heptest.Received nothing for 5 s")
						return heptest.Received{}
					}
				}
			} else {
				c := listenTCPCollector(t, "127.0.0.1:0")
				addr, next = c.ln.Addr().String(), func() heptest.Received { return c.next(t) }
			}
			s := newSenderTo(network, addr, hepTestNode, hepRingBytes, hepMaxSpans, nil)
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
				heptest.CheckForwarded(t, next(), sentPacket(i, decode.TransportUDP, false), sipMessage(i, 100))
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
	s := newSenderTo("tcp", heptest.FreeAddr(t), hepTestNode, hepRingBytes, hepMaxSpans, nil)
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
	coll, addr := heptest.UDPCollector(t)
	go func() {
		buf := make([]byte, 70000)
		for {
			if _, err := coll.Read(buf); err != nil {
				return
			}
		}
	}()
	s := newSenderTo("udp", addr, hepTestNode, hepRingBytes, hepMaxSpans, nil)
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

// BenchmarkHEPSenderSend is the pipeline's cost per forwarded message:
// encoding into the ring and queueing (the queue is emptied in place, no
// network).
func BenchmarkHEPSenderSend(b *testing.B) {
	s := newSenderTo("udp", "127.0.0.1:9", hepTestNode, hepRingBytes, hepMaxSpans, nil)
	pkt, msg := sentPacket(1, decode.TransportUDP, false), sipMessage(1, 500)
	b.SetBytes(int64(len(msg)))
	b.ReportAllocs()
	for b.Loop() {
		s.send(&pkt, msg)
		s.q.Release(<-s.q.Spans())
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
	s := newSenderTo("udp", coll.LocalAddr().String(), hepTestNode, hepRingBytes, hepMaxSpans, nil)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	pkt, msg := sentPacket(1, decode.TransportUDP, false), sipMessage(1, 500)
	b.SetBytes(int64(len(msg)))
	b.ReportAllocs()
	for b.Loop() {
		for len(s.q.Spans()) > cap(s.q.Spans())/2 || s.q.InFlight() > uint64(s.q.Size())/2 {
			time.Sleep(10 * time.Microsecond)
		}
		s.send(&pkt, msg)
	}
	cancel()
	s.Finish()
	<-done
	if st := s.stats(); st.dropped+st.errors != 0 {
		b.Fatalf("%+v", st)
	}
}

// TestHEPSenderForwardsTheRTCPAndRTPStatsOfARealCall runs the live pipeline
// over heplify's example call, flushing every second of capture time as
// serve does, with the sender forwarding to a real UDP socket. What the
// collector gets is checked against readings that do not use the sender:
// each RTCP packet that an SDP explains arrives once, in order, as
// heplify's JSON of what pion/rtcp reads in it, under the call's Call-ID;
// each bound RTP stream is reported periodically and then finally, and the
// final report carries the packets, loss, delta and jitter tshark measured
// and the MOS an offline analysis of the same file computes.
func TestHEPSenderForwardsTheRTCPAndRTPStatsOfARealCall(t *testing.T) {
	mc := heptest.ReadMediaCapture(t, heptest.RTCPCapture)
	// The oracle's rtcp_packet_count is 26: tshark's heuristic passes over
	// two compounds with stray trailing bytes on a flow no SDP set up (it
	// dissects the same bytes on the SDP flow), so pion finds at least as many.
	if oracleRTCP := 26; len(mc.RTCP) < oracleRTCP {
		t.Fatalf("pion/rtcp finds %d RTCP packets in the capture, tshark %d", len(mc.RTCP), oracleRTCP)
	}
	var wantRTCP []heptest.CapturedRTCP
	for _, c := range mc.RTCP {
		if c.CallID != "" {
			wantRTCP = append(wantRTCP, c)
		}
	}
	if len(wantRTCP) == 0 || len(wantRTCP) == len(mc.RTCP) {
		t.Fatalf("%d of %d RTCP packets belong to a call: the test needs some of each", len(wantRTCP), len(mc.RTCP))
	}

	coll, addr := heptest.UDPCollector(t)
	s := newSenderTo("udp", addr, hepTestNode, hepRingBytes, hepMaxSpans, nil)
	_, wait := runSender(t, s)
	cfg := correlate.DefaultConfig()
	cfg.KeepMessages, cfg.Retain = true, false // as live mode runs it
	p := pipeline.New(cfg)
	p.OnSIP, p.OnRTCP = s.send, s.sendRTCP
	unbound := 0
	p.OnStreamStats = func(st *quality.Stream, final bool) {
		if final && st.CallID == "" {
			unbound++
		}
		s.sendStats(st, final)
	}
	src, err := capture.OpenFile(heptest.RTCPCapture)
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	var flushed int64
	var batch storage.Batch
	err = p.RunSourceEach(src, func() {
		if p.LastPacketTS()-flushed >= int64(time.Second) {
			batch = storage.Batch{}
			p.AppendLiveBatch(&batch, p.LastPacketTS(), false)
			flushed = p.LastPacketTS()
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	p.AppendLiveBatch(&batch, p.LastPacketTS(), true) // shutdown
	wait(5 * time.Second)
	got := heptest.ByProtoType(heptest.CollectUDP(t, coll, 300*time.Millisecond))

	t.Run("every SIP message is forwarded", func(t *testing.T) {
		if n := len(got[hep.ProtoSIP]); n != mc.SIPMessages {
			t.Errorf("%d SIP messages forwarded, the capture has %d", n, mc.SIPMessages)
		}
	})
	t.Run("RTCP of the call is forwarded as heplify's JSON, other RTCP is counted", func(t *testing.T) {
		fwd := got[hep.ProtoRTCP]
		if len(fwd) != len(wantRTCP) {
			t.Fatalf("%d RTCP packets forwarded, want the %d that an SDP explains", len(fwd), len(wantRTCP))
		}
		for i, c := range wantRTCP {
			heptest.CheckRTCPForwarded(t, fwd[i], c)
		}
		want := hepSendStats{sent: uint64(len(wantRTCP)), noCall: uint64(len(mc.RTCP) - len(wantRTCP))}
		if st := s.statsOf(hepKindRTCP); st != want {
			t.Errorf("RTCP counters %+v, want %+v", st, want)
		}
	})
	t.Run("each bound stream is reported under its call, the last report final and exact", func(t *testing.T) {
		oracle := heptest.TsharkStreams(t, heptest.RTCPCapture)
		off := pipeline.New(correlate.DefaultConfig())
		src, err := capture.OpenFile(heptest.RTCPCapture)
		if err != nil {
			t.Fatal(err)
		}
		defer src.Close()
		if err := off.RunSource(src); err != nil {
			t.Fatal(err)
		}
		reports := map[string][]heptest.StatsJSON{}
		for _, r := range got[hep.ProtoMOSFull] {
			var st heptest.StatsJSON
			heptest.DecodeStrict(t, r.P.Payload, &st)
			key := fmt.Sprintf("%s %s:%d", st.SSRC, st.SrcIP, st.SrcPort)
			if string(r.P.CorrelationID) != st.CorrelationID || st.RTPSIPCallID != st.CorrelationID {
				t.Errorf("%s: correlation id %q, JSON says %q and %q", key, r.P.CorrelationID, st.CorrelationID, st.RTPSIPCallID)
			}
			if hs, js := netip.AddrPortFrom(r.P.SrcIP, r.P.SrcPort).String(), fmt.Sprintf("%s:%d", st.SrcIP, st.SrcPort); hs != js {
				t.Errorf("%s: HEP source %s", key, hs)
			}
			if r.P.UnixNano()/1e9 != st.ReportTS || st.ReportTS != st.ReportEnd {
				t.Errorf("%s: HEP time %d, REPORT_TS %d, REPORT_END %d", key, r.P.UnixNano()/1e9, st.ReportTS, st.ReportEnd)
			}
			reports[key] = append(reports[key], st)
		}
		bound := 0
		for _, want := range off.FinishStreams(pipeline.QualityOptions{G711PLC: true}) {
			if want.CallID == "" {
				continue
			}
			bound++
			key := fmt.Sprintf("0x%08x %s", want.SSRC, want.Src)
			rs := reports[key]
			if len(rs) < 2 {
				t.Errorf("%s: %d reports, want periodic ones and a final one", key, len(rs))
				continue
			}
			final := rs[len(rs)-1]
			for i, r := range rs[:len(rs)-1] {
				if r.Type != "PERIODIC" || r.TotalPK > final.TotalPK || (i > 0 && r.ReportTS-rs[i-1].ReportTS < int64(hepStatsEvery/time.Second)) {
					t.Errorf("%s: report %d is %s at %d with %d packets (previous at %d), final has %d", key, i, r.Type, r.ReportTS, r.TotalPK, rs[max(i-1, 0)].ReportTS, final.TotalPK)
				}
			}
			ts, ok := oracle[key]
			if !ok {
				t.Errorf("%s: not in tshark's SDP-learned streams", key)
				continue
			}
			mean, minMOS := 0.0, 0.0
			n := 0
			for _, iv := range want.MOSTimeline {
				if iv.MOS > 0 {
					if n == 0 || iv.MOS < minMOS {
						minMOS = iv.MOS
					}
					mean += iv.MOS
					n++
				}
			}
			mean /= float64(n)
			for _, c := range []struct {
				field     string
				got, want any
			}{
				{"TYPE", final.Type, "FINAL"},
				{"CORRELATION_ID", final.CorrelationID, want.CallID},
				{"DST", fmt.Sprintf("%s:%d", final.DstIP, final.DstPort), want.Dst.String()},
				{"CODEC_PT", final.CodecPT, want.PayloadType},
				{"CODEC_NAME", final.CodecName, want.Payload},
				{"CLOCK", final.Clock, uint32(8000)},
				{"REPORT_START", final.ReportStart, want.Start.Unix()},
				{"REPORT_END", final.ReportEnd, want.End.Unix()},
				{"TOTAL_PK (tshark)", final.TotalPK, ts.Packets},
				{"PACKET_LOSS (tshark)", final.PacketLoss, max(ts.Lost, 0)},
				{"EXPECTED_PK", final.ExpectedPK, want.Expected},
				{"MAX_DELTA (tshark)", final.MaxDelta, ts.MaxDelta},
				{"MEAN_JITTER (tshark)", final.MeanJitter, ts.MeanJitter},
				{"JITTER (tshark mean)", final.Jitter, ts.MeanJitter},
				{"MAX_JITTER (tshark)", final.MaxJitter, ts.MaxJitter},
				{"DELTA", final.Delta, heptest.Round3(want.MeanDeltaMs)},
				{"MOS", final.MOS, heptest.Round3(want.MOS)},
				{"MIN_MOS", final.MinMOS, heptest.Round3(minMOS)},
				{"MEAN_MOS", final.MeanMOS, heptest.Round3(mean)},
				{"RFACTOR", final.RFactor, heptest.Round3(want.R)},
			} {
				if g, w := c.got, c.want; g != w {
					if gf, ok := g.(float64); ok && math.Abs(gf-w.(float64)) <= 0.0011 {
						continue // tshark prints 3 decimals, rounded its own way
					}
					t.Errorf("%s: final %s = %v, want %v", key, c.field, g, w)
				}
			}
			if final.MOS < 1 || final.MOS > 5 {
				t.Errorf("%s: MOS %v", key, final.MOS)
			}
		}
		if bound == 0 || bound != len(reports) {
			t.Errorf("%d streams bound to a call, reports for %d", bound, len(reports))
		}
		want := hepSendStats{sent: uint64(len(got[hep.ProtoMOSFull])), noCall: uint64(unbound)}
		if st := s.statsOf(hepKindStats); st != want || unbound == 0 {
			t.Errorf("stats counters %+v, want %+v (and some unbound streams)", st, want)
		}
	})
}

// TestRTCPJSONOfAnExtendedReport builds RTCP XR with pion/rtcp: the VoIP
// metrics block (the one heplify shows) is found behind another block.
func TestRTCPJSONOfAnExtendedReport(t *testing.T) {
	vm := &rtcp.VoIPMetricsReportBlock{
		SSRC: 0x01020304, LossRate: 12, DiscardRate: 3, BurstDensity: 40, GapDensity: 2,
		BurstDuration: 120, GapDuration: 5000, RoundTripDelay: 88, EndSystemDelay: 61,
		RFactor: 80, MOSLQ: 41, MOSCQ: 39,
	}
	rr := &rtcp.ReceiverReport{SSRC: 0xcafe, Reports: []rtcp.ReceptionReport{{SSRC: 0x01020304, FractionLost: 9, TotalLost: 0x123456, LastSequenceNumber: 70000, Jitter: 31, LastSenderReport: 77, Delay: 99}}}
	xr := &rtcp.ExtendedReport{SenderSSRC: 0xcafe, Reports: []rtcp.ReportBlock{
		&rtcp.ReceiverReferenceTimeReportBlock{NTPTimestamp: 0x0102030405060708}, vm,
	}}
	raw, err := rtcp.Marshal([]rtcp.Packet{rr, xr})
	if err != nil {
		t.Fatal(err)
	}
	var v rtcpView
	if !v.parse(raw) {
		t.Fatal("a receiver report with an extended report was not read")
	}
	var got heptest.RTCPJSON
	heptest.DecodeStrict(t, v.appendJSON(nil), &got)
	want := heptest.WantRTCPJSON(t, raw)
	if g, w := fmt.Sprintf("%+v", got), fmt.Sprintf("%+v", want); g != w {
		t.Errorf("JSON\n got %s\nwant %s", g, w)
	}
	if got.XR.Type != 7 || got.XR.ID != vm.SSRC || got.XR.GapDuration != vm.GapDuration || got.ReportBlocks[0].PacketsLost != 0x123456 {
		t.Errorf("XR or report block misread: %+v", got)
	}
}

func TestRTCPViewRefusesWhatIsNotRTCP(t *testing.T) {
	var v rtcpView
	for _, tc := range []struct {
		name string
		b    []byte
	}{
		{"an empty datagram", nil},
		{"a header alone", []byte{0x80, 200, 0, 0}},
		{"RTP version 1", []byte{0x40, 200, 0, 1, 1, 2, 3, 4}},
		{"a length past the end", []byte{0x80, 201, 0, 9, 1, 2, 3, 4}},
		{"a sender report too short for its sender information", []byte{0x80, 200, 0, 1, 1, 2, 3, 4}},
		{"only an APP packet", []byte{0x80, 204, 0, 2, 1, 2, 3, 4, 'n', 'a', 'm', 'e'}},
	} {
		if v.parse(tc.b) {
			t.Errorf("%s was read as RTCP", tc.name)
		}
	}
}

// TestJSONStringsAreEscapedAsEncodingJSONDoes: a Call-ID may hold quotes
// and backslashes, a captured one any byte.
func TestJSONStringsAreEscapedAsEncodingJSONDoes(t *testing.T) {
	for _, s := range []string{
		"a84b4c76e66710@pc33.atlanta.com",
		`quote"and\backslash`,
		"tab\tnewline\ncontrol\x01",
		"caf\xc3\xa9 and \xff\xfe invalid",
		"",
	} {
		b := appendJSONString(nil, s)
		var got, want string
		if err := json.Unmarshal(b, &got); err != nil {
			t.Errorf("%q: %s is not a JSON string: %v", s, b, err)
			continue
		}
		ref, _ := json.Marshal(s)
		if err := json.Unmarshal(ref, &want); err != nil {
			t.Fatal(err)
		}
		if got != want {
			t.Errorf("%q came back as %q, encoding/json gives %q", s, got, want)
		}
	}
}

// TestHEPSenderAllocatesNothingPerRTCPPacket forwards a real compound RTCP
// packet of the call over a real UDP socket.
func TestHEPSenderAllocatesNothingPerRTCPPacket(t *testing.T) {
	mc := heptest.ReadMediaCapture(t, heptest.RTCPCapture)
	var c heptest.CapturedRTCP
	for _, r := range mc.RTCP {
		if r.CallID != "" && len(r.Raw) > len(c.Raw) {
			c = r
		}
	}
	coll, addr := heptest.UDPCollector(t)
	go func() {
		buf := make([]byte, 70000)
		for {
			if _, err := coll.Read(buf); err != nil {
				return
			}
		}
	}()
	s := newSenderTo("udp", addr, hepTestNode, hepRingBytes, hepMaxSpans, nil)
	_, wait := runSender(t, s)
	pkt := decode.Packet{TS: c.TS, Src: c.Src, Dst: c.Dst, Transport: decode.TransportUDP}
	for range 100 {
		s.sendRTCP(&pkt, c.Raw, c.CallID)
	}
	allocs := testing.AllocsPerRun(2000, func() { s.sendRTCP(&pkt, c.Raw, c.CallID) })
	wait(5 * time.Second)
	if allocs != 0 {
		t.Errorf("%v allocations per forwarded RTCP packet, want 0", allocs)
	}
	if st := s.statsOf(hepKindRTCP); st.sent != 2101 {
		t.Errorf("counters %+v, want 2101 sent", st)
	}
}

// FuzzRTCPJSON: whatever the datagram, reading it never panics and what is
// read becomes valid JSON.
func FuzzRTCPJSON(f *testing.F) {
	src, err := capture.OpenFile(heptest.RTCPCapture)
	if err != nil {
		f.Fatalf("the capture %s is needed: %v", heptest.RTCPCapture, err)
	}
	dec := decode.NewDecoder()
	var (
		fr frame.Frame
		p  decode.Packet
	)
	for src.Next(&fr) == nil {
		if dec.Decode(fr.LinkType, fr.Data, fr.TS, &p) == nil && heptest.IsRTCP(p.Payload) {
			f.Add(bytes.Clone(p.Payload))
		}
	}
	src.Close()
	var v rtcpView
	f.Fuzz(func(t *testing.T, b []byte) {
		if !v.parse(b) {
			return
		}
		if out := v.appendJSON(nil); !json.Valid(out) {
			t.Fatalf("invalid JSON %s", out)
		}
	})
}

// BenchmarkHEPSenderSendRTCP is the pipeline's cost per forwarded RTCP
// packet: JSON, HEP encoding and queueing (the queue is emptied in place).
func BenchmarkHEPSenderSendRTCP(b *testing.B) {
	src, err := capture.OpenFile(heptest.RTCPCapture)
	if err != nil {
		b.Fatal(err)
	}
	defer src.Close()
	dec := decode.NewDecoder()
	var (
		fr  frame.Frame
		p   decode.Packet
		raw []byte
	)
	for src.Next(&fr) == nil {
		if dec.Decode(fr.LinkType, fr.Data, fr.TS, &p) == nil && heptest.IsRTCP(p.Payload) && len(p.Payload) > len(raw) {
			raw = bytes.Clone(p.Payload)
		}
	}
	s := newSenderTo("udp", "127.0.0.1:9", hepTestNode, hepRingBytes, hepMaxSpans, nil)
	pkt := decode.Packet{TS: 1700000000e9, Src: netip.MustParseAddrPort("192.0.2.1:40377"), Dst: netip.MustParseAddrPort("192.0.2.2:8001")}
	b.SetBytes(int64(len(raw)))
	b.ReportAllocs()
	for b.Loop() {
		s.sendRTCP(&pkt, raw, "12013223@200.57.7.195")
		s.q.Release(<-s.q.Spans())
	}
	if st := s.stats(); st.dropped+st.errors+st.malformed != 0 {
		b.Fatalf("%+v", st)
	}
}
