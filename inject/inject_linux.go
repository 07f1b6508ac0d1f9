//go:build linux

package inject

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"net"
	"runtime"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/sipscope/sipscope/frame"
	"golang.org/x/sys/unix"
)

// tpacket2DataOff is where a TPACKET_V2 TX frame's bytes start in its ring
// slot: after the header, aligned (TPACKET2_HDRLEN - sizeof(sockaddr_ll)).
const tpacket2DataOff = (unix.SizeofTpacket2Hdr + unix.TPACKET_ALIGNMENT - 1) &^ (unix.TPACKET_ALIGNMENT - 1)

// defaultRefuseLimit is how long a sender keeps retrying while the kernel
// sends nothing (ENOBUFS, or a ring slot never freed) before it gives up:
// a veth whose peer is down refuses every frame with ENOBUFS, for ever.
const defaultRefuseLimit = 5 * time.Second

// errInjectStopped ends a sender's retries when the run is stopping.
var errInjectStopped = errors.New("bench inject: stopped")

// inject sends frames on cfg.Iface with cfg.Senders threads, each owning
// every n-th frame, its own socket and an equal part of the rate.
func Run(ctx context.Context, cfg Config, frames []frame.Frame) (Result, error) {
	if err := cfg.Validate(); err != nil {
		return Result{}, err
	}
	ifi, err := net.InterfaceByName(cfg.Iface)
	if err != nil {
		return Result{}, fmt.Errorf("interface %q: %w", cfg.Iface, err)
	}
	// The kernel refuses frames longer than the MTU allows; say so now
	// rather than as a failure mid-run.
	for i := range frames {
		b := frames[i].Data
		limit := ifi.MTU + 14
		if len(b) >= 14 && (b[12] == 0x81 && b[13] == 0x00 || b[12] == 0x88 && b[13] == 0xa8) {
			limit += 4
		}
		if len(b) < 14 || len(b) > limit {
			return Result{}, fmt.Errorf("frame %d is %d bytes: %s (MTU %d) sends 14 to %d", i+1, len(b), cfg.Iface, ifi.MTU, limit)
		}
	}
	var stop atomic.Bool
	senders := make([]*injectSender, 0, cfg.Senders)
	defer func() {
		for _, s := range senders {
			s.close()
		}
	}()
	for i := range cfg.Senders {
		s, err := openInjectSender(ifi.Index, cfg, senderShare(frames, i, cfg.Senders))
		if err != nil {
			return Result{}, err
		}
		s.stop = &stop
		s.refuseLimit = cmp.Or(cfg.refuseLimit, defaultRefuseLimit)
		senders = append(senders, s)
	}

	defer context.AfterFunc(ctx, func() { stop.Store(true) })()
	var ru0, ru1 unix.Rusage
	if err := unix.Getrusage(unix.RUSAGE_SELF, &ru0); err != nil {
		return Result{}, fmt.Errorf("getrusage: %w", err)
	}
	start := time.Now()
	var deadline time.Time
	if cfg.Duration > 0 {
		deadline = start.Add(cfg.Duration)
	}
	results := make([]Result, len(senders))
	errs := make([]error, len(senders))
	var wg sync.WaitGroup
	for i, s := range senders {
		wg.Go(func() { results[i], errs[i] = s.run(i, cfg, deadline) })
	}
	wg.Wait()
	var total Result
	total.Elapsed = time.Since(start)
	if err := unix.Getrusage(unix.RUSAGE_SELF, &ru1); err != nil {
		return Result{}, fmt.Errorf("getrusage: %w", err)
	}
	total.CPU = time.Duration(ru1.Utime.Nano() + ru1.Stime.Nano() - ru0.Utime.Nano() - ru0.Stime.Nano())
	for _, r := range results {
		total.add(r)
	}
	return total, errors.Join(errs...)
}

// injectSender is one AF_PACKET socket and the frames it sends, laid out
// for its method: a mapped TX ring it copies them into, or one mmsghdr per
// frame pointing at the frame's bytes, so that a batch is one system call
// over structures built once.
type injectSender struct {
	fd     int
	method string
	frames [][]byte

	ring      []byte // PACKET_TX_RING mapping
	frameSize int
	slots     int
	next      int // the next slot to fill; the kernel walks the ring in the same order

	iovs []unix.Iovec
	hdrs []unix.Mmsghdr

	stop         *atomic.Bool
	refuseLimit  time.Duration
	refusedSince time.Time // when the kernel began refusing; zero while it sends
}

func openInjectSender(ifindex int, cfg Config, frames [][]byte) (*injectSender, error) {
	// Protocol 0: the socket sends only and receives nothing.
	fd, err := unix.Socket(unix.AF_PACKET, unix.SOCK_RAW|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("AF_PACKET socket: %w", err)
	}
	s := &injectSender{fd: fd, method: cfg.Method, frames: frames}
	if err := s.setup(ifindex, cfg); err != nil {
		s.close()
		return nil, err
	}
	return s, nil
}

func (s *injectSender) setup(ifindex int, cfg Config) error {
	// Straight to the driver: no qdisc to queue in or drop from.
	if err := unix.SetsockoptInt(s.fd, unix.SOL_PACKET, unix.PACKET_QDISC_BYPASS, 1); err != nil {
		return fmt.Errorf("PACKET_QDISC_BYPASS: %w", err)
	}
	// A blocked send must come back now and then for the run to stop.
	tv := unix.NsecToTimeval(int64(500 * time.Millisecond))
	if err := unix.SetsockoptTimeval(s.fd, unix.SOL_SOCKET, unix.SO_SNDTIMEO, &tv); err != nil {
		return fmt.Errorf("SO_SNDTIMEO: %w", err)
	}
	if err := unix.SetsockoptInt(s.fd, unix.SOL_SOCKET, unix.SO_SNDBUFFORCE, 16<<20); err != nil {
		return fmt.Errorf("SO_SNDBUFFORCE: %w", err)
	}
	switch s.method {
	case MethodRing:
		if err := s.mapRing(cfg.Batch); err != nil {
			return err
		}
	case MethodSendmmsg:
		s.iovs = make([]unix.Iovec, len(s.frames))
		s.hdrs = make([]unix.Mmsghdr, len(s.frames))
		for i, b := range s.frames {
			s.iovs[i].Base = &b[0]
			s.iovs[i].SetLen(len(b))
			s.hdrs[i].Hdr.Iov = &s.iovs[i]
			s.hdrs[i].Hdr.SetIovlen(1)
		}
	}
	if err := unix.Bind(s.fd, &unix.SockaddrLinklayer{Ifindex: ifindex}); err != nil {
		return fmt.Errorf("bind to interface %d: %w", ifindex, err)
	}
	return nil
}

// mapRing sets up a TPACKET_V2 TX ring with slots for several batches, each
// slot the smallest power of two that holds the longest frame.
func (s *injectSender) mapRing(batch int) error {
	longest := 0
	for _, b := range s.frames {
		longest = max(longest, len(b))
	}
	s.frameSize = 128
	for s.frameSize < tpacket2DataOff+longest {
		s.frameSize *= 2
	}
	blockSize := max(s.frameSize, 64<<10)
	perBlock := blockSize / s.frameSize
	blocks := (max(4*batch, 1024) + perBlock - 1) / perBlock
	s.slots = blocks * perBlock
	if err := unix.SetsockoptInt(s.fd, unix.SOL_PACKET, unix.PACKET_VERSION, unix.TPACKET_V2); err != nil {
		return fmt.Errorf("PACKET_VERSION: %w", err)
	}
	req := unix.TpacketReq{Block_size: uint32(blockSize), Block_nr: uint32(blocks), Frame_size: uint32(s.frameSize), Frame_nr: uint32(s.slots)}
	if err := unix.SetsockoptTpacketReq(s.fd, unix.SOL_PACKET, unix.PACKET_TX_RING, &req); err != nil {
		return fmt.Errorf("PACKET_TX_RING: %w", err)
	}
	ring, err := unix.Mmap(s.fd, 0, blockSize*blocks, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED)
	if err != nil {
		return fmt.Errorf("mmap TX ring: %w", err)
	}
	s.ring = ring
	return nil
}

func (s *injectSender) close() {
	if s.ring != nil {
		unix.Munmap(s.ring)
		s.ring = nil
	}
	if s.fd >= 0 {
		unix.Close(s.fd)
		s.fd = -1
	}
}

// run sends this sender's frames at rate (split from cfg.PPS) until they
// have gone once, or with cfg.Loop until deadline, or until stop.
func (s *injectSender) run(idx int, cfg Config, deadline time.Time) (Result, error) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	if cfg.Pin {
		var set unix.CPUSet
		set.Set(idx % runtime.NumCPU())
		if err := unix.SchedSetaffinity(0, &set); err != nil {
			return Result{}, fmt.Errorf("pin sender %d: %w", idx, err)
		}
	}
	p := newPacer(cfg.PPS/float64(cfg.Senders), cfg.Batch)
	var res Result
	pos := 0
	for !s.stop.Load() {
		now := time.Now()
		if !deadline.IsZero() && !now.Before(deadline) {
			break
		}
		n, wait := p.grant(now, min(cfg.Batch, len(s.frames)-pos))
		if n == 0 {
			if !deadline.IsZero() {
				wait = min(wait, deadline.Sub(now))
			}
			time.Sleep(wait)
			continue
		}
		var err error
		if s.method == MethodRing {
			err = s.sendRing(s.frames[pos:pos+n], &res)
		} else {
			err = s.sendMmsg(pos, n, &res)
		}
		if errors.Is(err, errInjectStopped) {
			break
		}
		if err != nil {
			return res, fmt.Errorf("sender %d: %w", idx, err)
		}
		if pos += n; pos == len(s.frames) {
			if !cfg.Loop {
				break
			}
			pos = 0
		}
	}
	return res, nil
}

func (s *injectSender) slot(i int) (*unix.Tpacket2Hdr, []byte) {
	b := s.ring[i*s.frameSize : (i+1)*s.frameSize]
	return (*unix.Tpacket2Hdr)(unsafe.Pointer(&b[0])), b[tpacket2DataOff:]
}

// sendRing copies batch into the ring's next slots, marks them for sending
// and has the kernel send them with one send().
func (s *injectSender) sendRing(batch [][]byte, res *Result) error {
	for _, b := range batch {
		hdr, data := s.slot(s.next)
		var held time.Time // since when the kernel has held this slot
		for {
			st := atomic.LoadUint32(&hdr.Status)
			if st == unix.TP_STATUS_AVAILABLE {
				break
			}
			if st&unix.TP_STATUS_WRONG_FORMAT != 0 {
				return fmt.Errorf("TX ring: the kernel rejected a %d-byte frame", hdr.Len)
			}
			// Still the kernel's (sending, or waiting for the skb to be
			// freed): have it finish what is pending.
			if err := s.flush(res, 0); err != nil {
				return err
			}
			if atomic.LoadUint32(&hdr.Status) != unix.TP_STATUS_AVAILABLE {
				if err := s.refused(&held); err != nil {
					return err
				}
			}
		}
		copy(data, b)
		hdr.Len = uint32(len(b))
		atomic.StoreUint32(&hdr.Status, unix.TP_STATUS_SEND_REQUEST)
		if s.next++; s.next == s.slots {
			s.next = 0
		}
	}
	// MSG_DONTWAIT: send and return, without waiting for the device to
	// free each frame; a slot still in use is waited for when reused.
	if err := s.flush(res, unix.MSG_DONTWAIT); err != nil {
		return err
	}
	res.Sent += uint64(len(batch))
	for _, b := range batch {
		res.Bytes += uint64(len(b))
	}
	return nil
}

// flush sends the ring's pending frames. A frame the device refused with
// ENOBUFS stays pending, so flush counts and retries it.
func (s *injectSender) flush(res *Result, flags int) error {
	for {
		_, _, e := unix.Syscall6(unix.SYS_SENDTO, uintptr(s.fd), 0, 0, uintptr(flags), 0, 0)
		switch e {
		case 0:
			s.refusedSince = time.Time{}
			return nil
		case unix.ENOBUFS:
			res.ENOBUFS++
			if err := s.refused(&s.refusedSince); err != nil {
				return err
			}
		case unix.EINTR, unix.EAGAIN:
		default:
			return fmt.Errorf("send on TX ring: %w", e)
		}
	}
}

// sendMmsg sends frames [from, from+n) with sendmmsg, retrying what the
// device refused with ENOBUFS and skipping (counted) a frame it rejects.
func (s *injectSender) sendMmsg(from, n int, res *Result) error {
	for done := 0; done < n; {
		r, _, e := unix.Syscall6(unix.SYS_SENDMMSG, uintptr(s.fd), uintptr(unsafe.Pointer(&s.hdrs[from+done])), uintptr(n-done), 0, 0, 0)
		switch e {
		case 0:
			for _, b := range s.frames[from+done : from+done+int(r)] {
				res.Bytes += uint64(len(b))
			}
			res.Sent += uint64(r)
			done += int(r)
			s.refusedSince = time.Time{}
		case unix.ENOBUFS:
			res.ENOBUFS++
			if err := s.refused(&s.refusedSince); err != nil {
				return err
			}
		case unix.EINTR, unix.EAGAIN:
		case unix.EMSGSIZE, unix.EINVAL:
			res.Errors++
			done++
		default:
			return fmt.Errorf("sendmmsg: %w", e)
		}
	}
	return nil
}

// refused notes that the kernel sent nothing this time, nothing having gone
// since *since (zero: until now); it fails once that has lasted
// s.refuseLimit, or at once when the run is stopping.
func (s *injectSender) refused(since *time.Time) error {
	if s.stop.Load() {
		return errInjectStopped
	}
	now := time.Now()
	if since.IsZero() {
		*since = now
		return nil
	}
	if now.Sub(*since) > s.refuseLimit {
		return fmt.Errorf("nothing could be sent for %v (ENOBUFS, or TX ring slots never freed): is the link or its peer down?", s.refuseLimit)
	}
	return nil
}
