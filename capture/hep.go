package capture

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"os"
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
	DefaultHEPQueueLen = 4096
	// DefaultHEPMaxTCPConns bounds the TCP connections open at once. Each
	// holds a 64 KiB buffer, so the default pins at most 16 MiB.
	DefaultHEPMaxTCPConns = 256
	// DefaultHEPMaxTCPConnsPerSource keeps one address from taking every
	// connection: a sender needs one, a few while it reconnects.
	DefaultHEPMaxTCPConnsPerSource = 8
	// DefaultHEPIdleTimeout closes a TCP connection that sent nothing for
	// this long. Agents send keep-alives or traffic far more often; one
	// that went quiet reconnects on its next packet.
	DefaultHEPIdleTimeout = 5 * time.Minute
	// DefaultHEPReadTimeout closes a TCP connection whose current packet
	// has not arrived in full this long after its first byte: a packet is
	// at most 64 KiB, which no live sender spreads over seconds, so only a
	// slow-drip attacker hits it.
	DefaultHEPReadTimeout = 30 * time.Second
	// DefaultHEPReadBuffer is the UDP receive buffer asked of the kernel:
	// about a second of 7,000 packets of 1 KiB with room to spare, where
	// the system default (208 KiB) overflowed within milliseconds of a
	// burst.
	DefaultHEPReadBuffer = 8 << 20
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

// HEPConfig configures a HEP listener. Zero values of the numeric fields
// select the defaults.
type HEPConfig struct {
	UDP []string // UDP listen addresses, like "0.0.0.0:9060"; port 0 picks a free port
	TCP []string // TCP listen addresses; each connection carries a stream of HEPv3 packets

	// QueueLen is how many received packets wait for Next; when they are
	// all taken, further packets are dropped and counted, never waited for.
	QueueLen int
	// MaxTCPConns bounds concurrent TCP connections; more are refused and
	// counted (reason max_conns).
	MaxTCPConns int
	// MaxTCPConnsPerSource bounds the TCP connections open from one
	// address (one /64 for IPv6), so one host cannot take them all
	// (reason max_conns_per_source).
	MaxTCPConnsPerSource int
	// IdleTimeout closes a TCP connection that sent nothing for this long
	// (reason idle_timeout), so abandoned or hostile idle connections give
	// their place back.
	IdleTimeout time.Duration
	// ReadTimeout closes a TCP connection whose current packet is not
	// complete this long after its first bytes arrived (reason
	// read_timeout).
	ReadTimeout time.Duration
	// ReadBuffer is the kernel receive buffer of every UDP socket, in
	// bytes, set with SO_RCVBUFFORCE when the process may (root, beyond
	// net.core.rmem_max), else SO_RCVBUF (capped at rmem_max, logged when
	// the kernel grants less). TCP connections keep the kernel's
	// autotuning, which a fixed size would turn off.
	ReadBuffer int

	// AuthKey, when set, must be in every packet's HEPv3 auth key chunk
	// (type 14). Packets without it (HEPv1/v2 cannot carry one) are
	// dropped and counted; a TCP connection that sends one is closed.
	AuthKey string
	// Allow lists the sources that may send, as CIDRs ("10.0.0.0/8") or
	// addresses; empty allows every source. Datagrams from elsewhere are
	// dropped and connections refused, both counted (reason not_allowed).
	Allow []string

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
		{"MaxTCPConnsPerSource", c.MaxTCPConnsPerSource, 1 << 16},
		{"ReadBuffer", c.ReadBuffer, 1 << 30},
	} {
		if f.val < 0 || f.val > f.max {
			return fmt.Errorf("%w: %s %d: want 0 (default) to %d", ErrHEPConfig, f.field, f.val, f.max)
		}
	}
	for _, d := range []struct {
		field string
		val   time.Duration
	}{{"IdleTimeout", c.IdleTimeout}, {"ReadTimeout", c.ReadTimeout}} {
		if d.val < 0 {
			return fmt.Errorf("%w: %s %v: want 0 (default) or more", ErrHEPConfig, d.field, d.val)
		}
	}
	if len(c.AuthKey) > maxHEP3AuthKey {
		return fmt.Errorf("%w: AuthKey: %d bytes, a HEPv3 chunk holds at most %d", ErrHEPConfig, len(c.AuthKey), maxHEP3AuthKey)
	}
	if _, err := parseHEPAllow(c.Allow); err != nil {
		return fmt.Errorf("%w: %v", ErrHEPConfig, err)
	}
	return nil
}

// maxHEP3AuthKey is the longest key a HEPv3 chunk can carry beside its
// header and the packet's own.
const maxHEP3AuthKey = 0xffff - 6 - 6

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

// HEPStats counts what the listener did. Received, DroppedQueueFull,
// BadPackets, AuthFailed and NotAllowed partition every packet read from a
// socket; KernelDrops are the UDP datagrams that never got that far.
type HEPStats struct {
	Received         uint64 `json:"received"`           // queued for Next
	DroppedQueueFull uint64 `json:"dropped_queue_full"` // dropped because QueueLen packets were waiting
	BadPackets       uint64 `json:"bad_packets"`        // not HEP, malformed, or a TCP stream that lost its framing
	AuthFailed       uint64 `json:"auth_failed"`        // without the configured AuthKey
	NotAllowed       uint64 `json:"not_allowed"`        // UDP datagrams from a source outside Allow
	// KernelDrops are UDP datagrams the kernel dropped because a socket's
	// receive buffer was full (SO_RXQ_OVFL, brought up to date with
	// SO_MEMINFO when read); always 0 off Linux.
	KernelDrops uint64 `json:"kernel_drops"`
	// ReadBuffer is the receive buffer the kernel granted the UDP sockets
	// (the smallest if several), as getsockopt(SO_RCVBUF) reports it:
	// twice the bytes asked for, on Linux.
	ReadBuffer int `json:"read_buffer"`

	TCPConnsRejected   uint64 `json:"tcp_conns_rejected"`   // connections refused, whatever the reason (the sum of the next three)
	RejectedMaxConns   uint64 `json:"rejected_max_conns"`   // refused because MaxTCPConns were open
	RejectedPerSource  uint64 `json:"rejected_per_source"`  // refused because MaxTCPConnsPerSource were open from the address
	RejectedNotAllowed uint64 `json:"rejected_not_allowed"` // refused because the address is outside Allow
	ClosedIdle         uint64 `json:"closed_idle"`          // closed after IdleTimeout without a byte
	ClosedReadTimeout  uint64 `json:"closed_read_timeout"`  // closed because a packet took longer than ReadTimeout
	ClosedAuth         uint64 `json:"closed_auth"`          // closed after a packet without the AuthKey
	ReadErrors         uint64 `json:"read_errors"`          // socket errors other than shutdown
	TCPConns           int64  `json:"tcp_conns"`            // connections open now
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
	cfg   HEPConfig
	log   *slog.Logger
	udp   []*hepUDPSocket
	tcp   []*net.TCPListener
	allow hepAllow
	key   []byte // nil: no AuthKey
	warn  hepWarnings

	readBuffer int // granted to the UDP sockets
	reg        prometheus.Registerer
	coll       prometheus.Collector

	// Packets travel from the readers to Next through queue and their
	// buffers come back through free. There is one slot more than queue
	// holds: the one behind the frame Next returned last.
	queue chan *hepSlot
	free  chan *hepSlot
	held  *hepSlot // owned by Next

	mu       sync.Mutex
	state    hepState
	closing  bool                        // no new TCP connections
	conns    map[*net.TCPConn]netip.Addr // open TCP connections and their sources
	bySource map[netip.Addr]int          // open TCP connections per sourceKey; bounded by MaxTCPConns
	stop     chan struct{}               // closed by Close to stop Run
	done     chan struct{}               // closed when Run has shut down
	wg       sync.WaitGroup              // socket readers and TCP connections

	unregister sync.Once

	received, queueFull, bad, authFailed, notAllowed, readErrors atomic.Uint64
	refused                                                      [numHEPRefusals]atomic.Uint64
	tcpConns                                                     atomic.Int64
}

// hepUDPSocket is one UDP listen socket and the kernel drop counter its
// reader follows. The counter is a wrapping uint32 in the kernel; drops
// accumulates its increments.
type hepUDPSocket struct {
	c *net.UDPConn

	mu      sync.Mutex
	raw     uint32 // the kernel's counter when drops was last brought up to date
	drops   uint64
	counted bool // SO_RXQ_OVFL is on
}

// observe takes a counter value from a datagram's control message. The
// reader calls it only when the value changed, so the lock is taken only
// while the kernel is dropping.
func (u *hepUDPSocket) observe(raw uint32) {
	u.mu.Lock()
	if d := raw - u.raw; d < 1<<31 { // an older value read late is no news
		u.drops += uint64(d)
		u.raw = raw
	}
	u.mu.Unlock()
}

// kernelDrops returns the drops so far, including those after the latest
// datagram read (SO_MEMINFO), which no control message reports until the
// next datagram arrives. It stays monotonic: what it adds is measured from
// the same base observe moves.
func (u *hepUDPSocket) kernelDrops() uint64 {
	u.mu.Lock()
	defer u.mu.Unlock()
	if !u.counted {
		return 0
	}
	if now, ok := socketDrops(u.c); ok {
		if d := now - u.raw; d < 1<<31 {
			return u.drops + uint64(d)
		}
	}
	return u.drops
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
	if cfg.MaxTCPConnsPerSource == 0 {
		cfg.MaxTCPConnsPerSource = DefaultHEPMaxTCPConnsPerSource
	}
	if cfg.IdleTimeout == 0 {
		cfg.IdleTimeout = DefaultHEPIdleTimeout
	}
	if cfg.ReadTimeout == 0 {
		cfg.ReadTimeout = DefaultHEPReadTimeout
	}
	if cfg.ReadBuffer == 0 {
		cfg.ReadBuffer = DefaultHEPReadBuffer
	}
	allow, _ := parseHEPAllow(cfg.Allow) // Validate has checked it
	s := &HEPSource{
		cfg:      cfg,
		log:      cfg.Logger,
		allow:    allow,
		queue:    make(chan *hepSlot, cfg.QueueLen),
		free:     make(chan *hepSlot, cfg.QueueLen+1),
		conns:    make(map[*net.TCPConn]netip.Addr),
		bySource: make(map[netip.Addr]int),
		stop:     make(chan struct{}),
		done:     make(chan struct{}),
	}
	if cfg.AuthKey != "" {
		s.key = []byte(cfg.AuthKey)
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	s.warn = hepWarnings{log: s.log, every: hepWarnEvery}
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
		u := &hepUDPSocket{c: pc.(*net.UDPConn)}
		s.udp = append(s.udp, u)
		granted, err := setReadBuffer(u.c, cfg.ReadBuffer)
		if err != nil {
			s.closeSockets()
			return nil, fmt.Errorf("capture: HEP udp %s: read buffer: %w", a, err)
		}
		if s.readBuffer == 0 || granted < s.readBuffer {
			s.readBuffer = granted
		}
		if granted < cfg.ReadBuffer {
			// Linux reports twice what it set, so this is well short.
			s.log.Warn("HEP UDP receive buffer smaller than asked: run as root or raise net.core.rmem_max",
				"addr", a, "asked", cfg.ReadBuffer, "granted", granted)
		}
		if err := enableDropCount(u.c); err == nil {
			u.counted = true
		} else {
			s.log.Info("HEP UDP kernel drops are not counted", "addr", a, "err", err)
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
	for _, u := range s.udp {
		udp = append(udp, u.c.LocalAddr().(*net.UDPAddr).AddrPort())
	}
	for _, l := range s.tcp {
		tcp = append(tcp, l.Addr().(*net.TCPAddr).AddrPort())
	}
	return udp, tcp
}

// Stats returns the counters so far.
func (s *HEPSource) Stats() HEPStats {
	st := HEPStats{
		Received:           s.received.Load(),
		DroppedQueueFull:   s.queueFull.Load(),
		BadPackets:         s.bad.Load(),
		AuthFailed:         s.authFailed.Load(),
		NotAllowed:         s.notAllowed.Load(),
		ReadBuffer:         s.readBuffer,
		RejectedMaxConns:   s.refused[refusedMaxConns].Load(),
		RejectedPerSource:  s.refused[refusedPerSource].Load(),
		RejectedNotAllowed: s.refused[refusedNotAllowed].Load(),
		ClosedIdle:         s.refused[closedIdle].Load(),
		ClosedReadTimeout:  s.refused[closedReadTimeout].Load(),
		ClosedAuth:         s.refused[closedAuth].Load(),
		ReadErrors:         s.readErrors.Load(),
		TCPConns:           s.tcpConns.Load(),
	}
	st.TCPConnsRejected = st.RejectedMaxConns + st.RejectedPerSource + st.RejectedNotAllowed
	for _, u := range s.udp {
		st.KernelDrops += u.kernelDrops()
	}
	return st
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
	for _, u := range s.udp {
		s.wg.Add(1)
		go s.readUDP(u)
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
	for _, u := range s.udp {
		u.c.Close()
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
// It returns false for a packet without the configured auth key.
func (s *HEPSource) deliver(pkt []byte, from netip.Addr, names *hepNodeNames) bool {
	var p hep.Packet
	if err := p.Unmarshal(pkt); err != nil {
		s.bad.Add(1)
		return true
	}
	if !authorized(s.key, &p) {
		s.authFailed.Add(1)
		return false
	}
	var slot *hepSlot
	select {
	case slot = <-s.free:
	default:
		s.queueFull.Add(1)
		return true
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
	return true
}

// readUDP reads one socket until it is closed. Each read also brings the
// kernel's drop counter (SO_RXQ_OVFL) in its control message; the reader
// compares it with the last one it saw, so a steady socket costs no lock.
// Nothing here allocates per datagram.
func (s *HEPSource) readUDP(u *hepUDPSocket) {
	defer s.wg.Done()
	buf := make([]byte, hepMaxPacket+1) // one more, to see an oversized datagram
	oob := make([]byte, hepOOBLen)
	var (
		names    hepNodeNames
		lastDrop uint32
	)
	for {
		n, oobn, _, from, err := u.c.ReadMsgUDPAddrPort(buf, oob)
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			s.readErrors.Add(1)
			time.Sleep(time.Millisecond) // no busy loop on a persistent error
			continue
		}
		if v, ok := rxqOverflow(oob[:oobn]); ok && v != lastDrop {
			lastDrop = v
			u.observe(v)
		}
		addr := from.Addr().Unmap()
		if !s.allow.allows(addr) {
			s.notAllowed.Add(1)
			s.warn.note(refusedNotAllowed, addr)
			continue
		}
		if n > hepMaxPacket {
			s.bad.Add(1)
			continue
		}
		if !s.deliver(buf[:n], addr, &names) {
			s.warn.note(droppedAuth, addr)
		}
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
		from := c.RemoteAddr().(*net.TCPAddr).AddrPort().Addr().Unmap()
		if reason, ok := s.addConn(c, from); !ok {
			if reason >= 0 {
				s.refuse(reason, from)
			}
			c.Close()
			continue
		}
		s.wg.Add(1) // the accept loop's own count keeps wg above zero here
		go s.readTCP(c, from)
	}
}

// refuse counts a refused, closed or dropped connection and maybe logs it.
func (s *HEPSource) refuse(r hepRefusal, from netip.Addr) {
	s.refused[r].Add(1)
	s.warn.note(r, from)
}

// addConn registers a new connection unless the source is shutting down
// (reason -1, not counted), outside Allow, or at one of the connection
// limits.
func (s *HEPSource) addConn(c *net.TCPConn, from netip.Addr) (hepRefusal, bool) {
	if !s.allow.allows(from) {
		return refusedNotAllowed, false
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case s.closing:
		return -1, false
	case len(s.conns) >= s.cfg.MaxTCPConns:
		return refusedMaxConns, false
	case s.bySource[sourceKey(from)] >= s.cfg.MaxTCPConnsPerSource:
		return refusedPerSource, false
	}
	s.conns[c] = from
	s.bySource[sourceKey(from)]++
	s.tcpConns.Add(1)
	return 0, true
}

func (s *HEPSource) removeConn(c *net.TCPConn) {
	s.mu.Lock()
	if from, ok := s.conns[c]; ok {
		delete(s.conns, c)
		k := sourceKey(from)
		if n := s.bySource[k] - 1; n > 0 {
			s.bySource[k] = n
		} else {
			delete(s.bySource, k)
		}
	}
	s.mu.Unlock()
	s.tcpConns.Add(-1)
	c.Close()
}

// readTCP splits one connection's byte stream into HEPv3 packets with
// hep.FrameLength. Its buffer holds the largest possible packet, so it is
// bounded and never grows. A stream that loses its framing cannot be
// resynchronised and is dropped.
//
// Every read has a deadline: IdleTimeout while no packet is under way,
// else ReadTimeout from the moment the current packet's first bytes
// arrived, so neither an idle connection nor one dripping a byte at a time
// holds its place for long.
func (s *HEPSource) readTCP(c *net.TCPConn, from netip.Addr) {
	defer s.wg.Done()
	defer s.removeConn(c)
	buf := make([]byte, hepMaxPacket+1)
	var (
		names      hepNodeNames
		start, end int
		readErr    error
		pktStart   time.Time // when the bytes of the incomplete packet at buf[start:end] began
	)
	for {
		delivered := false
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
			if !s.deliver(buf[start:start+n], from, &names) {
				s.refuse(closedAuth, from)
				return
			}
			delivered = true
			start += n
		}
		if readErr != nil {
			switch {
			case errors.Is(readErr, os.ErrDeadlineExceeded):
				if end > start {
					s.bad.Add(1) // abandoned in the middle of a packet
					s.refuse(closedReadTimeout, from)
				} else {
					s.refuse(closedIdle, from)
				}
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
		now := time.Now()
		switch {
		case end == 0:
			pktStart = time.Time{}
			c.SetReadDeadline(now.Add(s.cfg.IdleTimeout))
		default:
			if delivered || pktStart.IsZero() {
				pktStart = now // the leftover came with the latest read
			}
			c.SetReadDeadline(pktStart.Add(s.cfg.ReadTimeout))
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
	conns, refused, closed     *prometheus.Desc
	readBuffer                 *prometheus.Desc
}

func newHEPCollector(s *HEPSource) *hepCollector {
	return &hepCollector{
		s: s,
		packets: prometheus.NewDesc("sipscope_capture_hep_packets_total",
			"HEP packets read from the listener's sockets, by what became of them.", []string{"result"}, nil),
		rejected: prometheus.NewDesc("sipscope_capture_hep_tcp_conns_rejected_total",
			"HEP TCP connections refused, all reasons (see sipscope_capture_hep_connections_rejected_total).", nil, nil),
		readErr: prometheus.NewDesc("sipscope_capture_hep_read_errors_total",
			"Socket read or accept errors of the HEP listener, shutdown aside.", nil, nil),
		conns: prometheus.NewDesc("sipscope_capture_hep_tcp_conns",
			"HEP TCP connections open now.", nil, nil),
		refused: prometheus.NewDesc("sipscope_capture_hep_connections_rejected_total",
			"HEP TCP connections refused, by reason (max_conns, max_conns_per_source, not_allowed).", []string{"reason"}, nil),
		closed: prometheus.NewDesc("sipscope_capture_hep_connections_closed_total",
			"HEP TCP connections the listener closed, by reason (idle_timeout, read_timeout, auth_failed).", []string{"reason"}, nil),
		readBuffer: prometheus.NewDesc("sipscope_capture_hep_udp_read_buffer_bytes",
			"Receive buffer the kernel granted the HEP UDP sockets, as getsockopt(SO_RCVBUF) reports it.", nil, nil),
	}
}

func (c *hepCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.packets
	ch <- c.rejected
	ch <- c.readErr
	ch <- c.conns
	ch <- c.refused
	ch <- c.closed
	ch <- c.readBuffer
}

func (c *hepCollector) Collect(ch chan<- prometheus.Metric) {
	st := c.s.Stats()
	ch <- prometheus.MustNewConstMetric(c.packets, prometheus.CounterValue, float64(st.Received), "received")
	ch <- prometheus.MustNewConstMetric(c.packets, prometheus.CounterValue, float64(st.DroppedQueueFull), "dropped_queue_full")
	ch <- prometheus.MustNewConstMetric(c.packets, prometheus.CounterValue, float64(st.BadPackets), "bad_packet")
	ch <- prometheus.MustNewConstMetric(c.packets, prometheus.CounterValue, float64(st.AuthFailed), "auth_failed")
	ch <- prometheus.MustNewConstMetric(c.packets, prometheus.CounterValue, float64(st.NotAllowed), "not_allowed")
	ch <- prometheus.MustNewConstMetric(c.packets, prometheus.CounterValue, float64(st.KernelDrops), "kernel_drop")
	ch <- prometheus.MustNewConstMetric(c.rejected, prometheus.CounterValue, float64(st.TCPConnsRejected))
	for _, r := range []struct {
		n      uint64
		reason hepRefusal
	}{{st.RejectedMaxConns, refusedMaxConns}, {st.RejectedPerSource, refusedPerSource}, {st.RejectedNotAllowed, refusedNotAllowed}} {
		ch <- prometheus.MustNewConstMetric(c.refused, prometheus.CounterValue, float64(r.n), hepRefusalNames[r.reason])
	}
	for _, r := range []struct {
		n      uint64
		reason hepRefusal
	}{{st.ClosedIdle, closedIdle}, {st.ClosedReadTimeout, closedReadTimeout}, {st.ClosedAuth, closedAuth}} {
		ch <- prometheus.MustNewConstMetric(c.closed, prometheus.CounterValue, float64(r.n), hepRefusalNames[r.reason])
	}
	ch <- prometheus.MustNewConstMetric(c.readBuffer, prometheus.GaugeValue, float64(st.ReadBuffer))
	ch <- prometheus.MustNewConstMetric(c.readErr, prometheus.CounterValue, float64(st.ReadErrors))
	ch <- prometheus.MustNewConstMetric(c.conns, prometheus.GaugeValue, float64(st.TCPConns))
}
