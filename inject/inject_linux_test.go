//go:build linux

package inject

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/sipscope/sipscope/frame"
	"github.com/sipscope/sipscope/gen"
	"github.com/sipscope/sipscope/internal/netnstest"
	"github.com/sipscope/sipscope/pipeline"
)

// TestInjectDeliversEveryFrameByteForByte sends a generated capture across
// a veth pair with each method and sender count, and reads the far end with
// a plain AF_PACKET socket: every frame must arrive exactly once, unchanged,
// and in file order when one sender sends them all.
func TestInjectDeliversEveryFrameByteForByte(t *testing.T) {
	netnstest.RequireLiveRoot(t)
	l := netnstest.NewUACLink(t)
	path := filepath.Join(t.TempDir(), "gen.pcap")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := gen.Write(f, gen.Config{Calls: 25, CallDuration: 4 * time.Second}); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	frames, err := pipeline.LoadFrames(path)
	if err != nil {
		t.Fatal(err)
	}
	// More frames than a small batch's TX ring has slots (1024), so that
	// the ring goes round.
	if len(frames) < 2048 {
		t.Fatalf("the generated capture has %d frames, want 2048 at least", len(frames))
	}
	tests := []struct {
		name    string
		method  string
		senders int
		pps     float64
		batch   int
	}{
		{"one sender through the TX ring, paced", MethodRing, 1, 50_000, 64},
		{"one sender with sendmmsg, paced", MethodSendmmsg, 1, 50_000, 64},
		{"three senders through TX rings as fast as they can", MethodRing, 3, 0, 256},
		{"two senders with sendmmsg as fast as they can", MethodSendmmsg, 2, 0, 256},
		{"one sender through the TX ring a frame per send", MethodRing, 1, 0, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rx := openNetnsReceiver(t, l.NS, l.NsIf)
			cfg := Config{Iface: l.RootIf, PPS: tt.pps, Senders: tt.senders, Method: tt.method, Batch: tt.batch}
			res, err := Run(context.Background(), cfg, frames)
			if err != nil {
				t.Fatalf("inject: %v", err)
			}
			if res.Sent != uint64(len(frames)) || res.Errors != 0 {
				t.Fatalf("inject sent %d frames with %d errors, want all %d and none", res.Sent, res.Errors, len(frames))
			}
			got := rx.collect(t, frames)
			if tt.senders == 1 {
				for i := range frames {
					if !bytes.Equal(got[i], frames[i].Data) {
						t.Fatalf("frame %d arrived out of order or changed:\n got %x\nwant %x", i+1, got[i], frames[i].Data)
					}
				}
				return
			}
			want := make(map[string]int)
			for i := range frames {
				want[string(frames[i].Data)]++
			}
			for _, b := range got {
				want[string(b)]--
			}
			for b, n := range want {
				if n != 0 {
					t.Fatalf("a %d-byte frame arrived %d times too few (negative: too many)", len(b), n)
				}
			}
		})
	}
}

// TestInjectGivesUpWhenTheLinkRefusesEveryFrame: a veth whose peer is down
// answers every send with ENOBUFS; the injector must fail, saying so,
// rather than retry for ever.
func TestInjectGivesUpWhenTheLinkRefusesEveryFrame(t *testing.T) {
	netnstest.RequireLiveRoot(t)
	l := netnstest.NewUACLink(t)
	netnstest.RunIP(t, "-n", l.NS, "link", "set", l.NsIf, "down")
	frames := make([]frame.Frame, 100)
	for i := range frames {
		b := make([]byte, 60)
		copy(b, []byte{0x02, 0, 0, 0, 0, 1, 0x02, 0, 0, 0, 0, 2, 0x08, 0x00})
		b[20] = byte(i)
		frames[i] = frame.Frame{LinkType: frame.LinkEthernet, Data: b}
	}
	for _, method := range []string{MethodRing, MethodSendmmsg} {
		t.Run(method, func(t *testing.T) {
			cfg := Config{Iface: l.RootIf, Senders: 1, Method: method, Batch: 16, refuseLimit: 300 * time.Millisecond}
			res, err := Run(context.Background(), cfg, frames)
			if err == nil || !strings.Contains(err.Error(), "is the link or its peer down") {
				t.Fatalf("inject = %+v, %v; want the error that nothing could be sent", res, err)
			}
			if res.ENOBUFS == 0 {
				t.Errorf("no ENOBUFS counted, yet the kernel refused every frame")
			}
		})
	}
}

// netnsReceiver is an AF_PACKET socket on an interface of another network
// namespace.
type netnsReceiver struct{ fd int }

// openNetnsReceiver opens the socket from a thread that joins namespace ns
// and then returns to its own; the socket stays bound to ns's interface.
// Should the return fail, the thread stays locked and so dies with its
// goroutine (or, the main thread, is never used again), as no goroutine
// may run in the wrong namespace: /proc/net follows the main thread's.
func openNetnsReceiver(t *testing.T, ns, iface string) *netnsReceiver {
	t.Helper()
	type opened struct {
		fd  int
		err error
	}
	ch := make(chan opened, 1)
	go func() {
		runtime.LockOSThread()
		own, err := os.Open("/proc/thread-self/ns/net")
		if err != nil {
			ch <- opened{-1, err}
			return
		}
		defer own.Close()
		fd, err := func() (int, error) {
			nsf, err := os.Open("/var/run/netns/" + ns)
			if err != nil {
				return -1, err
			}
			defer nsf.Close()
			if err := unix.Setns(int(nsf.Fd()), unix.CLONE_NEWNET); err != nil {
				return -1, fmt.Errorf("setns %s: %w", ns, err)
			}
			return openPacketReceiver(iface)
		}()
		if rerr := unix.Setns(int(own.Fd()), unix.CLONE_NEWNET); rerr != nil {
			if fd >= 0 {
				unix.Close(fd)
			}
			ch <- opened{-1, fmt.Errorf("back to the test's namespace: %w", rerr)}
			return
		}
		runtime.UnlockOSThread()
		ch <- opened{fd, err}
	}()
	o := <-ch
	if o.err != nil {
		t.Fatalf("receiver on %s in %s: %v", iface, ns, o.err)
	}
	t.Cleanup(func() { unix.Close(o.fd) })
	return &netnsReceiver{fd: o.fd}
}

// openPacketReceiver opens an AF_PACKET socket for every frame on iface of
// the calling thread's namespace.
func openPacketReceiver(iface string) (int, error) {
	ifi, err := net.InterfaceByName(iface)
	if err != nil {
		return -1, err
	}
	fd, err := unix.Socket(unix.AF_PACKET, unix.SOCK_RAW|unix.SOCK_CLOEXEC, int(htons(unix.ETH_P_ALL)))
	if err != nil {
		return -1, err
	}
	tv := unix.NsecToTimeval(int64(200 * time.Millisecond))
	for _, err := range []error{
		unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUFFORCE, 64<<20),
		unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &tv),
		unix.Bind(fd, &unix.SockaddrLinklayer{Protocol: htons(unix.ETH_P_ALL), Ifindex: ifi.Index}),
	} {
		if err != nil {
			unix.Close(fd)
			return -1, err
		}
	}
	return fd, nil
}

func htons(v uint16) uint16 { return v<<8 | v>>8 }

// collect reads frames until as many as were sent have arrived and the link
// has then been quiet for a moment (so that duplicates would show), or
// until it gives up; it keeps only frames of the capture (the kernel may
// send something of its own) and fails on socket drops.
func (r *netnsReceiver) collect(t *testing.T, frames []frame.Frame) [][]byte {
	t.Helper()
	sent := make(map[string]bool, len(frames))
	for i := range frames {
		sent[string(frames[i].Data)] = true
	}
	var got [][]byte
	buf := make([]byte, 65536)
	giveUp := time.Now().Add(5 * time.Second)
	for time.Now().Before(giveUp) {
		n, from, err := unix.Recvfrom(r.fd, buf, 0)
		if err == unix.EAGAIN || err == unix.EINTR {
			if len(got) >= len(frames) {
				break // complete, and 200 ms of quiet since
			}
			continue
		}
		if err != nil {
			t.Fatalf("recvfrom: %v", err)
		}
		if ll, ok := from.(*unix.SockaddrLinklayer); ok && ll.Pkttype == unix.PACKET_OUTGOING {
			continue
		}
		if sent[string(buf[:n])] {
			got = append(got, bytes.Clone(buf[:n]))
		}
	}
	st, err := unix.GetsockoptTpacketStats(r.fd, unix.SOL_PACKET, unix.PACKET_STATISTICS)
	if err != nil {
		t.Fatalf("PACKET_STATISTICS: %v", err)
	}
	if st.Drops != 0 {
		t.Fatalf("the receiving socket dropped %d frames: the test cannot tell what arrived", st.Drops)
	}
	if len(got) != len(frames) {
		t.Fatalf("%d of the capture's frames arrived, want %d", len(got), len(frames))
	}
	return got
}
