package capture

import (
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gopacket/gopacket/afpacket"
	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/sys/unix"

	"github.com/sipscope/sipscope/bpf"
	"github.com/sipscope/sipscope/frame"
)

const (
	// pollInterval bounds how long a blocked Next takes to notice Close.
	pollInterval = 200 * time.Millisecond
	// statsEvery is how many delivered frames pass between two readings of
	// the socket counters from Next. afpacket sums them in uint32, so they
	// must be read before 2^32 packets pass; Stats and metric scrapes read
	// them too.
	statsEvery = 1 << 20
	// backlogWindow (plus the block timeout) bounds how long after opening
	// Next still looks for unfiltered frames from before the filter.
	backlogWindow = 2 * time.Second
)

// LiveSource reads frames from an AF_PACKET TPACKET_V3 ring on one
// interface. Next must not be called from several goroutines; Stats and
// Close may be called from any.
type LiveSource struct {
	tp      *afpacket.TPacket
	iface   string
	snapLen int
	// The ring is live a few milliseconds before the filter is attached
	// (mapping it takes that long), so it starts with a backlog of
	// unfiltered frames: those stamped before filteredSince (Unix ns).
	// Next discards them until the first later frame, and only until
	// backlogDeadline (monotonic), so that a realtime clock stepped back at
	// the wrong moment cannot eat frames for long.
	backlog         bool
	filteredSince   int64
	backlogDeadline time.Time

	closing atomic.Bool
	readMu  sync.Mutex // held by Next while it reads the ring; Close waits for it

	delivered  atomic.Uint64
	unfiltered atomic.Uint64

	statsMu sync.Mutex // guards the fields below and the socket counters
	closed  bool
	stats   LiveStats // kernel counters accumulated in 64 bits
	last    afpacket.SocketStatsV3

	reg  prometheus.Registerer
	coll prometheus.Collector
}

// OpenLive opens a TPACKET_V3 ring on cfg.Interface and attaches the eBPF
// filter of cfg.Filter, or the classic BPF fallback when it is nil.
func OpenLive(cfg LiveConfig) (*LiveSource, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()

	ifi, err := net.InterfaceByName(cfg.Interface)
	if err != nil {
		return nil, fmt.Errorf("capture: interface %q: %w", cfg.Interface, err)
	}
	// Loopback frames carry an Ethernet header with zero addresses (which
	// Go does not report); anything else must have a 6-byte MAC address.
	if ifi.Flags&net.FlagLoopback == 0 && len(ifi.HardwareAddr) != 6 {
		return nil, fmt.Errorf("%w: %q has a %d-byte link address", ErrNotEthernet, cfg.Interface, len(ifi.HardwareAddr))
	}

	tp, err := afpacket.NewTPacket(
		afpacket.OptInterface(cfg.Interface),
		afpacket.OptTPacketVersion(afpacket.TPacketVersion3),
		afpacket.OptBlockSize(cfg.BlockSize),
		afpacket.OptNumBlocks(cfg.NumBlocks),
		afpacket.OptBlockTimeout(cfg.BlockTimeout),
		afpacket.OptPollTimeout(pollInterval),
	)
	if err != nil {
		if errors.Is(err, unix.EPERM) || errors.Is(err, unix.EACCES) {
			return nil, fmt.Errorf("capture: %s: open AF_PACKET socket: missing capability CAP_NET_RAW: %w", cfg.Interface, err)
		}
		return nil, fmt.Errorf("capture: %s: open AF_PACKET ring: %w", cfg.Interface, err)
	}
	s := &LiveSource{tp: tp, iface: cfg.Interface, snapLen: cfg.SnapLen}
	if err := s.setup(cfg); err != nil {
		tp.Close()
		return nil, err
	}
	return s, nil
}

func (s *LiveSource) setup(cfg LiveConfig) error {
	if cfg.beforeFilter != nil {
		cfg.beforeFilter()
	}
	if cfg.Filter != nil {
		fd := cfg.Filter.FD()
		if fd < 0 {
			return fmt.Errorf("capture: %s: attach eBPF filter: %w", s.iface, bpf.ErrClosed)
		}
		if err := s.tp.SetEBPF(int32(fd)); err != nil {
			return fmt.Errorf("capture: %s: attach eBPF filter: %w", s.iface, err)
		}
	} else {
		prog, err := bpf.ClassicFilter()
		if err != nil {
			return fmt.Errorf("capture: %s: %w", s.iface, err)
		}
		if err := s.tp.SetBPF(prog); err != nil {
			return fmt.Errorf("capture: %s: attach classic BPF filter: %w", s.iface, err)
		}
	}
	now := time.Now()
	s.backlog = true
	s.filteredSince = now.UnixNano()
	s.backlogDeadline = now.Add(backlogWindow + cfg.BlockTimeout)

	if cfg.Promiscuous {
		if err := s.tp.SetPromiscuous(true); err != nil {
			return fmt.Errorf("capture: %s: promiscuous mode: %w", s.iface, err)
		}
	}
	if cfg.FanoutGroup != 0 {
		// Defragmenting before hashing keeps a fragmented SIP datagram on
		// one socket, where decode can reassemble it.
		if err := s.tp.SetFanout(afpacket.FanoutHash|afpacket.FanoutHashWithDefrag, cfg.FanoutGroup); err != nil {
			return fmt.Errorf("capture: %s: join fanout group %d: %w", s.iface, cfg.FanoutGroup, err)
		}
	}
	if cfg.Registerer != nil {
		coll := newLiveCollector(s, s.iface)
		if err := cfg.Registerer.Register(coll); err != nil {
			return fmt.Errorf("capture: %s: live capture metrics: %w", s.iface, err)
		}
		s.reg, s.coll = cfg.Registerer, coll
	}
	return nil
}

// Next fills f with the next frame, waiting for one. f.Data points into the
// ring and is valid only until the next call; f.LinkType is Ethernet, f.TS
// the kernel's receive time and f.Node the interface name. A VLAN tag the
// NIC or the kernel stripped is not put back into f.Data. After Close, Next
// returns io.EOF, as the other sources do at their end.
func (s *LiveSource) Next(f *frame.Frame) error {
	s.readMu.Lock()
	defer s.readMu.Unlock()
	for {
		if s.closing.Load() {
			return io.EOF
		}
		data, ci, err := s.tp.ZeroCopyReadPacketData()
		if err != nil {
			if errors.Is(err, afpacket.ErrTimeout) {
				continue
			}
			if s.closing.Load() {
				return io.EOF
			}
			return fmt.Errorf("capture: %s: read ring: %w", s.iface, err)
		}
		ts := ci.Timestamp.UnixNano()
		if s.backlog {
			if ts < s.filteredSince && time.Now().Before(s.backlogDeadline) {
				s.unfiltered.Add(1)
				continue
			}
			s.backlog = false // frames come in ring order: the backlog is over
		}
		if len(data) > s.snapLen {
			data = data[:s.snapLen]
		}
		f.TS = ts
		f.LinkType = frame.LinkEthernet
		f.Data = data
		f.OrigLen = ci.Length
		f.Node = s.iface
		if s.delivered.Add(1)%statsEvery == 0 {
			// An error here resurfaces from Stats; Next keeps reading.
			_, _ = s.Stats()
		}
		return nil
	}
}

// Stats returns the source's counters. The kernel part comes from the
// socket (PACKET_STATISTICS); after Close it is the last reading.
func (s *LiveSource) Stats() (LiveStats, error) {
	s.statsMu.Lock()
	defer s.statsMu.Unlock()
	if !s.closed {
		if err := s.readSocketStats(); err != nil {
			return LiveStats{}, fmt.Errorf("capture: %s: socket statistics: %w", s.iface, err)
		}
	}
	st := s.stats
	st.Delivered = s.delivered.Load()
	st.Unfiltered = s.unfiltered.Load()
	return st, nil
}

// readSocketStats folds the kernel counters into 64-bit totals. afpacket
// keeps running uint32 sums; their differences stay right across a wrap.
func (s *LiveSource) readSocketStats() error {
	_, v3, err := s.tp.SocketStats()
	if err != nil {
		return err
	}
	s.stats.Packets += uint64(uint32(v3.Packets()) - uint32(s.last.Packets()))
	s.stats.KernelDrops += uint64(uint32(v3.Drops()) - uint32(s.last.Drops()))
	s.stats.FreezeQueue += uint64(uint32(v3.QueueFreezes()) - uint32(s.last.QueueFreezes()))
	s.last = v3
	return nil
}

// Close stops a blocked Next (within pollInterval), takes a last reading of
// the socket counters, releases the ring and unregisters the metrics. It is
// safe to call more than once.
func (s *LiveSource) Close() error {
	s.closing.Store(true)
	s.readMu.Lock()
	defer s.readMu.Unlock()
	s.statsMu.Lock()
	if s.closed {
		s.statsMu.Unlock()
		return nil
	}
	err := s.readSocketStats()
	s.closed = true
	s.tp.Close()
	s.statsMu.Unlock()
	if s.reg != nil {
		s.reg.Unregister(s.coll)
	}
	if err != nil {
		return fmt.Errorf("capture: %s: final socket statistics: %w", s.iface, err)
	}
	return nil
}
