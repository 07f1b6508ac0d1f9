package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/netip"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/sync/errgroup"

	"github.com/sipscope/sipscope/bpf"
	"github.com/sipscope/sipscope/capture"
	"github.com/sipscope/sipscope/correlate"
	"github.com/sipscope/sipscope/frame"
	"github.com/sipscope/sipscope/quality"
	"github.com/sipscope/sipscope/storage"
)

// liveOptions says where live traffic comes from.
type liveOptions struct {
	ifaces     []string      // AF_PACKET interfaces
	hepUDP     []string      // HEP listen addresses (UDP)
	hepTCP     []string      // HEP listen addresses (TCP)
	flushEvery time.Duration // how often news reaches the store
	// queueBytes and queueFrames bound the queue between the sources and
	// the pipeline (defaultQueueBytes, defaultQueueFrames).
	queueBytes, queueFrames int
	noEBPF                  bool // use the classic BPF filter even where eBPF loads
	// ring is the AF_PACKET ring per socket: snap length, block size and
	// count, promiscuous mode. fanout > 1 opens that many sockets per
	// interface in one PACKET_FANOUT group, each read by its own goroutine.
	snapLen, blockSize, numBlocks int
	promisc                       bool
	fanout                        int
	spool                         *capture.SpoolConfig // --spool-dir: frames also go to rotating pcap files
}

func (o liveOptions) enabled() bool { return len(o.ifaces)+len(o.hepUDP)+len(o.hepTCP) > 0 }

// parseHEPListen splits "udp://127.0.0.1:9060,tcp://0.0.0.0:9061".
func parseHEPListen(spec string) (udp, tcp []string, err error) {
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
	ring    *byteRing[frame.Frame] // a span's meta is the frame without Data
	dropped atomic.Uint64
}

// Default size of the frame queue: at 200 k frames/s of mixed SIP and RTP
// it rides out a pipeline stall of more than half a second.
const (
	defaultQueueBytes  = 64 << 20
	defaultQueueFrames = 1 << 17
)

func newFrameQueue(bytes, frames int) *frameQueue {
	return &frameQueue{ring: newByteRing[frame.Frame](bytes, frames)}
}

// push copies f into the ring, or counts a drop when it is full; it
// reports which.
func (q *frameQueue) push(f *frame.Frame) bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	b := q.ring.reserve(len(f.Data))
	if b == nil {
		q.dropped.Add(1)
		return false
	}
	copy(b, f.Data)
	meta := *f
	meta.Data = nil
	q.ring.commit(len(b), meta)
	return true
}

// liveRunner runs the pipeline over live sources and writes what it learns
// to the store every flushEvery, and once more, after draining, at shutdown.
type liveRunner struct {
	opts   liveOptions
	store  storeWriter
	logger *slog.Logger
	reg    prometheus.Registerer
	q      *frameQueue
	p      *pipeline

	filter     *bpf.Filter
	portUsers  map[uint16]int // calls expecting media on each learned port
	portErrors int            // learned-port map updates the kernel refused
	sources    []frameSource
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

	mu          sync.Mutex // guards stats for readers outside the pipeline goroutine
	lastFlush   time.Time
	written     int
	writeErrors int
}

func newLiveRunner(opts liveOptions, store storeWriter, logger *slog.Logger, reg prometheus.Registerer) *liveRunner {
	if opts.flushEvery <= 0 {
		opts.flushEvery = time.Second
	}
	if opts.queueBytes <= 0 {
		opts.queueBytes = defaultQueueBytes
	}
	if opts.queueFrames <= 0 {
		opts.queueFrames = defaultQueueFrames
	}
	r := &liveRunner{
		opts: opts, store: store, logger: logger, reg: reg,
		q:         newFrameQueue(max(opts.queueBytes, capture.DefaultSnapLen), opts.queueFrames),
		portUsers: map[uint16]int{},
	}
	if reg != nil {
		reg.MustRegister(prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "sipscope_live_queue_drops_total",
			Help: "Frames dropped because the queue to the pipeline was full.",
		}, func() float64 { return float64(r.q.dropped.Load()) }))
	}
	cfg := correlate.DefaultConfig()
	cfg.KeepMessages = true
	cfg.Retain = false
	cfg.OnMedia = r.mediaPort
	r.p = newPipeline(cfg)
	return r
}

// mediaPort keeps the kernel filter's learned-port map in step with the
// media endpoints SDP announced, so RTP that the header heuristic would miss
// (odd ports, encrypted payloads) still reaches user space. The map is keyed
// by port alone, so ports are reference-counted across calls.
func (r *liveRunner) mediaPort(ap netip.AddrPort, bound bool) {
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
func (r *liveRunner) open(ctx context.Context) error {
	if r.opts.spool != nil {
		cfg := *r.opts.spool
		cfg.Registerer, cfg.Logger = r.reg, r.logger
		sp, err := capture.OpenSpool(cfg)
		if err != nil {
			return fmt.Errorf("spool: %w", err)
		}
		r.spool = sp
	}
	if len(r.opts.ifaces) > 0 && !r.opts.noEBPF {
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
	readers := max(r.opts.fanout, 1)
	for i, iface := range r.opts.ifaces {
		for n := range readers {
			cfg := capture.LiveConfig{
				Interface: iface, Filter: r.filter, SnapLen: r.opts.snapLen,
				BlockSize: r.opts.blockSize, NumBlocks: r.opts.numBlocks, Promiscuous: r.opts.promisc,
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
	if len(r.opts.hepUDP)+len(r.opts.hepTCP) > 0 {
		h, err := capture.ListenHEP(ctx, capture.HEPConfig{UDP: r.opts.hepUDP, TCP: r.opts.hepTCP, Registerer: r.reg, Logger: r.logger})
		if err != nil {
			r.closeAll()
			return fmt.Errorf("HEP listener: %w", err)
		}
		r.hep = h
		r.sources = append(r.sources, h)
	}
	return nil
}

func (r *liveRunner) closeAll() {
	for _, c := range r.closers {
		c.Close()
	}
}

// Run captures until ctx ends, then stops the sources, processes every frame
// already read, and flushes everything to the store before returning.
func (r *liveRunner) Run(ctx context.Context) error {
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
		r.q.ring.close()
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

func (r *liveRunner) pump(src frameSource) error {
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
func (r *liveRunner) process(ctx context.Context) error {
	tick := time.NewTicker(r.opts.flushEvery)
	defer tick.Stop()
	for {
		select {
		case sp, ok := <-r.q.ring.spans:
			if !ok {
				r.flush(true)
				return nil
			}
			f := sp.meta
			f.Data = r.q.ring.bytes(sp)
			if r.spool != nil {
				// Here, behind the bounded queue, the ring readers never wait; and
				// Write never blocks (a slow disk drops from the spool, counted).
				r.spool.Write(&f)
			}
			r.p.handleFrame(&f)
			r.seenTS, r.seenAt = r.p.lastPktTS, time.Now()
			r.q.ring.release(sp)
		case <-tick.C:
			r.checkDrops()
			r.flush(false)
		}
	}
}

// liveStatus is what GET /api/v1/status reports about live capture.
type liveStatus struct {
	Interfaces  []string `json:"interfaces"`
	HEPListen   []string `json:"hep_listen"`
	Packets     uint64   `json:"packets"`
	KernelDrops uint64   `json:"kernel_drops"`
	FreezeQueue uint64   `json:"freeze_queue"`
	QueueDrops  uint64   `json:"queue_drops"`
	HEPReceived uint64   `json:"hep_received"`
	HEPDropped  uint64   `json:"hep_dropped"`
	LastFlush   string   `json:"last_flush"`
	WriteErrors int      `json:"store_write_errors"`

	Spool *capture.SpoolStats `json:"spool,omitempty"`
}

// status reads the sources' counters; safe from any goroutine.
func (r *liveRunner) status() liveStatus {
	st := liveStatus{Interfaces: r.opts.ifaces, HEPListen: append(append([]string{}, r.opts.hepUDP...), r.opts.hepTCP...)}
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
		st.HEPReceived, st.HEPDropped = h.Received, h.DroppedQueueFull
	}
	st.QueueDrops = r.q.dropped.Load()
	if r.spool != nil {
		sp := r.spool.Stats()
		st.Spool = &sp
	}
	r.mu.Lock()
	st.WriteErrors = r.writeErrors
	if !r.lastFlush.IsZero() {
		st.LastFlush = r.lastFlush.UTC().Format(time.RFC3339)
	}
	r.mu.Unlock()
	return st
}

// checkDrops logs a warning at most once a minute while packets are being
// lost in the kernel ring, the frame queue or the HEP queue.
func (r *liveRunner) checkDrops() {
	st := r.status()
	lost := st.KernelDrops + st.QueueDrops + st.HEPDropped
	if lost > r.lostSeen && time.Since(r.lastDropWarn) >= time.Minute {
		r.logger.Warn("packets are being dropped", "kernel_drops", st.KernelDrops, "queue_drops", st.QueueDrops,
			"hep_dropped", st.HEPDropped, "new", lost-r.lostSeen)
		r.lastDropWarn = time.Now()
		r.lostSeen = lost
	}
}

// now is the pipeline's idea of the current packet time.
func (r *liveRunner) now() int64 {
	if r.seenAt.IsZero() {
		return time.Now().UnixNano()
	}
	return r.seenTS + int64(time.Since(r.seenAt))
}

// maxPendingMessages bounds the SIP messages the pipeline keeps for a store
// writer that has fallen behind; beyond it the pipeline waits for the
// writer, and the frame queue absorbs (or drops and counts) meanwhile.
const maxPendingMessages = 1 << 18

// storeWriteTimeout bounds one batch's write, so that a hung store cannot
// hold up shutdown for ever.
const storeWriteTimeout = 30 * time.Second

// flush hands the news since the last flush (changed calls and
// registrations, new SIP messages, streams that saw packets) to the store
// writer. The write itself happens on storeLoop's goroutine, so a slow
// insert does not hold up the pipeline: while one batch is being written,
// the next ones accumulate here, merged, and go as one.
func (r *liveRunner) flush(final bool) {
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
	r.p.appendLiveBatch(p, r.now(), final)
	if batchLen(p) == 0 {
		return
	}
	if final || len(p.Messages) >= maxPendingMessages {
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
	return len(b.Calls) + len(b.Registrations) + len(b.Messages) + len(b.Streams)
}

// emptied returns b's memory with no records, and none referenced.
func emptied(b storage.Batch) storage.Batch {
	clear(b.Calls)
	clear(b.Registrations)
	clear(b.Messages)
	clear(b.Streams)
	return storage.Batch{Calls: b.Calls[:0], Registrations: b.Registrations[:0], Messages: b.Messages[:0], Streams: b.Streams[:0]}
}

// storeLoop writes the batches flush hands over until writes is closed.
// Later batches carry newer versions of the same records, so they are
// written in the order they came. A failed write is logged and counted
// (status store_write_errors); a call's record is written again by its next
// change, its messages are not.
func (r *liveRunner) storeLoop(ctx context.Context) error {
	var last error
	for b := range r.writes {
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
		}
		last = err
		select {
		case r.spent <- emptied(b):
		default:
		}
	}
	return last // whether the last batch, the one written at shutdown, is stored
}

// appendLiveBatch appends to b what changed since the previous call; b's
// slices may be the memory of a batch already written. Streams idle for
// streamIdle are written one last time and forgotten, so a long run holds
// only active streams.
func (p *pipeline) appendLiveBatch(b *storage.Batch, now int64, final bool) {
	p.corr.Expire(now)
	first := len(b.Calls)
	b.Calls = p.corr.AppendUpdates(b.Calls)
	b.Registrations = p.corr.AppendUpdatedRegistrations(b.Registrations)
	if b.Messages == nil {
		b.Messages = p.corr.TakeMessages()
	} else {
		b.Messages = append(b.Messages, p.corr.TakeMessages()...)
	}
	keep := p.order[:0]
	for _, s := range p.order {
		idle := now-s.last > int64(streamIdle)
		if s.dirty || final {
			st := p.streamRecord(s, qualityOptions{g711PLC: true})
			p.rememberMOS(s.key, &st)
			b.Streams = append(b.Streams, st)
			s.dirty = false
			if p.onStreamStats != nil {
				p.onStreamStats(&st, idle || final)
			}
		} else if idle && p.onStreamStats != nil {
			st := p.streamRecord(s, qualityOptions{g711PLC: true})
			p.onStreamStats(&st, true)
		}
		if idle && !final {
			delete(p.streams, s.key)
			continue
		}
		keep = append(keep, s)
	}
	clear(p.order[len(keep):])
	p.order = keep
	for i := first; i < len(b.Calls); i++ {
		c := &b.Calls[i]
		c.MOS = p.worstMOS(c.CallID)
		if c.Finished {
			delete(p.streamMOS, c.CallID)
		}
	}
}

// rememberMOS keeps each bound stream's latest MOS, so that a call record
// written when only its signalling changed (a BYE after the media stopped)
// still carries the MOS of its worst direction rather than none.
func (p *pipeline) rememberMOS(key streamKey, st *quality.Stream) {
	if st.CallID == "" || st.MOS <= 0 {
		return
	}
	m := p.streamMOS[st.CallID]
	if m == nil {
		m = make(map[streamKey]float64, 2)
		p.streamMOS[st.CallID] = m
	}
	m[key] = st.MOS
}

// worstMOS is the lowest latest MOS of the call's streams, 0 without RTP.
func (p *pipeline) worstMOS(callID string) float64 {
	worst := 0.0
	for _, mos := range p.streamMOS[callID] {
		if worst == 0 || mos < worst {
			worst = mos
		}
	}
	return worst
}

// streamIdle is how long a stream may see no packet before live mode
// forgets it (its last statistics are already stored).
const streamIdle = 60 * time.Second
