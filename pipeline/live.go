package pipeline

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/netip"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/sync/errgroup"

	"github.com/sipscope/sipscope/bpf"
	"github.com/sipscope/sipscope/capture"
	"github.com/sipscope/sipscope/correlate"
	"github.com/sipscope/sipscope/diagnose"
	"github.com/sipscope/sipscope/frame"
	"github.com/sipscope/sipscope/internal/bytering"
	"github.com/sipscope/sipscope/quality"
	"github.com/sipscope/sipscope/storage"
	"github.com/sipscope/sipscope/storage/spool"
)

// LiveOptions says where live traffic comes from.
type LiveOptions struct {
	Ifaces []string // AF_PACKET interfaces
	HEPUDP []string // HEP listen addresses (UDP)
	HEPTCP []string // HEP listen addresses (TCP)
	// HEP is the listener's limits and access control (its UDP, TCP,
	// Registerer and Logger are filled in from the fields above).
	HEP        capture.HEPConfig
	FlushEvery time.Duration // how often news reaches the store
	// QueueBytes and QueueFrames bound the queue between the sources and
	// the pipeline (defaultQueueBytes, defaultQueueFrames).
	QueueBytes, QueueFrames int
	NoEBPF                  bool // use the classic BPF filter even where eBPF loads
	// The AF_PACKET ring per socket: snap length, block size and count,
	// promiscuous mode. Fanout > 1 opens that many sockets per interface in
	// one PACKET_FANOUT group, each read by its own goroutine.
	SnapLen, BlockSize, NumBlocks int
	Promisc                       bool
	Fanout                        int
	Spool                         *capture.SpoolConfig // --spool-dir: frames also go to rotating pcap files
	// Observer, when set, sees the correlated stream: every SIP message,
	// and each flush's call (diagnosed) and registration records.
	Observer Observer
	// NoResume starts with an empty correlator instead of continuing the
	// calls the store holds as open (Pipeline.Resume).
	NoResume bool
	// MaxStreams bounds the RTP streams held (0: DefaultLiveMaxStreams).
	MaxStreams int
	// Correlate is the correlator's configuration (correlate.DefaultConfig
	// when zero); live mode always keeps messages and retains nothing.
	Correlate correlate.Config
	// StoreSpool, when set, keeps the batches the store did not take on
	// disk and replays them, in order and before anything newer, once it
	// takes them again. Without it a failed write is lost (counted).
	StoreSpool StoreSpool
	// StoreRetry is how often a spool with batches waiting is replayed
	// while no new batch comes (default 1 s).
	StoreRetry time.Duration
	// StoreRTP is how much media of calls is stored as captured frames
	// (config store_rtp; the zero value is full); NoFrames stores no
	// frames at all, not even SIP. FrameArenaBytes bounds the frame bytes
	// of one flush (DefaultFrameArenaBytes); beyond it frames are dropped
	// and counted (status frames_dropped).
	StoreRTP        StoreRTP
	NoFrames        bool
	FrameArenaBytes int
	// OnStored, when set, is called with each batch the store took (a
	// fresh one or one replayed from the spool), on the store writer's
	// goroutine right after the write: it must not block, and must copy
	// what it keeps, because the batch's memory is reused afterwards. The
	// API's live event hub (api.Events.Publish) is its user.
	OnStored func(storage.Batch)
}

// StoreSpool is the disk spool of batches the store did not acknowledge
// (storage/spool.Spool).
type StoreSpool interface {
	AppendBatch(b storage.Batch) error
	// PeekBatch returns the oldest waiting batch; an error that is not
	// ErrClosed means it cannot be read, and Skip drops it.
	PeekBatch() (b storage.Batch, appended time.Time, ok bool, err error)
	Ack() error  // the oldest batch is stored
	Skip() error // the oldest batch is unreadable: drop it (counted)
	Len() int
	Stats() spool.Stats
}

// Enabled tells whether any live source is configured.
func (o LiveOptions) Enabled() bool { return len(o.Ifaces)+len(o.HEPUDP)+len(o.HEPTCP) > 0 }

// parseHEPListen splits "udp://127.0.0.1:9060,tcp://0.0.0.0:9061".
func ParseHEPListen(spec string) (udp, tcp []string, err error) {
	for _, part := range strings.Split(spec, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		scheme, addr, ok := strings.Cut(part, "://")
		if !ok {
			scheme, addr = "udp", part
		}
		switch scheme {
		case "udp":
			udp = append(udp, addr)
		case "tcp":
			tcp = append(tcp, addr)
		default:
			return nil, nil, fmt.Errorf("--hep-listen %q: scheme must be udp:// or tcp://", part)
		}
	}
	return udp, tcp, nil
}

// frameQueue hands frames from any number of source goroutines to the one
// pipeline goroutine: their bytes are copied back to back into one ring, so
// memory is bounded in bytes (a jumbo or GRO-merged frame costs what it
// weighs, a small RTP packet no more), a full queue drops and counts instead
// of blocking a capture loop, and the steady state allocates nothing. The
// pumps take turns as the ring's producer.
type frameQueue struct {
	mu      sync.Mutex
	ring    *bytering.Ring[frame.Frame] // a span's meta is the frame without Data
	dropped atomic.Uint64
}

// Default size of the frame queue: at 200 k frames/s of mixed SIP and RTP
// it rides out a pipeline stall of more than half a second.
const (
	defaultQueueBytes  = 64 << 20
	defaultQueueFrames = 1 << 17
)

func newFrameQueue(bytes, frames int) *frameQueue {
	return &frameQueue{ring: bytering.New[frame.Frame](bytes, frames)}
}

// push copies f into the ring, or counts a drop when it is full; it
// reports which.
func (q *frameQueue) push(f *frame.Frame) bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	b := q.ring.Reserve(len(f.Data))
	if b == nil {
		q.dropped.Add(1)
		return false
	}
	copy(b, f.Data)
	meta := *f
	meta.Data = nil
	q.ring.Commit(len(b), meta)
	return true
}

// LiveRunner runs the pipeline over live sources and writes what it learns
// to the store every flushEvery, and once more, after draining, at shutdown.
type LiveRunner struct {
	opts  LiveOptions
	store StoreWriter
	// corrCfg is the correlator's configuration (its bounds and timers
	// also bound what a restart resumes).
	corrCfg correlate.Config
	logger  *slog.Logger
	reg     prometheus.Registerer
	q       *frameQueue
	p       *Pipeline

	filter     *bpf.Filter
	portUsers  map[uint16]int // calls expecting media on each learned port
	portErrors int            // learned-port map updates the kernel refused
	sources    []Source
	closers    []io.Closer
	hep        *capture.HEPSource
	spool      *capture.Spool

	// seenTS is the packet time of the latest frame and seenAt when it was
	// processed: timeouts run on packet time advanced by the wall clock, so
	// a replayed or HEP-delayed feed ages like the network it came from.
	seenTS int64
	seenAt time.Time

	lostSeen     uint64    // drops already warned about
	lastDropWarn time.Time // rate limit of the drop warning

	// pending holds batches the store writer has not taken yet, merged;
	// writes carries them to the writer goroutine (storeLoop).
	pending storage.Batch
	writes  chan storage.Batch
	spent   chan storage.Batch // written batches, emptied, for flush to refill

	mu          sync.Mutex // guards what follows, for readers outside the pipeline goroutine
	stats       Stats      // the stages' counters, published at each flush
	lastFlush   time.Time
	written     int
	writeErrors int
	storeLost   int
}

func NewLiveRunner(opts LiveOptions, store StoreWriter, logger *slog.Logger, reg prometheus.Registerer) *LiveRunner {
	if opts.FlushEvery <= 0 {
		opts.FlushEvery = time.Second
	}
	if opts.QueueBytes <= 0 {
		opts.QueueBytes = defaultQueueBytes
	}
	if opts.QueueFrames <= 0 {
		opts.QueueFrames = defaultQueueFrames
	}
	r := &LiveRunner{
		opts: opts, store: store, logger: logger, reg: reg,
		q:         newFrameQueue(max(opts.QueueBytes, capture.DefaultSnapLen), opts.QueueFrames),
		portUsers: map[uint16]int{},
	}
	if reg != nil {
		reg.MustRegister(prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "sipscope_live_queue_drops_total",
			Help: "Frames dropped because the queue to the pipeline was full.",
		}, func() float64 { return float64(r.q.dropped.Load()) }))
		reg.MustRegister(statsCollector{load: r.stageStats})
	}
	cfg := opts.Correlate
	if cfg.MaxDialogs == 0 {
		cfg = correlate.DefaultConfig()
	}
	cfg.KeepMessages = true
	cfg.Retain = false
	cfg.OnMedia = r.mediaPort
	r.corrCfg = cfg
	r.p = New(cfg)
	if opts.MaxStreams <= 0 {
		opts.MaxStreams = DefaultLiveMaxStreams
	}
	r.p.SetMaxStreams(opts.MaxStreams)
	if reg != nil {
		r.p.kpis = newCallMetrics(reg)
	}
	if store != nil && !opts.NoFrames {
		r.p.SetStoreFrames(opts.StoreRTP, opts.FrameArenaBytes)
	}
	if opts.Observer != nil {
		r.p.SetObserver(opts.Observer)
	}
	return r
}

// Pipeline is the runner's pipeline, for hooks (the HEP sender) to attach
// to before Run.
func (r *LiveRunner) Pipeline() *Pipeline { return r.p }

// mediaPort keeps the kernel filter's learned-port map in step with the
// media endpoints SDP announced, so RTP that the header heuristic would miss
// (odd ports, encrypted payloads) still reaches user space. The map is keyed
// by port alone, so ports are reference-counted across calls.
func (r *LiveRunner) mediaPort(ap netip.AddrPort, bound bool) {
	if r.filter == nil {
		return
	}
	port := ap.Port()
	if bound {
		if r.portUsers[port]++; r.portUsers[port] == 1 {
			if err := r.filter.AllowPort(port); err != nil {
				r.portErrors++
			}
		}
		return
	}
	if r.portUsers[port] == 0 {
		return
	}
	if r.portUsers[port]--; r.portUsers[port] == 0 {
		delete(r.portUsers, port)
		if err := r.filter.ForgetPort(port); err != nil {
			r.portErrors++
		}
	}
}

// open starts every source; on error, what was opened is closed again.
func (r *LiveRunner) Open(ctx context.Context) error {
	if r.opts.Spool != nil {
		cfg := *r.opts.Spool
		cfg.Registerer, cfg.Logger = r.reg, r.logger
		sp, err := capture.OpenSpool(cfg)
		if err != nil {
			return fmt.Errorf("spool: %w", err)
		}
		r.spool = sp
	}
	if len(r.opts.Ifaces) > 0 && !r.opts.NoEBPF {
		f, err := bpf.Load()
		if err != nil {
			r.logger.Warn("eBPF filter unavailable, using the classic BPF filter", "err", err)
		} else {
			r.filter = f
			r.closers = append(r.closers, f)
			if r.reg != nil {
				if err := bpf.RegisterMetrics(r.reg, f); err != nil {
					r.closeAll()
					return err
				}
			}
		}
	}
	readers := max(r.opts.Fanout, 1)
	for i, iface := range r.opts.Ifaces {
		for n := range readers {
			cfg := capture.LiveConfig{
				Interface: iface, Filter: r.filter, SnapLen: r.opts.SnapLen,
				BlockSize: r.opts.BlockSize, NumBlocks: r.opts.NumBlocks, Promiscuous: r.opts.Promisc,
			}
			if readers > 1 {
				// One group per interface; the id only has to be unique on the host.
				cfg.FanoutGroup = uint16(os.Getpid()+i) | 1
			}
			if r.reg != nil {
				cfg.Registerer = prometheus.WrapRegistererWith(prometheus.Labels{"source": fmt.Sprintf("%s#%d", iface, n)}, r.reg)
			}
			src, err := capture.OpenLive(cfg)
			if err != nil {
				r.closeAll()
				return fmt.Errorf("capture on %s: %w", iface, err)
			}
			r.sources = append(r.sources, src)
			r.closers = append(r.closers, src)
		}
	}
	if len(r.opts.HEPUDP)+len(r.opts.HEPTCP) > 0 {
		hc := r.opts.HEP
		hc.UDP, hc.TCP, hc.Registerer, hc.Logger = r.opts.HEPUDP, r.opts.HEPTCP, r.reg, r.logger
		h, err := capture.ListenHEP(ctx, hc)
		if err != nil {
			r.closeAll()
			return fmt.Errorf("HEP listener: %w", err)
		}
		r.hep = h
		r.sources = append(r.sources, h)
	}
	if err := r.resume(ctx); err != nil {
		r.closeAll()
		return err
	}
	return nil
}

// resume continues the calls the store says were open when the last run
// stopped, before any new frame is read (see Pipeline.Resume): those whose
// latest message is younger than the longest a call may last.
func (r *LiveRunner) resume(ctx context.Context) error {
	rs, ok := r.store.(CallResumer)
	if !ok || r.opts.NoResume {
		return nil
	}
	since := time.Now().Add(-r.corrCfg.MaxCallAge)
	n, bad, err := r.p.Resume(ctx, rs, since, max(r.corrCfg.MaxDialogs/2, 1))
	if err != nil {
		return fmt.Errorf("resume open calls: %w", err)
	}
	if n > 0 {
		r.logger.Info("continued the calls open at the last stop", "messages", n, "unreadable", bad,
			"dialogs", r.p.corr.Stats().Held)
	}
	return nil
}

func (r *LiveRunner) closeAll() {
	for _, c := range r.closers {
		c.Close()
	}
}

// Run captures until ctx ends, then stops the sources, processes every frame
// already read, and flushes everything to the store before returning.
func (r *LiveRunner) Run(ctx context.Context) error {
	if r.spool != nil {
		// The spool's disk writer outlives ctx until the pipeline has handed
		// it the last frame and this function returns.
		sctx, stop := context.WithCancel(context.WithoutCancel(ctx))
		done := make(chan error, 1)
		go func() { done <- r.spool.Run(sctx) }()
		defer func() { stop(); <-done }()
	}
	var pumps errgroup.Group
	if r.hep != nil {
		pumps.Go(func() error { return r.hep.Run(ctx) })
	}
	for _, src := range r.sources {
		pumps.Go(func() error { return r.pump(src) })
	}
	// Live sources block in Next: closing them on shutdown ends their pumps
	// (the HEP listener stops on ctx by itself and drains its queue).
	stopSources := context.AfterFunc(ctx, r.closeAll)
	defer stopSources()
	pumpErr := make(chan error, 1)
	go func() {
		pumpErr <- pumps.Wait()
		r.q.ring.Close()
	}()
	// The store writer outlives ctx: after the sources stop, the last
	// batches still have to be written (storeWriteTimeout bounds each).
	r.writes = make(chan storage.Batch)
	r.spent = make(chan storage.Batch, 1)
	wctx, stopWrites := context.WithCancel(context.WithoutCancel(ctx))
	defer stopWrites()
	written := make(chan error, 1)
	go func() { written <- r.storeLoop(wctx) }()
	runErr := r.process(ctx)
	close(r.writes)
	writeErr := <-written
	if err := <-pumpErr; err != nil && runErr == nil {
		runErr = err
	}
	if runErr == nil && writeErr != nil {
		runErr = fmt.Errorf("store write: %w", writeErr)
	}
	if r.hep != nil {
		r.hep.Close()
	}
	return runErr
}

func (r *LiveRunner) pump(src Source) error {
	var f frame.Frame
	for {
		err := src.Next(&f)
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		r.q.push(&f)
	}
}

// process is the pipeline goroutine: frames in, flushes on a timer, and a
// last flush once the sources have closed the queue.
func (r *LiveRunner) process(ctx context.Context) error {
	tick := time.NewTicker(r.opts.FlushEvery)
	defer tick.Stop()
	for {
		select {
		case sp, ok := <-r.q.ring.Spans():
			if !ok {
				r.flush(true)
				return nil
			}
			f := sp.Meta
			f.Data = r.q.ring.Bytes(sp)
			if r.spool != nil {
				// Here, behind the bounded queue, the ring readers never wait; and
				// Write never blocks (a slow disk drops from the spool, counted).
				r.spool.Write(&f)
			}
			at := time.Now()
			r.p.SetArrival(at.UnixNano())
			r.p.HandleFrame(&f)
			r.seenTS, r.seenAt = r.p.lastPktTS, at
			r.q.ring.Release(sp)
		case <-tick.C:
			r.checkDrops()
			r.flush(false)
		}
	}
}

// LiveStatus is what GET /api/v1/status reports about live capture.
type LiveStatus struct {
	Interfaces  []string `json:"interfaces"`
	HEPListen   []string `json:"hep_listen"`
	Packets     uint64   `json:"packets"`
	KernelDrops uint64   `json:"kernel_drops"`
	FreezeQueue uint64   `json:"freeze_queue"`
	QueueDrops  uint64   `json:"queue_drops"`
	HEPReceived uint64   `json:"hep_received"`
	HEPDropped  uint64   `json:"hep_dropped"`
	// HEP is the listener's own counters: kernel drops of its UDP sockets,
	// refused connections and packets by reason, the buffer it got.
	HEP         *capture.HEPStats `json:"hep,omitempty"`
	LastFlush   string            `json:"last_flush"`
	WriteErrors int               `json:"store_write_errors"`
	// StoreLost counts batches that failed to be written and could not be
	// spooled either (no spool, or the spool refused them).
	StoreLost int `json:"store_lost_batches"`
	// StoreSpool is the store spool's depth, age and counters.
	StoreSpool *spool.Stats `json:"store_spool,omitempty"`

	Spool *capture.SpoolStats `json:"spool,omitempty"`
	// Stages has every stage's counters as of the last flush, the figures
	// /metrics serves: stage → name → value (errors and ignored by reason).
	Stages map[string]map[string]any `json:"stages"`
}

// status reads the sources' counters; safe from any goroutine.
func (r *LiveRunner) Status() LiveStatus {
	st := LiveStatus{Interfaces: r.opts.Ifaces, HEPListen: append(append([]string{}, r.opts.HEPUDP...), r.opts.HEPTCP...)}
	for _, src := range r.sources {
		if ls, ok := src.(*capture.LiveSource); ok {
			if s, err := ls.Stats(); err == nil {
				st.Packets += s.Packets
				st.KernelDrops += s.KernelDrops
				st.FreezeQueue += s.FreezeQueue
			}
		}
	}
	if r.hep != nil {
		h := r.hep.Stats()
		st.HEPReceived, st.HEPDropped = h.Received, h.DroppedQueueFull+h.KernelDrops
		st.HEP = &h
	}
	st.QueueDrops = r.q.dropped.Load()
	if r.spool != nil {
		sp := r.spool.Stats()
		st.Spool = &sp
	}
	stages := r.stageStats()
	st.Stages = stages.statusDocument()
	if r.opts.StoreSpool != nil {
		sp := r.opts.StoreSpool.Stats()
		st.StoreSpool = &sp
	}
	r.mu.Lock()
	st.WriteErrors = r.writeErrors
	st.StoreLost = r.storeLost
	if !r.lastFlush.IsZero() {
		st.LastFlush = r.lastFlush.UTC().Format(time.RFC3339)
	}
	r.mu.Unlock()
	return st
}

// stageStats is the last published snapshot of the stages' counters.
func (r *LiveRunner) stageStats() Stats {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.stats
}

// checkDrops logs a warning at most once a minute while packets are being
// lost in the kernel ring, the frame queue or the HEP queue.
func (r *LiveRunner) checkDrops() {
	st := r.Status()
	lost := st.KernelDrops + st.QueueDrops + st.HEPDropped
	if lost > r.lostSeen && time.Since(r.lastDropWarn) >= time.Minute {
		hepKernel := uint64(0)
		if st.HEP != nil {
			hepKernel = st.HEP.KernelDrops
		}
		r.logger.Warn("packets are being dropped", "kernel_drops", st.KernelDrops, "queue_drops", st.QueueDrops,
			"hep_dropped", st.HEPDropped, "hep_kernel_drops", hepKernel, "new", lost-r.lostSeen)
		r.lastDropWarn = time.Now()
		r.lostSeen = lost
	}
}

// now is the pipeline's idea of the current packet time.
func (r *LiveRunner) now() int64 {
	if r.seenAt.IsZero() {
		return time.Now().UnixNano()
	}
	return r.seenTS + int64(time.Since(r.seenAt))
}

// maxPendingMessages bounds the SIP messages the pipeline keeps for a store
// writer that has fallen behind; beyond it the pipeline waits for the
// writer, and the frame queue absorbs (or drops and counts) meanwhile.
const maxPendingMessages = 1 << 18

// maxPendingFrames bounds likewise the captured frames waiting for the
// writer (each flush's frames are bounded by the arena's bytes too).
const maxPendingFrames = 1 << 19

// storeWriteTimeout bounds one batch's write, so that a hung store cannot
// hold up shutdown for ever.
const storeWriteTimeout = 30 * time.Second

// flush hands the news since the last flush (changed calls and
// registrations, new SIP messages, streams that saw packets) to the store
// writer. The write itself happens on storeLoop's goroutine, so a slow
// insert does not hold up the pipeline: while one batch is being written,
// the next ones accumulate here, merged, and go as one.
func (r *LiveRunner) flush(final bool) {
	p := &r.pending
	if batchLen(p) == 0 {
		// Start from the memory of a batch the writer is done with, so a
		// steady live run allocates no new record slices.
		select {
		case *p = <-r.spent:
		default:
		}
	}
	// The records are snapshots; the writer goroutine owns the batch once
	// it is handed over.
	r.p.AppendLiveBatchAt(p, r.now(), time.Now().UnixNano(), final)
	st := r.p.Stats()
	r.mu.Lock()
	r.stats = st
	r.mu.Unlock()
	if batchLen(p) == 0 {
		return
	}
	if final || len(p.Messages) >= maxPendingMessages || len(p.Packets) >= maxPendingFrames {
		r.writes <- *p
		*p = storage.Batch{}
		return
	}
	select {
	case r.writes <- *p:
		*p = storage.Batch{}
	default: // the writer is busy: this batch goes with the next
	}
}

// batchLen is how many records b holds.
func batchLen(b *storage.Batch) int {
	return len(b.Calls) + len(b.Registrations) + len(b.Messages) + len(b.Streams) + len(b.Packets)
}

// emptied returns b's memory with no records, and none referenced.
func emptied(b storage.Batch) storage.Batch {
	clear(b.Calls)
	clear(b.Registrations)
	clear(b.Messages)
	clear(b.Streams)
	clear(b.Packets)
	return storage.Batch{Calls: b.Calls[:0], Registrations: b.Registrations[:0], Messages: b.Messages[:0], Streams: b.Streams[:0], Packets: b.Packets[:0]}
}

// storeLoop writes the batches flush hands over until writes is closed.
// Later batches carry newer versions of the same records, so they are
// written in the order they came. A failed write is logged and counted
// (status store_write_errors) and, with a store spool, spooled: while the
// spool holds batches, new ones go behind them, and the spool is replayed
// oldest first on every new batch and every StoreRetry, so the store sees
// every batch once and in order. Without a spool a failed batch is lost
// (store_lost_batches); a call's record is written again by its next
// change, its messages are not.
func (r *LiveRunner) storeLoop(ctx context.Context) error {
	var last error
	var retry <-chan time.Time
	if r.opts.StoreSpool != nil {
		every := r.opts.StoreRetry
		if every <= 0 {
			every = time.Second
		}
		t := time.NewTicker(every)
		defer t.Stop()
		retry = t.C
	}
	for {
		select {
		case b, ok := <-r.writes:
			if !ok {
				// Shutdown: one more go at the spool; what stays is replayed
				// by the next run.
				r.replay(ctx)
				return last // whether the last batch, the one written at shutdown, is stored or spooled
			}
			last = r.storeBatch(ctx, b)
			select {
			case r.spent <- emptied(b):
			default:
			}
		case <-retry:
			r.replay(ctx)
		}
	}
}

// storeBatch writes b, or spools it behind older batches still waiting
// or when the write fails. It returns an error only when b is lost.
func (r *LiveRunner) storeBatch(ctx context.Context, b storage.Batch) error {
	sp := r.opts.StoreSpool
	if sp != nil && sp.Len() > 0 && !r.replay(ctx) {
		return r.spoolBatch(b, nil)
	}
	err := r.writeBatch(ctx, b)
	if err == nil {
		return nil
	}
	if sp == nil {
		r.mu.Lock()
		r.storeLost++
		r.mu.Unlock()
		return err
	}
	return r.spoolBatch(b, err)
}

// writeBatch is one write to the store, counted.
func (r *LiveRunner) writeBatch(ctx context.Context, b storage.Batch) error {
	wctx, cancel := context.WithTimeout(ctx, storeWriteTimeout)
	err := r.store.Write(wctx, b)
	cancel()
	r.mu.Lock()
	if err != nil {
		r.writeErrors++
	} else {
		r.lastFlush = time.Now()
		r.written += len(b.Messages)
	}
	r.mu.Unlock()
	if err != nil {
		r.logger.Error("store write failed", "err", err, "messages", len(b.Messages), "calls", len(b.Calls))
		return err
	}
	if r.opts.OnStored != nil {
		r.opts.OnStored(b)
	}
	return nil
}

// spoolBatch appends b to the store spool; writeErr is why (nil: older
// batches are waiting in front of it).
func (r *LiveRunner) spoolBatch(b storage.Batch, writeErr error) error {
	if err := r.opts.StoreSpool.AppendBatch(b); err != nil {
		r.mu.Lock()
		r.storeLost++
		r.mu.Unlock()
		r.logger.Error("store spool append failed: batch lost", "err", err, "messages", len(b.Messages), "calls", len(b.Calls))
		return errors.Join(writeErr, err)
	}
	return nil
}

// replay writes the spooled batches, oldest first, until the spool is
// empty (true) or the store fails again (false).
func (r *LiveRunner) replay(ctx context.Context) bool {
	sp := r.opts.StoreSpool
	if sp == nil {
		return true
	}
	for sp.Len() > 0 {
		b, _, ok, err := sp.PeekBatch()
		if errors.Is(err, spool.ErrClosed) {
			return false
		}
		if err != nil {
			r.logger.Error("store spool: unreadable batch skipped", "err", err)
			if serr := sp.Skip(); serr != nil {
				return false
			}
			continue
		}
		if !ok {
			return true
		}
		if r.writeBatch(ctx, b) != nil {
			return false
		}
		if err := sp.Ack(); err != nil {
			// Stored, but the spool could not record it: it would be
			// written again, which the store's keys make harmless.
			r.logger.Error("store spool ack failed", "err", err)
			return false
		}
	}
	return true
}

// appendLiveBatch appends to b what changed since the previous call; b's
// slices may be the memory of a batch already written. Streams idle for
// streamIdle are written one last time and forgotten, so a long run holds
// only active streams.
func (p *Pipeline) AppendLiveBatch(b *storage.Batch, now int64, final bool) {
	p.AppendLiveBatchAt(b, now, 0, final)
}

// AppendLiveBatchAt is AppendLiveBatch with the receiver's wall clock
// (Unix ns): call timers then run on the clock of the source that carries
// each call (a HEP agent's may lag the collector's by hours), advanced by
// the wall time passed since that source's latest message arrived; wall 0
// runs them all on now. Streams go idle by now.
func (p *Pipeline) AppendLiveBatchAt(b *storage.Batch, now, wall int64, final bool) {
	if wall != 0 {
		p.corr.ExpireAt(wall)
	} else {
		p.corr.Expire(now)
	}
	first, firstReg := len(b.Calls), len(b.Registrations)
	b.Calls = p.corr.AppendUpdates(b.Calls)
	b.Registrations = p.corr.AppendUpdatedRegistrations(b.Registrations)
	if b.Messages == nil {
		b.Messages = p.corr.TakeMessages()
	} else {
		b.Messages = append(b.Messages, p.corr.TakeMessages()...)
	}
	// The frames' bytes go with the batch; the arena starts a new buffer.
	b.Packets = p.appendFrames(b.Packets)
	keep := p.order[:0]
	for _, s := range p.order {
		if s == nil {
			continue
		}
		idle := now-s.last > int64(streamIdle) || s.gone
		if s.dirty || final {
			st := p.streamRecord(s, QualityOptions{G711PLC: true})
			p.rememberStream(s.key, &st)
			b.Streams = append(b.Streams, st)
			s.dirty = false
			if p.OnStreamStats != nil {
				p.OnStreamStats(&st, idle || final)
			}
		} else if idle && p.OnStreamStats != nil {
			st := p.streamRecord(s, QualityOptions{G711PLC: true})
			p.OnStreamStats(&st, true)
		}
		if idle && !final {
			if !s.gone {
				delete(p.streams, s.key)
				p.streamsForgotten++
			}
			continue
		}
		s.at = len(keep)
		keep = append(keep, s)
	}
	clear(p.order[len(keep):])
	p.order = keep
	p.orderDead = 0
	p.appendReportedStreams(b, now, final)
	for i := first; i < len(b.Calls); i++ {
		c := &b.Calls[i]
		// The call MOS, findings and sentence from the latest figures of
		// the call's streams, as offline analysis decides them.
		p.diagStreams = p.diagStreams[:0]
		for _, st := range p.callStreams[c.CallID] {
			p.diagStreams = append(p.diagStreams, st)
		}
		slices.SortFunc(p.diagStreams, func(a, b quality.Stream) int {
			if n := a.Start.Compare(b.Start); n != 0 {
				return n
			}
			return cmp.Compare(a.SSRC, b.SSRC)
		})
		d := diagnose.Diagnose(*c, p.diagStreams)
		c.MOS, c.Findings, c.Diagnosis = d.MOS, diagnose.Codes(d.Findings), d.Sentence
		if c.Finished {
			delete(p.callStreams, c.CallID)
		}
	}
	clear(p.diagStreams)
	p.kpis.observe(b.Calls[first:], b.Registrations[firstReg:])
	p.observeLive(b.Calls[first:], b.Registrations[firstReg:], now)
}

// rememberStream keeps each bound stream's latest figures (without its
// timeline, DTMF and RTCP lists), so that a call record written when only
// its signalling changed (a BYE after the media stopped) is still judged
// on its media: MOS of its worst direction, one-way audio, loss.
func (p *Pipeline) rememberStream(key streamKey, st *quality.Stream) {
	if st.CallID == "" {
		return
	}
	m := p.callStreams[st.CallID]
	if m == nil {
		m = make(map[streamKey]quality.Stream, 2)
		p.callStreams[st.CallID] = m
	}
	sum := *st
	sum.MOSTimeline, sum.DTMF = nil, nil
	m[key] = sum
}

// streamIdle is how long a stream may see no packet before live mode
// forgets it (its last statistics are already stored).
const streamIdle = 60 * time.Second

// RingGeometry turns --ring-mb into TPACKET_V3 blocks. The kernel hands a
// block over when it is full or when its timeout (50 ms) passes, so on a
// quiet link every block holds a few packets and the ring absorbs a reader
// stall of about blocks × 50 ms whatever its size: small rings therefore
// keep 16 blocks and shrink the blocks (down to 128 KiB, which still holds
// a 64 KiB frame), and large rings grow in 4 MiB blocks.
func RingGeometry(mb int) (blockSize, numBlocks int, err error) {
	const blocks, bigBlock = 16, 4 << 20
	switch {
	case mb < 2:
		return 0, 0, fmt.Errorf("--ring-mb %d: want at least 2", mb)
	case mb <= blocks*bigBlock>>20:
		return mb << 20 / blocks, blocks, nil
	case mb%(bigBlock>>20) != 0:
		return 0, 0, fmt.Errorf("--ring-mb %d: above %d, want a multiple of %d", mb, blocks*bigBlock>>20, bigBlock>>20)
	}
	return bigBlock, mb / (bigBlock >> 20), nil
}
