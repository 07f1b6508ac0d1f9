// Package inject offers a capture's frames to an interface at a set rate
// (`sipscope bench inject`), faster than tcpreplay can (one sendto per
// packet tops out near 120 k pps on a small VM): the frames are preloaded,
// and each sender thread hands the kernel a whole batch per system call,
// through a PACKET_TX_RING or sendmmsg on its own AF_PACKET socket,
// bypassing the qdisc. It exists so that .ci/bench-capture can offer the
// rates the capture is meant to take.
package inject

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"time"

	"github.com/sipscope/sipscope/frame"
)

// Injection methods.
const (
	MethodRing     = "ring"     // PACKET_TX_RING (TPACKET_V2), one send() per batch
	MethodSendmmsg = "sendmmsg" // sendmmsg of preloaded iovecs, one call per batch
)

// Config is what one `bench inject` run does.
type Config struct {
	Iface    string
	PPS      float64       // frames per second over all senders; 0 = as fast as possible
	Duration time.Duration // stop after this long; 0 = no limit
	Loop     bool          // repeat the capture until Duration has passed
	Senders  int           // sender threads, each with its own socket and share of the frames
	Method   string        // MethodRing or MethodSendmmsg
	Batch    int           // frames per system call at most
	Pin      bool          // pin sender i to CPU i mod NumCPU

	refuseLimit time.Duration // give up after the kernel sent nothing this long; 0 = defaultRefuseLimit
}

// Validate names the first bad field.
func (c Config) Validate() error {
	switch {
	case c.Iface == "":
		return errors.New("--iface: need an interface to send on")
	case c.PPS < 0:
		return fmt.Errorf("--pps %v: want 0 (as fast as possible) or more", c.PPS)
	case c.Duration < 0:
		return fmt.Errorf("--seconds %v: want 0 (no limit) or more", c.Duration)
	case c.Loop && c.Duration == 0:
		return errors.New("--loop needs --seconds: it would never stop")
	case c.Senders < 1 || c.Senders > 64:
		return fmt.Errorf("--senders %d: want 1 to 64", c.Senders)
	case c.Method != MethodRing && c.Method != MethodSendmmsg:
		return fmt.Errorf("--method %q: want %s or %s", c.Method, MethodRing, MethodSendmmsg)
	case c.Batch < 1 || c.Batch > 4096:
		return fmt.Errorf("--batch %d: want 1 to 4096", c.Batch)
	}
	return nil
}

// Result sums what the senders did.
type Result struct {
	Sent    uint64        // frames the kernel accepted
	Bytes   uint64        // their bytes
	ENOBUFS uint64        // sends refused with ENOBUFS and retried (the device or its peer was full)
	Errors  uint64        // frames given up on: the kernel rejected them (too long, bad format)
	Elapsed time.Duration // first send to last
	CPU     time.Duration // user+system time of the whole process while sending
}

func (r Result) PPS() float64 {
	if r.Elapsed <= 0 {
		return 0
	}
	return float64(r.Sent) / r.Elapsed.Seconds()
}

func (r *Result) add(o Result) {
	r.Sent += o.Sent
	r.Bytes += o.Bytes
	r.ENOBUFS += o.ENOBUFS
	r.Errors += o.Errors
}

// pacer is a token bucket over batches: tokens accrue at rate per second
// from the first grant, a grant hands out what is due (at most the batch
// asked for), and a sender that fell behind may catch up by at most burst
// frames, so that a stall turns into a lower achieved rate rather than a
// burst far above the one asked for.
type pacer struct {
	rate    float64 // frames per second; 0 = unpaced
	burst   uint64
	minWait uint64 // tokens worth waiting for: sleeping for fewer costs more than it paces
	start   time.Time
	granted uint64 // tokens handed out, including those forfeited by catching up
}

func newPacer(rate float64, batch int) *pacer {
	p := &pacer{rate: rate}
	if rate > 0 {
		// Go's timers wake with roughly millisecond precision under load,
		// so wait for at least a millisecond's worth (or one batch, when
		// less) and let up to 10 ms accrue before forfeiting any.
		p.minWait = uint64(min(max(rate/1000, 1), float64(batch)))
		p.burst = max(uint64(rate/100), uint64(batch))
	}
	return p
}

// grant returns how many of want frames may go at now, or when none may,
// how long to wait before asking again.
func (p *pacer) grant(now time.Time, want int) (int, time.Duration) {
	if p.rate == 0 {
		return want, 0
	}
	if p.start.IsZero() {
		p.start = now
	}
	due := uint64(now.Sub(p.start).Seconds() * p.rate)
	if due < p.granted {
		due = p.granted
	}
	avail := due - p.granted
	if avail > p.burst {
		p.granted += avail - p.burst
		avail = p.burst
	}
	if avail < min(p.minWait, uint64(want)) {
		need := float64(min(p.minWait, uint64(want)) - avail)
		return 0, time.Duration(need / p.rate * float64(time.Second))
	}
	n := min(avail, uint64(want))
	p.granted += n
	return int(n), 0
}

// senderShare is the frames sender i of n sends: every n-th, starting at i,
// so that together they send each frame once per pass.
func senderShare(frames []frame.Frame, i, n int) [][]byte {
	share := make([][]byte, 0, len(frames)/n+1)
	for j := i; j < len(frames); j += n {
		share = append(share, frames[j].Data)
	}
	return share
}

// CheckFrames refuses what cannot be sent as it is: no frames, or frames
// that are not Ethernet.
func CheckFrames(frames []frame.Frame) error {
	if len(frames) == 0 {
		return errors.New("no frames")
	}
	for i := range frames {
		if frames[i].LinkType != frame.LinkEthernet {
			return fmt.Errorf("frame %d has link type %d: only Ethernet frames can be sent as they are", i+1, frames[i].LinkType)
		}
	}
	return nil
}

// CPUPercent is the senders' CPU time as a share of one core over the run.
func (r Result) CPUPercent() float64 {
	if r.Elapsed <= 0 {
		return 0
	}
	return 100 * r.CPU.Seconds() / r.Elapsed.Seconds()
}

// AddFlags declares the injector's flags on fs, bound to c (the capture
// file and the duration are the caller's).
func (c *Config) AddFlags(fs *flag.FlagSet) {
	fs.StringVar(&c.Iface, "iface", c.Iface, "interface to send on")
	fs.Float64Var(&c.PPS, "pps", c.PPS, "frames per second over all senders (0 = as fast as possible)")
	fs.BoolVar(&c.Loop, "loop", c.Loop, "repeat the capture until --seconds have passed")
	fs.IntVar(&c.Senders, "senders", c.Senders, "sender threads, each with its own socket and every n-th frame")
	fs.StringVar(&c.Method, "method", c.Method, "ring (PACKET_TX_RING) or sendmmsg")
	fs.IntVar(&c.Batch, "batch", c.Batch, "frames per system call at most")
	fs.BoolVar(&c.Pin, "pin", c.Pin, "pin sender i to CPU i mod the CPU count")
}

// WriteReport writes what a run of c did: a sentence, then one line of
// key=value for scripts.
func (r Result) WriteReport(w io.Writer, c Config) {
	cpu := r.CPUPercent()
	fmt.Fprintf(w, "inject: %d frames sent on %s in %v by %d sender(s) (%s): %.0f pps, %.1f Mbit/s; %d ENOBUFS retries, %d send errors; CPU %.0f%%\n",
		r.Sent, c.Iface, r.Elapsed.Round(time.Millisecond), c.Senders, c.Method,
		r.PPS(), float64(r.Bytes)*8/max(r.Elapsed.Seconds(), 1e-9)/1e6, r.ENOBUFS, r.Errors, cpu)
	fmt.Fprintf(w, "result: sent=%d seconds=%.3f pps=%.0f enobufs=%d errors=%d cpu=%.0f\n",
		r.Sent, r.Elapsed.Seconds(), r.PPS(), r.ENOBUFS, r.Errors, cpu)
}
