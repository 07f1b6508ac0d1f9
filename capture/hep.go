package capture

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/sipscope/sipscope/frame"
	"github.com/sipscope/sipscope/hep"
)

// Defaults for the zero values of HEPConfig.
const (
	DefaultHEPQueueLen    = 4096
	DefaultHEPMaxTCPConns = 64
)

const (
	// hepMaxPacket is the largest HEP packet: HEPv3's total length is 16
	// bits, and a UDP datagram (so HEPv1/v2) cannot be longer either.
	hepMaxPacket = 0xffff
	// hepSlotKeep is the largest buffer a queue slot keeps after use. A
	// rare larger packet gets a buffer of its own that is then dropped, so
	// a burst of large packets cannot pin QueueLen × 64 KiB of memory.
	hepSlotKeep = 16 << 10
	// hepMaxNodeNames bounds each reader's cache of Frame.Node strings.
	hepMaxNodeNames = 1024
	// hepMaxNodeNameLen bounds the node name a sender can put in Frame.Node.
	hepMaxNodeNameLen = 64
)

// Errors of the HEP listener. (They belong with the package's other
// sentinels in errors.go, which another change owns; move them there.)
var (
	// ErrHEPConfig means a HEPConfig field is invalid; the error names it.
	ErrHEPConfig = errors.New("capture: invalid HEP listener config")
	// ErrHEPClosed means Run was called on a source that already ran or
	// was closed.
	ErrHEPClosed = errors.New("capture: HEP source already ran or was closed")
)

// HEPConfig configures a HEP listener. Zero values of the numeric fields
// select the defaults.
type HEPConfig struct {
	UDP []string // UDP listen addresses, like "0.0.0.0:9060"; port 0 picks a free port
	TCP []string // TCP listen addresses; each connection carries a stream of HEPv3 packets

	// QueueLen is how many received packets wait for Next; when they are
	// all taken, further packets are dropped and counted, never waited for.
	QueueLen int
	// MaxTCPConns bounds concurrent TCP connections; more are refused and
	// counted.
	MaxTCPConns int
	// ReadBuffer sets the kernel receive buffer (SO_RCVBUF) of every
	// socket, in bytes; 0 keeps the system default.
	ReadBuffer int

	// Registerer receives the listener's metrics; nil registers nothing.
	Registerer prometheus.Registerer
	// Logger receives connection-level events (never per-packet ones);
	// nil discards them.
	Logger *slog.Logger
}

// Validate checks every field and names the first bad one.
func (c HEPConfig) Validate() error {
	if len(c.UDP) == 0 && len(c.TCP) == 0 {
		return fmt.Errorf("%w: UDP, TCP: no listen address", ErrHEPConfig)
	}
	for _, l := range []struct {
		field string
		addrs []string
	}{{"UDP", c.UDP}, {"TCP", c.TCP}} {
		for i, a := range l.addrs {
			if err := checkListenAddr(a); err != nil {
				return fmt.Errorf("%w: %s[%d] %q: %v", ErrHEPConfig, l.field, i, a, err)
			}
		}
	}
	for _, f := range []struct {
		field    string
		val, max int
	}{
		{"QueueLen", c.QueueLen, 1 << 20},
		{"MaxTCPConns", c.MaxTCPConns, 1 << 16},
		{"ReadBuffer", c.ReadBuffer, 1 << 30},
	} {
		if f.val < 0 || f.val > f.max {
			return fmt.Errorf("%w: %s %d: want 0 (default) to %d", ErrHEPConfig, f.field, f.val, f.max)
		}
	}
	return nil
}

func checkListenAddr(a string) error {
	_, port, err := net.SplitHostPort(a)
	if err != nil {
		return err
	}
	if _, err := strconv.ParseUint(port, 10, 16); err != nil {
		return fmt.Errorf("bad port %q", port)
	}
	return nil
}

// HEPStats counts what the listener did. Received, DroppedQueueFull and
// BadPackets partition every packet read from a socket.
type HEPStats struct {
	Received         uint64 // queued for Next
	DroppedQueueFull uint64 // dropped because QueueLen packets were waiting
	BadPackets       uint64 // not HEP, malformed, or a TCP stream that lost its framing
	TCPConnsRejected uint64 // connections refused beyond MaxTCPConns
	ReadErrors       uint64 // socket errors other than shutdown
	TCPConns         int64  // connections open now
}

// hepSlot carries one received packet from a socket reader to Next.
type hepSlot struct {
	buf  []byte
	ts   int64
	node string
}

type hepState int

const (
	hepIdle hepState = iota
	hepRunning
	hepStopped
)

// HEPSource receives HEP packets on UDP and TCP sockets and hands them out
// as frames of type LinkHEP. ListenHEP binds the sockets, Run reads them
// until its context ends, and Next, called from one goroutine, returns the
// packets in arrival order.
type HEPSource struct {
	cfg  HEPConfig
	log  *slog.Logger
	udp  []*net.UDPConn
	tcp  []*net.TCPListener
	reg  prometheus.Registerer
	coll prometheus.Collector

	// Packets travel from the readers to Next through queue and their
	// buffers come back through free. There is one slot more than queue
	// holds: the one behind the frame Next returned last.
	queue chan *hepSlot
	free  chan *hepSlot
	held  *hepSlot // owned by Next

	mu      sync.Mutex
	state   hepState
	closing bool                      // no new TCP connections
	conns   map[*net.TCPConn]struct{} // open TCP connections
	stop    chan struct{}             // closed by Close to stop Run
	done    chan struct{}             // closed when Run has shut down
	wg      sync.WaitGroup            // socket readers and TCP connections

	unregister sync.Once

	received, queueFull, bad, rejected, readErrors atomic.Uint64
	tcpConns                                       atomic.Int64
}

// ListenHEP validates cfg and binds every listen address, so that Addrs
// reports the actual ports before Run starts reading. ctx bounds only the
// binding. On error nothing stays bound.
func ListenHEP(ctx context.Context, cfg HEPConfig) (*HEPSource, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.QueueLen == 0 {
		cfg.QueueLen = DefaultHEPQueueLen
	}
	if cfg.MaxTCPConns == 0 {
		cfg.MaxTCPConns = DefaultHEPMaxTCPConns
	}
	s := &HEPSource{
		cfg:   cfg,
		log:   cfg.Logger,
		queue: make(chan *hepSlot, cfg.QueueLen),
		free:  make(chan *hepSlot, cfg.QueueLen+1),
		conns: make(map[*net.TCPConn]struct{}),
		stop:  make(chan struct{}),
		done:  make(chan struct{}),
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	for range cfg.QueueLen + 1 {
		s.free <- &hepSlot{}
	}

	var lc net.ListenConfig
	for _, a := range cfg.UDP {
		pc, err := lc.ListenPacket(ctx, "udp", a)
		if err != nil {
			s.closeSockets()
			return nil, fmt.Errorf("capture: HEP listen udp %s: %w", a, err)
		}
		c := pc.(*net.UDPConn)
		s.udp = append(s.udp, c)
		if cfg.ReadBuffer > 0 {
			if err := c.SetReadBuffer(cfg.ReadBuffer); err != nil {
				s.closeSockets()
				return nil, fmt.Errorf("capture: HEP udp %s: read buffer: %w", a, err)
			}
		}
	}
	for _, a := range cfg.TCP {
		l, err := lc.Listen(ctx, "tcp", a)
		if err != nil {
			s.closeSockets()
			return nil, fmt.Errorf("capture: HEP listen tcp %s: %w", a, err)
		}
		s.tcp = append(s.tcp, l.(*net.TCPListener))
	}

	if cfg.Registerer != nil {
		s.coll = newHEPCollector(s)
		if err := cfg.Registerer.Register(s.coll); err != nil {
			s.closeSockets()
			return nil, fmt.Errorf("capture: HEP metrics: %w", err)
		}
		s.reg = cfg.Registerer
	}
	return s, nil
}

// Addrs returns the bound UDP and TCP addresses, in the order of the
// config, with the ports the system chose for port 0.
func (s *HEPSource) Addrs() (udp, tcp []netip.AddrPort) {
	for _, c := range s.udp {
		udp = append(udp, c.LocalAddr().(*net.UDPAddr).AddrPort())
	}
	for _, l := range s.tcp {
		tcp = append(tcp, l.Addr().(*net.TCPAddr).AddrPort())
	}
	return udp, tcp
}

// Stats returns the counters so far.
func (s *HEPSource) Stats() HEPStats {
	return HEPStats{
		Received:         s.received.Load(),
		DroppedQueueFull: s.queueFull.Load(),
		BadPackets:       s.bad.Load(),
		TCPConnsRejected: s.rejected.Load(),
		ReadErrors:       s.readErrors.Load(),
		TCPConns:         s.tcpConns.Load(),
	}
}

// Run reads every socket until ctx ends or Close is called, then closes
// the sockets and connections, waits for its goroutines and ends the queue:
// Next returns what was still queued, then io.EOF. A graceful stop returns
// nil. Run can be called once.
func (s *HEPSource) Run(ctx context.Context) error {
	s.mu.Lock()
	if s.state != hepIdle {
		s.mu.Unlock()
		return ErrHEPClosed
	}
	s.state = hepRunning
	for _, c := range s.udp {
		s.wg.Add(1)
		go s.readUDP(c)
	}
	for _, l := range s.tcp {
		s.wg.Add(1)
		go s.acceptTCP(l)
	}
	s.mu.Unlock()

	select {
	case <-ctx.Done():
	case <-s.stop:
	}
	s.closeSockets()
	s.wg.Wait()
	close(s.queue)

	s.mu.Lock()
	s.state = hepStopped
	s.mu.Unlock()
	close(s.done)
	return nil
}

// Close stops Run (waiting until it has shut down), or releases the sockets
// if Run never started, and unregisters the metrics. It is safe to call
// more than once.
func (s *HEPSource) Close() error {
	s.mu.Lock()
	switch s.state {
	case hepIdle:
		s.state = hepStopped
		s.mu.Unlock()
		s.closeSockets()
		close(s.queue)
		close(s.done)
	case hepRunning:
		select {
		case <-s.stop:
		default:
			close(s.stop)
		}
		s.mu.Unlock()
		<-s.done
	default:
		s.mu.Unlock()
	}
	s.unregister.Do(func() {
		if s.reg != nil {
			s.reg.Unregister(s.coll)
		}
	})
	return nil
}

// Next fills f with the next received packet, waiting for one if none is
// queued. f.Data holds the whole HEP packet and belongs to the source: it
// is valid until the next call. f.TS is the receive time, f.Node names the
// sender ("hep:<node id>/<node name>", or "hep:<address>" for a sender that
// gives neither). Once the source has stopped and the queue is drained,
// Next returns io.EOF. Next must not be called from several goroutines.
func (s *HEPSource) Next(f *frame.Frame) error {
	if s.held != nil {
		s.release(s.held)
		s.held = nil
	}
	slot, ok := <-s.queue
	if !ok {
		return io.EOF
	}
	s.held = slot
	f.TS = slot.ts
	f.LinkType = frame.LinkHEP
	f.Data = slot.buf
	f.OrigLen = len(slot.buf)
	f.Node = slot.node
	return nil
}

// release returns a slot to the free list. It never blocks: the free list
// has room for every slot there is.
func (s *HEPSource) release(slot *hepSlot) {
	if cap(slot.buf) > hepSlotKeep {
		slot.buf = nil
	}
	slot.node = ""
	s.free <- slot
}

// closeSockets closes the listeners and every TCP connection, which ends
// their readers, and refuses connections accepted from now on.
func (s *HEPSource) closeSockets() {
	for _, c := range s.udp {
		c.Close()
	}
	for _, l := range s.tcp {
		l.Close()
	}
	s.mu.Lock()
	s.closing = true
	for c := range s.conns {
		c.Close()
	}
	s.mu.Unlock()
}

// deliver validates one received packet and queues a copy of it; it never
// blocks. Running hep.Unmarshal here costs little (it only walks the chunk
// headers) and keeps garbage out of the queue, counted where it arrived.
func (s *HEPSource) deliver(pkt []byte, from netip.Addr, names *hepNodeNames) {
	var p hep.Packet
	if err := p.Unmarshal(pkt); err != nil {
		s.bad.Add(1)
		return
	}
	var slot *hepSlot
	select {
	case slot = <-s.free:
	default:
		s.queueFull.Add(1)
		return
	}
	slot.buf = append(slot.buf[:0], pkt...)
	slot.ts = time.Now().UnixNano()
	slot.node = names.name(&p, from)
	// Counted before it is queued, so that a frame Next returns is
	// already in Received.
	s.received.Add(1)
	select {
	case s.queue <- slot:
	default:
		// QueueLen packets are waiting (the free slot we got is the one
		// kept for Next).
		s.received.Add(^uint64(0))
		s.queueFull.Add(1)
		s.release(slot)
	}
}

func (s *HEPSource) readUDP(c *net.UDPConn) {
	defer s.wg.Done()
	buf := make([]byte, hepMaxPacket+1) // one more, to see an oversized datagram
	var names hepNodeNames
	for {
		n, from, err := c.ReadFromUDPAddrPort(buf)
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			s.readErrors.Add(1)
			time.Sleep(time.Millisecond) // no busy loop on a persistent error
			continue
		}
		if n > hepMaxPacket {
			s.bad.Add(1)
			continue
		}
		s.deliver(buf[:n], from.Addr().Unmap(), &names)
	}
}

func (s *HEPSource) acceptTCP(l *net.TCPListener) {
	defer s.wg.Done()
	for {
		c, err := l.AcceptTCP()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			// Out of file descriptors and the like: count, breathe, go on.
			s.readErrors.Add(1)
			time.Sleep(10 * time.Millisecond)
			continue
		}
		if !s.addConn(c) {
			s.rejected.Add(1)
			s.log.Debug("HEP TCP connection refused", "remote", c.RemoteAddr().String(), "max_conns", s.cfg.MaxTCPConns)
			c.Close()
			continue
		}
		if s.cfg.ReadBuffer > 0 {
			if err := c.SetReadBuffer(s.cfg.ReadBuffer); err != nil {
				s.log.Warn("HEP TCP read buffer", "remote", c.RemoteAddr().String(), "err", err)
			}
		}
		s.wg.Add(1) // the accept loop's own count keeps wg above zero here
		go s.readTCP(c)
	}
}

// addConn registers a new connection unless the source is shutting down or
// at MaxTCPConns.
func (s *HEPSource) addConn(c *net.TCPConn) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closing || len(s.conns) >= s.cfg.MaxTCPConns {
		return false
	}
	s.conns[c] = struct{}{}
	s.tcpConns.Add(1)
	return true
}

func (s *HEPSource) removeConn(c *net.TCPConn) {
	s.mu.Lock()
	delete(s.conns, c)
	s.mu.Unlock()
	s.tcpConns.Add(-1)
	c.Close()
}

// readTCP splits one connection's byte stream into HEPv3 packets with
// hep.FrameLength. Its buffer holds the largest possible packet, so it is
// bounded and never grows. A stream that loses its framing cannot be
// resynchronised and is dropped.
func (s *HEPSource) readTCP(c *net.TCPConn) {
	defer s.wg.Done()
	defer s.removeConn(c)
	from := c.RemoteAddr().(*net.TCPAddr).AddrPort().Addr().Unmap()
	buf := make([]byte, hepMaxPacket+1)
	var (
		names      hepNodeNames
		start, end int
		readErr    error
	)
	for {
		for {
			n, err := hep.FrameLength(buf[start:end])
			if err == hep.ErrTruncated || (err == nil && end-start < n) {
				break // read more
			}
			if err != nil {
				s.bad.Add(1)
				s.log.Debug("HEP TCP stream lost its framing", "remote", from.String(), "err", err)
				return
			}
			s.deliver(buf[start:start+n], from, &names)
			start += n
		}
		if readErr != nil {
			switch {
			case errors.Is(readErr, net.ErrClosed):
				// Shutdown: whatever was in flight is abandoned.
			case errors.Is(readErr, io.EOF):
				if end > start {
					s.bad.Add(1) // the peer left in the middle of a packet
				}
			default:
				s.readErrors.Add(1)
			}
			return
		}
		if start > 0 {
			end = copy(buf, buf[start:end])
			start = 0
		}
		// The buffer holds a whole packet, and an incomplete one is all it
		// can hold here, so buf[end:] is never empty.
		var n int
		n, readErr = c.Read(buf[end:])
		end += n
	}
}

// hepNodeNames caches Frame.Node strings per reader goroutine, so that a
// steady stream from known senders builds no string per packet.
type hepNodeNames struct {
	byNode map[uint32]map[string]string
	byAddr map[netip.Addr]string
	n      int
}

func (c *hepNodeNames) name(p *hep.Packet, from netip.Addr) string {
	if c.n >= hepMaxNodeNames {
		*c = hepNodeNames{} // a sender cycling through names: start over
	}
	if p.NodeID == 0 && len(p.NodeName) == 0 {
		if s, ok := c.byAddr[from]; ok {
			return s
		}
		s := "hep:" + from.String()
		if c.byAddr == nil {
			c.byAddr = make(map[netip.Addr]string)
		}
		c.byAddr[from] = s
		c.n++
		return s
	}
	m := c.byNode[p.NodeID]
	if s, ok := m[string(p.NodeName)]; ok {
		return s
	}
	s := "hep:" + strconv.FormatUint(uint64(p.NodeID), 10)
	if len(p.NodeName) > 0 {
		name := p.NodeName
		if len(name) > hepMaxNodeNameLen {
			name = name[:hepMaxNodeNameLen]
		}
		s += "/" + string(name)
	}
	if m == nil {
		if c.byNode == nil {
			c.byNode = make(map[uint32]map[string]string)
		}
		m = make(map[string]string)
		c.byNode[p.NodeID] = m
	}
	m[string(p.NodeName)] = s
	c.n++
	return s
}

// hepCollector exports HEPSource's counters. Reading the source's atomics
// at scrape time keeps the per-packet path to one atomic add.
type hepCollector struct {
	s                          *HEPSource
	packets, rejected, readErr *prometheus.Desc
	conns                      *prometheus.Desc
}

func newHEPCollector(s *HEPSource) *hepCollector {
	return &hepCollector{
		s: s,
		packets: prometheus.NewDesc("sipscope_capture_hep_packets_total",
			"HEP packets read from the listener's sockets, by what became of them.", []string{"result"}, nil),
		rejected: prometheus.NewDesc("sipscope_capture_hep_tcp_conns_rejected_total",
			"HEP TCP connections refused because MaxTCPConns were open.", nil, nil),
		readErr: prometheus.NewDesc("sipscope_capture_hep_read_errors_total",
			"Socket read or accept errors of the HEP listener, shutdown aside.", nil, nil),
		conns: prometheus.NewDesc("sipscope_capture_hep_tcp_conns",
			"HEP TCP connections open now.", nil, nil),
	}
}

func (c *hepCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.packets
	ch <- c.rejected
	ch <- c.readErr
	ch <- c.conns
}

func (c *hepCollector) Collect(ch chan<- prometheus.Metric) {
	st := c.s.Stats()
	ch <- prometheus.MustNewConstMetric(c.packets, prometheus.CounterValue, float64(st.Received), "received")
	ch <- prometheus.MustNewConstMetric(c.packets, prometheus.CounterValue, float64(st.DroppedQueueFull), "dropped_queue_full")
	ch <- prometheus.MustNewConstMetric(c.packets, prometheus.CounterValue, float64(st.BadPackets), "bad_packet")
	ch <- prometheus.MustNewConstMetric(c.rejected, prometheus.CounterValue, float64(st.TCPConnsRejected))
	ch <- prometheus.MustNewConstMetric(c.readErr, prometheus.CounterValue, float64(st.ReadErrors))
	ch <- prometheus.MustNewConstMetric(c.conns, prometheus.GaugeValue, float64(st.TCPConns))
}
