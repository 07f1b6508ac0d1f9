package capture

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"net/netip"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"go.uber.org/goleak"

	"github.com/sipscope/sipscope/frame"
	"github.com/sipscope/sipscope/hep"
)

const hepWait = 5 * time.Second

// hepPacket encodes a HEPv3 SIP packet whose payload carries tag, so tests
// can tell packets apart.
func hepPacket(t testing.TB, nodeID uint32, nodeName, tag string) []byte {
	t.Helper()
	p := hep.Packet{
		IPFamily: hep.FamilyIPv4, Protocol: 17,
		SrcIP: netip.MustParseAddr("192.0.2.1"), DstIP: netip.MustParseAddr("192.0.2.2"),
		SrcPort: 5060, DstPort: 5060, TimestampSec: 1700000000, ProtoType: hep.ProtoSIP,
		NodeID: nodeID, NodeName: []byte(nodeName),
		Payload: []byte("OPTIONS sip:x@example.com SIP/2.0\r\nCall-ID: " + tag + "\r\nContent-Length: 0\r\n\r\n"),
	}
	b, err := p.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// startHEP binds a listener on loopback with the given config (addresses
// filled in when empty) and runs it until the test ends.
func startHEP(t *testing.T, cfg HEPConfig) (*HEPSource, context.CancelFunc, <-chan error) {
	t.Helper()
	if cfg.UDP == nil && cfg.TCP == nil {
		cfg.UDP, cfg.TCP = []string{"127.0.0.1:0"}, []string{"127.0.0.1:0"}
	}
	s, err := ListenHEP(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		s.Close()
	})
	return s, cancel, done
}

func sendUDP(t *testing.T, s *HEPSource, pkts ...[]byte) {
	t.Helper()
	udp, _ := s.Addrs()
	c, err := net.DialUDP("udp", nil, net.UDPAddrFromAddrPort(udp[0]))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	for _, p := range pkts {
		if _, err := c.Write(p); err != nil {
			t.Fatal(err)
		}
	}
}

func dialTCP(t *testing.T, s *HEPSource) *net.TCPConn {
	t.Helper()
	_, tcp := s.Addrs()
	c, err := net.DialTCP("tcp", nil, net.TCPAddrFromAddrPort(tcp[0]))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// next calls s.Next, failing the test if nothing comes in time. It copies
// the frame, whose data is only valid until the following call.
func next(t *testing.T, s *HEPSource) (frame.Frame, error) {
	t.Helper()
	type result struct {
		f   frame.Frame
		err error
	}
	ch := make(chan result, 1)
	go func() {
		var f frame.Frame
		err := s.Next(&f)
		f.Data = bytes.Clone(f.Data)
		ch <- result{f, err}
	}()
	select {
	case r := <-ch:
		return r.f, r.err
	case <-time.After(hepWait):
		t.Fatal("no frame arrived")
		return frame.Frame{}, nil
	}
}

func mustNext(t *testing.T, s *HEPSource) frame.Frame {
	t.Helper()
	f, err := next(t, s)
	if err != nil {
		t.Fatalf("Next: %v", err)
	}
	return f
}

func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(hepWait)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting until %s", what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// waitClosedByPeer reads c until the listener closes it.
func waitClosedByPeer(t *testing.T, c net.Conn) {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(hepWait))
	_, err := io.Copy(io.Discard, c)
	// A listener that closes a connection with unread data in it resets
	// it; that is a close too.
	if err != nil && !errors.Is(err, syscall.ECONNRESET) {
		t.Fatalf("connection not closed by the listener: %v", err)
	}
}

func TestHEPConfigValidateNamesTheBadField(t *testing.T) {
	for _, tc := range []struct {
		name  string
		cfg   HEPConfig
		field string // "" for a valid config
	}{
		{"one UDP address is enough", HEPConfig{UDP: []string{"127.0.0.1:9060"}}, ""},
		{"a host name and IPv6 are fine", HEPConfig{UDP: []string{"[::1]:0"}, TCP: []string{"localhost:9061", ":9062"}}, ""},
		{"no address at all is refused", HEPConfig{}, "UDP, TCP"},
		{"an address without a port is refused", HEPConfig{UDP: []string{"127.0.0.1"}}, "UDP[0]"},
		{"a port beyond 65535 is refused", HEPConfig{UDP: []string{"127.0.0.1:9060"}, TCP: []string{"127.0.0.1:9060", "127.0.0.1:70000"}}, "TCP[1]"},
		{"a named port is refused", HEPConfig{TCP: []string{"127.0.0.1:hep"}}, "TCP[0]"},
		{"a negative queue length is refused", HEPConfig{UDP: []string{":0"}, QueueLen: -1}, "QueueLen"},
		{"a huge queue length is refused", HEPConfig{UDP: []string{":0"}, QueueLen: 1 << 21}, "QueueLen"},
		{"a negative connection limit is refused", HEPConfig{UDP: []string{":0"}, MaxTCPConns: -1}, "MaxTCPConns"},
		{"a negative read buffer is refused", HEPConfig{UDP: []string{":0"}, ReadBuffer: -1}, "ReadBuffer"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.cfg.Validate()
			if tc.field == "" {
				if err != nil {
					t.Fatalf("Validate: %v", err)
				}
				return
			}
			if !errors.Is(err, ErrHEPConfig) || !strings.Contains(err.Error(), tc.field) {
				t.Fatalf("Validate = %v, want ErrHEPConfig naming %s", err, tc.field)
			}
			if _, err := ListenHEP(context.Background(), tc.cfg); !errors.Is(err, ErrHEPConfig) {
				t.Fatalf("ListenHEP = %v, want ErrHEPConfig", err)
			}
		})
	}
}

func TestHEPOverUDPArrivesAsFramesInOrder(t *testing.T) {
	s, _, _ := startHEP(t, HEPConfig{})
	if udp, tcp := s.Addrs(); len(udp) != 1 || len(tcp) != 1 || udp[0].Port() == 0 || tcp[0].Port() == 0 {
		t.Fatalf("Addrs = %v, %v: want one bound port each", udp, tcp)
	}
	kamailioV2, err := os.ReadFile("../hep/testdata/kamailio-hepv2-sip.bin")
	if err != nil {
		t.Fatalf("test vector missing (see hep/testdata/README.md): %v", err)
	}
	sent := []struct {
		data []byte
		node string
	}{
		{hepPacket(t, 2001, "edge-paris", "a"), "hep:2001/edge-paris"},
		{hepPacket(t, 2002, "", "b"), "hep:2002"},
		{hepPacket(t, 0, "", "c"), "hep:127.0.0.1"},
		{kamailioV2, "hep:2345"},
		{hepPacket(t, 2001, "edge-paris", "d"), "hep:2001/edge-paris"},
	}
	before := time.Now().UnixNano()
	for _, p := range sent {
		sendUDP(t, s, p.data)
	}
	for i, want := range sent {
		f := mustNext(t, s)
		if !bytes.Equal(f.Data, want.data) {
			t.Errorf("frame %d: data differs from packet sent", i)
		}
		if f.LinkType != frame.LinkHEP || f.OrigLen != len(want.data) || f.Node != want.node {
			t.Errorf("frame %d: link %#x, orig len %d, node %q; want %#x, %d, %q",
				i, f.LinkType, f.OrigLen, f.Node, frame.LinkHEP, len(want.data), want.node)
		}
		if now := time.Now().UnixNano(); f.TS < before || f.TS > now {
			t.Errorf("frame %d: TS %d is not the receive time (between %d and %d)", i, f.TS, before, now)
		}
	}
	if st := s.Stats(); st.Received != uint64(len(sent)) || st.BadPackets != 0 || st.DroppedQueueFull != 0 {
		t.Errorf("stats %+v", st)
	}
}

func TestDatagramsThatAreNotHEPAreCountedNotQueued(t *testing.T) {
	s, _, _ := startHEP(t, HEPConfig{})
	good := hepPacket(t, 1, "n", "good")
	sendUDP(t, s,
		[]byte("OPTIONS sip:x SIP/2.0\r\n\r\n"), // plain SIP
		good[:len(good)-3],                      // a HEPv3 packet cut short
		[]byte("HEP3\x00\x04"),                  // an impossible length
		good,
	)
	f := mustNext(t, s)
	if !bytes.Equal(f.Data, good) {
		t.Fatal("the one good packet is not what came out")
	}
	if st := s.Stats(); st.BadPackets != 3 || st.Received != 1 {
		t.Errorf("stats %+v: want 3 bad, 1 received", st)
	}
}

func TestAFullQueueDropsAndCountsInsteadOfBlocking(t *testing.T) {
	s, _, _ := startHEP(t, HEPConfig{QueueLen: 2})
	var pkts [][]byte
	for i := range 10 {
		pkts = append(pkts, hepPacket(t, 7, "", string(rune('a'+i))))
	}
	sendUDP(t, s, pkts...)
	eventually(t, "all 10 packets are accounted for", func() bool {
		st := s.Stats()
		return st.Received+st.DroppedQueueFull == 10
	})
	if st := s.Stats(); st.Received != 2 || st.DroppedQueueFull != 8 {
		t.Fatalf("stats %+v: want 2 queued, 8 dropped", st)
	}
	for i := range 2 {
		if f := mustNext(t, s); !bytes.Equal(f.Data, pkts[i]) {
			t.Errorf("frame %d is not packet %d", i, i)
		}
	}
	// Once drained, the queue takes packets again.
	late := hepPacket(t, 7, "", "late")
	sendUDP(t, s, late)
	if f := mustNext(t, s); !bytes.Equal(f.Data, late) {
		t.Error("a packet sent after draining did not come through")
	}
}

func TestTCPStreamsAreSplitIntoPackets(t *testing.T) {
	s, _, _ := startHEP(t, HEPConfig{})
	a, b, c := hepPacket(t, 1, "tcp", "a"), hepPacket(t, 1, "tcp", "b"), hepPacket(t, 1, "tcp", "c")

	t.Run("several packets in one write come out one by one", func(t *testing.T) {
		conn := dialTCP(t, s)
		if _, err := conn.Write(bytes.Join([][]byte{a, b, c}, nil)); err != nil {
			t.Fatal(err)
		}
		for i, want := range [][]byte{a, b, c} {
			f := mustNext(t, s)
			if !bytes.Equal(f.Data, want) || f.Node != "hep:1/tcp" || f.LinkType != frame.LinkHEP {
				t.Errorf("frame %d: node %q, %d bytes; want packet %d", i, f.Node, len(f.Data), i)
			}
		}
	})
	t.Run("a packet split across writes comes out whole", func(t *testing.T) {
		conn := dialTCP(t, s)
		conn.SetNoDelay(true)
		for _, cut := range [][2]int{{0, 3}, {3, 20}, {20, len(a)}} {
			if _, err := conn.Write(a[cut[0]:cut[1]]); err != nil {
				t.Fatal(err)
			}
			time.Sleep(20 * time.Millisecond) // let each piece arrive alone
		}
		if f := mustNext(t, s); !bytes.Equal(f.Data, a) {
			t.Error("the reassembled packet differs from the one sent")
		}
	})
	t.Run("a packet that ends where the next begins in one write", func(t *testing.T) {
		conn := dialTCP(t, s)
		conn.SetNoDelay(true)
		stream := bytes.Join([][]byte{a, b}, nil)
		half := len(a) + 4
		conn.Write(stream[:half])
		time.Sleep(20 * time.Millisecond)
		conn.Write(stream[half:])
		for i, want := range [][]byte{a, b} {
			if f := mustNext(t, s); !bytes.Equal(f.Data, want) {
				t.Errorf("frame %d differs", i)
			}
		}
	})
	t.Run("a packet of the largest size HEPv3 allows comes through", func(t *testing.T) {
		p := hep.Packet{SrcIP: netip.MustParseAddr("192.0.2.1"), DstIP: netip.MustParseAddr("192.0.2.2")}
		p.Payload = bytes.Repeat([]byte("x"), 0xffff-p.MarshalSize())
		big, err := p.Marshal()
		if err != nil {
			t.Fatal(err)
		}
		conn := dialTCP(t, s)
		conn.Write(append(bytes.Clone(big), a...))
		if f := mustNext(t, s); !bytes.Equal(f.Data, big) {
			t.Errorf("largest packet: got %d bytes", len(f.Data))
		}
		if f := mustNext(t, s); !bytes.Equal(f.Data, a) {
			t.Error("the packet after the largest one differs")
		}
	})
	if st := s.Stats(); st.BadPackets != 0 || st.Received != 8 {
		t.Errorf("stats %+v: want 8 received, none bad", st)
	}
}

func TestATCPStreamThatLosesItsFramingIsDropped(t *testing.T) {
	for _, tc := range []struct {
		name   string
		stream func(good []byte) []byte
		frames int // good packets delivered before the damage
	}{
		{"a stream of plain SIP", func([]byte) []byte { return []byte("OPTIONS sip:x SIP/2.0\r\n\r\n") }, 0},
		{"garbage after a good packet", func(g []byte) []byte { return append(bytes.Clone(g), "garbage!"...) }, 1},
		{"an impossible length", func([]byte) []byte { return []byte("HEP3\x00\x02") }, 0},
		{"a HEPv2 stream, which has no framing", func([]byte) []byte { return []byte{2, 16, 2, 17, 0, 0, 0, 0} }, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, _, _ := startHEP(t, HEPConfig{})
			good := hepPacket(t, 3, "", "good")
			conn := dialTCP(t, s)
			conn.Write(tc.stream(good))
			waitClosedByPeer(t, conn)
			for range tc.frames {
				if f := mustNext(t, s); !bytes.Equal(f.Data, good) {
					t.Error("the packet before the damage differs")
				}
			}
			eventually(t, "the connection is forgotten", func() bool { return s.Stats().TCPConns == 0 })
			if st := s.Stats(); st.BadPackets != 1 || st.Received != uint64(tc.frames) {
				t.Errorf("stats %+v: want 1 bad, %d received", st, tc.frames)
			}
		})
	}
}

func TestAPeerLeavingMidPacketCountsOneBadPacket(t *testing.T) {
	s, _, _ := startHEP(t, HEPConfig{})
	good := hepPacket(t, 3, "", "good")
	conn := dialTCP(t, s)
	conn.Write(append(bytes.Clone(good), good[:10]...))
	mustNext(t, s)
	conn.Close()
	eventually(t, "the cut packet is counted", func() bool { return s.Stats().BadPackets == 1 })
	eventually(t, "the connection is forgotten", func() bool { return s.Stats().TCPConns == 0 })
}

func TestTCPConnectionsBeyondTheLimitAreRefused(t *testing.T) {
	s, _, _ := startHEP(t, HEPConfig{MaxTCPConns: 1})
	first := dialTCP(t, s)
	first.Write(hepPacket(t, 1, "", "first"))
	mustNext(t, s) // the first connection is registered by now

	second := dialTCP(t, s)
	second.Write(hepPacket(t, 2, "", "second"))
	waitClosedByPeer(t, second)
	if st := s.Stats(); st.TCPConnsRejected != 1 || st.TCPConns != 1 {
		t.Fatalf("stats %+v: want 1 rejected, 1 open", st)
	}

	first.Close()
	eventually(t, "the first connection is gone", func() bool { return s.Stats().TCPConns == 0 })
	third := dialTCP(t, s)
	want := hepPacket(t, 3, "", "third")
	third.Write(want)
	if f := mustNext(t, s); !bytes.Equal(f.Data, want) {
		t.Error("a connection within the limit again was not served")
	}
	if st := s.Stats(); st.Received != 2 {
		t.Errorf("stats %+v: the refused connection's packet must not arrive", st)
	}
}

func TestCancellingRunDrainsTheQueueThenEnds(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	s, cancel, runDone := startHEP(t, HEPConfig{})
	idle := dialTCP(t, s)
	idle.Write(hepPacket(t, 9, "", "0"))
	sendUDP(t, s, hepPacket(t, 9, "", "1"), hepPacket(t, 9, "", "2"))
	eventually(t, "three packets are queued", func() bool { return s.Stats().Received == 3 })

	cancel()
	select {
	case err := <-runDone:
		if err != nil {
			t.Fatalf("Run = %v, want nil on a graceful stop", err)
		}
	case <-time.After(hepWait):
		t.Fatal("Run did not return after its context ended")
	}
	waitClosedByPeer(t, idle)
	for i := range 3 {
		if _, err := next(t, s); err != nil {
			t.Fatalf("frame %d after stop: %v, want the queued packet", i, err)
		}
	}
	if _, err := next(t, s); err != io.EOF {
		t.Fatalf("Next after draining = %v, want io.EOF", err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
}

func TestCloseStopsRunAndIsIdempotent(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	s, _, runDone := startHEP(t, HEPConfig{})
	dialTCP(t, s)
	eventually(t, "the connection is open", func() bool { return s.Stats().TCPConns == 1 })
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	// Close waits for Run, so Run has returned by now.
	select {
	case err := <-runDone:
		if err != nil {
			t.Fatalf("Run = %v", err)
		}
	default:
		t.Fatal("Close returned before Run did")
	}
	if st := s.Stats(); st.TCPConns != 0 {
		t.Errorf("%d connections still open after Close", st.TCPConns)
	}
	if _, err := next(t, s); err != io.EOF {
		t.Errorf("Next after Close = %v, want io.EOF", err)
	}
	if err := s.Close(); err != nil {
		t.Errorf("second Close = %v", err)
	}
	if err := s.Run(context.Background()); !errors.Is(err, ErrHEPClosed) {
		t.Errorf("Run after Close = %v, want ErrHEPClosed", err)
	}
}

func TestCloseWithoutRunReleasesTheSockets(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	s, err := ListenHEP(context.Background(), HEPConfig{UDP: []string{"127.0.0.1:0"}, TCP: []string{"127.0.0.1:0"}})
	if err != nil {
		t.Fatal(err)
	}
	udp, tcp := s.Addrs()
	s.Close()
	var f frame.Frame
	if err := s.Next(&f); err != io.EOF {
		t.Errorf("Next = %v, want io.EOF", err)
	}
	again, err := ListenHEP(context.Background(), HEPConfig{UDP: []string{udp[0].String()}, TCP: []string{tcp[0].String()}})
	if err != nil {
		t.Fatalf("the ports were not released: %v", err)
	}
	again.Close()
}

func TestAnAddressInUseFailsListenAndReleasesTheOthers(t *testing.T) {
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	free, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	freeAddr := free.LocalAddr().String()
	free.Close()
	_, err = ListenHEP(context.Background(), HEPConfig{UDP: []string{freeAddr}, TCP: []string{busy.Addr().String()}})
	if err == nil || !strings.Contains(err.Error(), busy.Addr().String()) {
		t.Fatalf("ListenHEP = %v, want an error naming %s", err, busy.Addr())
	}
	pc, err := net.ListenPacket("udp", freeAddr)
	if err != nil {
		t.Fatalf("the UDP socket bound before the failure was not released: %v", err)
	}
	pc.Close()
}

// metricValue finds one sample in a gathered registry; ok is false when the
// metric (with that result label, if given) is absent.
func metricValue(t *testing.T, reg *prometheus.Registry, name, result string) (float64, bool) {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			if result == "" || labelIs(m, "result", result) {
				if m.GetCounter() != nil {
					return m.GetCounter().GetValue(), true
				}
				return m.GetGauge().GetValue(), true
			}
		}
	}
	return 0, false
}

func labelIs(m *dto.Metric, name, value string) bool {
	for _, l := range m.GetLabel() {
		if l.GetName() == name && l.GetValue() == value {
			return true
		}
	}
	return false
}

func TestMetricsAreExportedOnTheInjectedRegisterer(t *testing.T) {
	reg := prometheus.NewPedanticRegistry()
	s, _, _ := startHEP(t, HEPConfig{QueueLen: 1, MaxTCPConns: 1, Registerer: reg})
	sendUDP(t, s, hepPacket(t, 1, "", "a"), hepPacket(t, 1, "", "b"), []byte("junk"))
	eventually(t, "three datagrams are accounted for", func() bool {
		st := s.Stats()
		return st.Received+st.DroppedQueueFull+st.BadPackets == 3
	})
	c1 := dialTCP(t, s)
	eventually(t, "the first connection is open", func() bool { return s.Stats().TCPConns == 1 })
	waitClosedByPeer(t, dialTCP(t, s))

	for _, tc := range []struct {
		name, result string
		want         float64
	}{
		{"sipscope_capture_hep_packets_total", "received", 1},
		{"sipscope_capture_hep_packets_total", "dropped_queue_full", 1},
		{"sipscope_capture_hep_packets_total", "bad_packet", 1},
		{"sipscope_capture_hep_tcp_conns_rejected_total", "", 1},
		{"sipscope_capture_hep_tcp_conns", "", 1},
		{"sipscope_capture_hep_read_errors_total", "", 0},
	} {
		got, ok := metricValue(t, reg, tc.name, tc.result)
		if !ok || got != tc.want {
			t.Errorf("%s{result=%q} = %v (present %v), want %v", tc.name, tc.result, got, ok, tc.want)
		}
	}
	c1.Close()

	s.Close()
	if _, ok := metricValue(t, reg, "sipscope_capture_hep_packets_total", "received"); ok {
		t.Error("metrics still registered after Close")
	}
	// So a new listener can register on the same registry.
	again, err := ListenHEP(context.Background(), HEPConfig{UDP: []string{"127.0.0.1:0"}, Registerer: reg})
	if err != nil {
		t.Fatalf("a second listener on the same registry: %v", err)
	}
	again.Close()
}

func TestDeliveringAndTakingAPacketAllocatesNothingOnceWarm(t *testing.T) {
	s, err := ListenHEP(context.Background(), HEPConfig{UDP: []string{"127.0.0.1:0"}, QueueLen: 4})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	pkt := hepPacket(t, 42, "edge", "steady")
	from := netip.MustParseAddr("192.0.2.99")
	var (
		names hepNodeNames
		f     frame.Frame
	)
	step := func() {
		s.deliver(pkt, from, &names)
		if err := s.Next(&f); err != nil {
			t.Fatal(err)
		}
	}
	for range 10 { // every slot's buffer grown, the node name cached
		step()
	}
	if allocs := testing.AllocsPerRun(1000, step); allocs != 0 {
		t.Errorf("%.1f allocations per packet, want 0", allocs)
	}
	if f.Node != "hep:42/edge" || !bytes.Equal(f.Data, pkt) {
		t.Errorf("frame node %q, %d bytes", f.Node, len(f.Data))
	}
}

func BenchmarkHEPDeliverAndNext(b *testing.B) {
	s, err := ListenHEP(context.Background(), HEPConfig{UDP: []string{"127.0.0.1:0"}, QueueLen: 64})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	pkt := hepPacket(b, 42, "edge", "bench")
	from := netip.MustParseAddr("192.0.2.99")
	var (
		names hepNodeNames
		f     frame.Frame
	)
	b.ReportAllocs()
	b.SetBytes(int64(len(pkt)))
	for b.Loop() {
		s.deliver(pkt, from, &names)
		if err := s.Next(&f); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkHEPOverUDP(b *testing.B) {
	s, err := ListenHEP(context.Background(), HEPConfig{UDP: []string{"127.0.0.1:0"}, QueueLen: 4096, ReadBuffer: 4 << 20})
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	go s.Run(ctx)
	defer func() { cancel(); s.Close() }()
	udp, _ := s.Addrs()
	c, err := net.DialUDP("udp", nil, net.UDPAddrFromAddrPort(udp[0]))
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	pkt := hepPacket(b, 42, "edge", "bench")
	var f frame.Frame
	b.ReportAllocs()
	b.SetBytes(int64(len(pkt)))
	for b.Loop() {
		// One in flight at a time: measures the path, not the socket buffer.
		if _, err := c.Write(pkt); err != nil {
			b.Fatal(err)
		}
		if err := s.Next(&f); err != nil {
			b.Fatal(err)
		}
	}
}
