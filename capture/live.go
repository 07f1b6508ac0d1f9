package capture

import (
	"fmt"
	"os"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/sipscope/sipscope/bpf"
)

// Defaults applied to the zero values of LiveConfig.
const (
	DefaultSnapLen      = 65535
	DefaultBlockSize    = 4 << 20
	DefaultNumBlocks    = 16
	DefaultBlockTimeout = 50 * time.Millisecond
)

// Bounds checked by Validate.
const (
	maxSnapLen      = 262144 // what tcpdump allows
	minSnapLen      = 64     // shorter would cut off the SIP start line
	maxRingBytes    = 1 << 31
	maxBlockTimeout = time.Minute
	// blockOverhead is room in a block for its header and a packet's
	// tpacket3_hdr and alignment, so that a SnapLen packet fits whole.
	blockOverhead = 512
	ifNameMax     = 15 // IFNAMSIZ less the terminating NUL
)

// LiveConfig configures an AF_PACKET (TPACKET_V3) capture on one interface.
// Zero values of the numeric fields select the defaults.
type LiveConfig struct {
	Interface string // network interface name, like "eth0"

	// SnapLen is how many bytes of each packet are kept (default 65535).
	SnapLen int
	// BlockSize and NumBlocks shape the ring shared with the kernel
	// (defaults 4 MiB × 16). BlockSize must be a multiple of the page size.
	BlockSize int
	NumBlocks int
	// BlockTimeout is how long the kernel fills a block before handing it
	// over anyway: the longest a packet waits on a quiet link (default 50 ms).
	BlockTimeout time.Duration

	// Promiscuous also captures traffic not addressed to the interface
	// (a SPAN/mirror port needs it).
	Promiscuous bool
	// FanoutGroup, when not 0, joins a PACKET_FANOUT group: sockets of the
	// same group on one interface share its packets by flow hash, with IP
	// fragments reassembled first so a datagram's pieces stay together.
	FanoutGroup uint16

	// Filter is the eBPF socket filter to attach. When nil, the classic BPF
	// fallback (bpf.ClassicFilter) is attached instead. The source does not
	// own the Filter: the caller closes it (the socket keeps its own
	// reference to the program).
	Filter *bpf.Filter

	// Registerer receives the source's metrics, labelled with the interface;
	// nil registers nothing. Several sources on one interface (a fanout
	// group) need distinct registerers, e.g. prometheus.WrapRegistererWith.
	Registerer prometheus.Registerer

	// beforeFilter, when set (by this package's tests), runs once the ring
	// is live and before the filter is attached: the window in which
	// unfiltered frames can reach the ring.
	beforeFilter func()
}

// Validate checks every field and names the first bad one.
func (c LiveConfig) Validate() error {
	switch {
	case c.Interface == "":
		return fmt.Errorf("%w: Interface: empty (AF_PACKET on all interfaces mixes link types)", ErrLiveConfig)
	case len(c.Interface) > ifNameMax:
		return fmt.Errorf("%w: Interface %q: longer than %d bytes", ErrLiveConfig, c.Interface, ifNameMax)
	case c.SnapLen != 0 && (c.SnapLen < minSnapLen || c.SnapLen > maxSnapLen):
		return fmt.Errorf("%w: SnapLen %d: want 0 (default %d) or %d to %d", ErrLiveConfig, c.SnapLen, DefaultSnapLen, minSnapLen, maxSnapLen)
	case c.BlockSize < 0:
		return fmt.Errorf("%w: BlockSize %d: negative", ErrLiveConfig, c.BlockSize)
	case c.NumBlocks < 0:
		return fmt.Errorf("%w: NumBlocks %d: negative", ErrLiveConfig, c.NumBlocks)
	case c.BlockTimeout != 0 && (c.BlockTimeout < time.Millisecond || c.BlockTimeout > maxBlockTimeout):
		return fmt.Errorf("%w: BlockTimeout %v: want 0 (default %v) or 1ms to %v", ErrLiveConfig, c.BlockTimeout, DefaultBlockTimeout, maxBlockTimeout)
	}
	d := c.withDefaults()
	page := os.Getpagesize()
	switch {
	case d.BlockSize%page != 0:
		return fmt.Errorf("%w: BlockSize %d: not a multiple of the page size %d", ErrLiveConfig, d.BlockSize, page)
	case d.BlockSize < d.SnapLen+blockOverhead:
		return fmt.Errorf("%w: BlockSize %d: cannot hold a packet of SnapLen %d (need at least %d)", ErrLiveConfig, d.BlockSize, d.SnapLen, d.SnapLen+blockOverhead)
	case int64(d.BlockSize)*int64(d.NumBlocks) > maxRingBytes:
		return fmt.Errorf("%w: NumBlocks %d: a ring of %d × %d bytes exceeds %d", ErrLiveConfig, d.NumBlocks, d.NumBlocks, d.BlockSize, int64(maxRingBytes))
	}
	return nil
}

// withDefaults fills the zero fields.
func (c LiveConfig) withDefaults() LiveConfig {
	if c.SnapLen == 0 {
		c.SnapLen = DefaultSnapLen
	}
	if c.BlockSize == 0 {
		c.BlockSize = DefaultBlockSize
	}
	if c.NumBlocks == 0 {
		c.NumBlocks = DefaultNumBlocks
	}
	if c.BlockTimeout == 0 {
		c.BlockTimeout = DefaultBlockTimeout
	}
	return c
}

// LiveStats counts what a live source saw since it was opened.
type LiveStats struct {
	// Packets passed the socket filter (tp_packets, which includes drops).
	Packets uint64
	// KernelDrops found the ring full and were lost (tp_drops).
	KernelDrops uint64
	// FreezeQueue counts the times the ring filled and the kernel froze
	// it until user space caught up (tp_freeze_q_cnt).
	FreezeQueue uint64
	// Delivered frames were returned by Next.
	Delivered uint64
	// Unfiltered frames reached the ring before the filter was attached and
	// were discarded by Next.
	Unfiltered uint64
}
