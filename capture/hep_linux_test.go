package capture

import (
	"context"
	"net"
	"os"
	"runtime"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/sys/unix"

	"github.com/sipscope/sipscope/frame"
)

func rcvbuf(t *testing.T, c *net.UDPConn) int {
	t.Helper()
	rc, err := c.SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	var v int
	var gerr error
	rc.Control(func(fd uintptr) { v, gerr = unix.GetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_RCVBUF) })
	if gerr != nil {
		t.Fatal(gerr)
	}
	return v
}

func TestTheUDPReadBufferIsRaised(t *testing.T) {
	max, err := os.ReadFile("/proc/sys/net/core/rmem_max")
	if err != nil {
		t.Fatal(err)
	}
	s, err := ListenHEP(context.Background(), HEPConfig{UDP: []string{"127.0.0.1:0", "[::1]:0"}})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for i, u := range s.udp {
		got := rcvbuf(t, u.c)
		t.Logf("socket %d: SO_RCVBUF %d (asked %d, rmem_max %s, euid %d)", i, got, DefaultHEPReadBuffer, max[:len(max)-1], os.Geteuid())
		// Linux reports twice what it set. Root gets the whole size whatever
		// rmem_max says; anybody else at most rmem_max.
		if os.Geteuid() == 0 && got < 2*DefaultHEPReadBuffer {
			t.Errorf("socket %d: SO_RCVBUF %d, want at least 2 × %d", i, got, DefaultHEPReadBuffer)
		}
		if got != s.Stats().ReadBuffer {
			t.Errorf("Stats().ReadBuffer %d, the socket has %d", s.Stats().ReadBuffer, got)
		}
	}
}

// TestAUDPFloodIsFullyAccounted sends 170,000 datagrams to loopback in
// three phases that lose them in each way there is: before Run reads
// (the kernel buffer overflows), while nobody takes frames (the queue
// overflows), and while a consumer keeps up as well as it can. Every
// datagram sent must be received, dropped from the queue or counted as a
// kernel drop.
func TestAUDPFloodIsFullyAccounted(t *testing.T) {
	const (
		phase1, phase2, phase3 = 20_000, 50_000, 100_000
		sent                   = phase1 + phase2 + phase3
	)
	s, err := ListenHEP(context.Background(), HEPConfig{UDP: []string{"127.0.0.1:0"}, ReadBuffer: 256 << 10, QueueLen: 64})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	udp, _ := s.Addrs()
	c, err := net.DialUDP("udp", nil, net.UDPAddrFromAddrPort(udp[0]))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	pkt := hepPacket(t, 1, "flood", "x")
	send := func(n int) {
		for range n {
			if _, err := c.Write(pkt); err != nil {
				t.Fatal(err)
			}
		}
	}
	accounted := func(st HEPStats) uint64 {
		return st.Received + st.DroppedQueueFull + st.BadPackets + st.KernelDrops
	}

	start := time.Now()
	send(phase1) // nobody reads yet
	if st := s.Stats(); st.KernelDrops == 0 {
		t.Fatalf("stats %+v: %d datagrams into a 256 KiB buffer nobody reads, and no kernel drop counted", st, phase1)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	runDone := make(chan error, 1)
	go func() { runDone <- s.Run(ctx) }()
	// Read, but nobody takes frames. What the full socket buffer holds
	// (hundreds of datagrams) alone overflows a queue of 64.
	send(phase2)
	eventually(t, "the first two phases are accounted for", func() bool { return accounted(s.Stats()) >= phase1+phase2 })
	// The datagrams read after the first phase's overflow carried the
	// drop count in their control message (SO_RXQ_OVFL), SO_MEMINFO aside.
	u := s.udp[0]
	u.mu.Lock()
	viaCmsg := u.drops
	u.mu.Unlock()
	if viaCmsg == 0 {
		t.Error("no kernel drop reached the reader through SO_RXQ_OVFL")
	}

	taken := make(chan uint64, 1)
	go func() {
		var f frame.Frame
		n := uint64(0)
		for s.Next(&f) == nil {
			n++
		}
		taken <- n
	}()
	send(phase3)
	deadline := time.Now().Add(10 * time.Second)
	for accounted(s.Stats()) < sent && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	st := s.Stats()
	t.Logf("sent %d in %v: received %d, queue drops %d, kernel drops %d, bad %d",
		sent, time.Since(start).Round(time.Millisecond), st.Received, st.DroppedQueueFull, st.KernelDrops, st.BadPackets)
	got := accounted(st)
	if diff := int64(sent) - int64(got); diff < 0 || diff > sent/100 {
		t.Errorf("sent %d, accounted for %d (received + queue drops + kernel drops + bad): off by %d, more than 1%%", sent, got, diff)
	}
	if st.DroppedQueueFull == 0 || st.BadPackets != 0 {
		t.Errorf("stats %+v: the queue never overflowed, or a flood datagram was bad", st)
	}
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(newHEPCollector(s))
	if v, _ := metricValue(t, reg, "sipscope_capture_hep_packets_total", "kernel_drop"); v != float64(st.KernelDrops) {
		t.Errorf("sipscope_capture_hep_packets_total{result=kernel_drop} = %v, Stats says %d", v, st.KernelDrops)
	}
	cancel()
	<-runDone
	if n := <-taken; n != st.Received {
		t.Errorf("Next returned %d frames, %d were received", n, st.Received)
	}
}

// TestTheUDPReadPathAllocatesNothing counts the allocations of the whole
// process while 20,000 datagrams travel from a socket to Next, control
// message included.
func TestTheUDPReadPathAllocatesNothing(t *testing.T) {
	const n, batch = 20_000, 100
	s, _, _ := startHEP(t, HEPConfig{UDP: []string{"127.0.0.1:0"}})
	udp, _ := s.Addrs()
	c, err := net.DialUDP("udp", nil, net.UDPAddrFromAddrPort(udp[0]))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	pkt := hepPacket(t, 1, "edge", "steady")
	var f frame.Frame
	round := func() {
		for range batch {
			c.Write(pkt)
		}
		for range batch {
			if err := s.Next(&f); err != nil {
				t.Fatal(err)
			}
		}
	}
	for range 50 { // warm: every slot's buffer grown, names cached
		round()
	}
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	for range n / batch {
		round()
	}
	runtime.ReadMemStats(&after)
	per := float64(after.Mallocs-before.Mallocs) / n
	t.Logf("%.4f allocations per datagram", per)
	if per > 0.01 {
		t.Errorf("%.4f allocations per datagram, want 0", per)
	}
	if st := s.Stats(); st.Received != n+50*batch || st.KernelDrops != 0 {
		t.Errorf("stats %+v", st)
	}
}
