//go:build linux && (386 || amd64 || arm || arm64 || loong64 || mips64le || mipsle || ppc64le || riscv64)

package bpf

import (
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/rlimit"
	"golang.org/x/sys/unix"
)

// Filter is the loaded eBPF socket filter with its maps. Attach it to a
// packet socket through FD; one Filter may serve several sockets (a fanout
// group), which then share the learned ports and the counters.
type Filter struct {
	mu     sync.RWMutex
	objs   sipfilterObjects
	closed bool
	final  Counters // counters at Close, so metrics stay monotonic afterwards
}

// Load loads the filter into the kernel. When the kernel or the process's
// capabilities do not allow it the error wraps ErrUnavailable and says what
// is missing; callers then fall back to ClassicFilter.
func Load() (*Filter, error) { return load(false) }

// load loads the filter; dataAfterMAC is for BPF_PROG_TEST_RUN, which hands
// a socket filter the frame with skb->data past the Ethernet header, where a
// packet socket has it at the MAC header.
func load(dataAfterMAC bool) (*Filter, error) {
	// Kernels before 5.11 charge BPF memory to RLIMIT_MEMLOCK; on newer ones
	// this is a no-op. Failing here is not fatal: loading will say why.
	_ = rlimit.RemoveMemlock()

	spec, err := loadSipfilter()
	if err != nil {
		return nil, fmt.Errorf("bpf: socket filter object: %w", err)
	}
	if dataAfterMAC {
		v, ok := spec.Variables["data_after_mac"]
		if !ok {
			return nil, errors.New("bpf: socket filter object has no data_after_mac")
		}
		if err := v.Set(uint32(1)); err != nil {
			return nil, fmt.Errorf("bpf: set data_after_mac: %w", err)
		}
	}
	f := &Filter{}
	if err := spec.LoadAndAssign(&f.objs, nil); err != nil {
		return nil, loadError(err)
	}
	return f, nil
}

// loadError turns the kernel's refusal into an error a user can act on.
func loadError(err error) error {
	switch {
	case errors.Is(err, unix.EPERM) || errors.Is(err, unix.EACCES):
		return fmt.Errorf("%w: %s: %w", ErrUnavailable, missingCapability(), err)
	case errors.Is(err, unix.ENOSYS) || errors.Is(err, ebpf.ErrNotSupported):
		return fmt.Errorf("%w: the kernel does not support eBPF socket filters: %w", ErrUnavailable, err)
	}
	return fmt.Errorf("bpf: load socket filter: %w", err)
}

// Linux capability numbers (linux/capability.h).
const (
	capSysAdmin = 21
	capBPF      = 39
)

// missingCapability names what the process lacks to load the filter, from
// its effective capability set and the unprivileged-BPF sysctl.
func missingCapability() string {
	hdr := unix.CapUserHeader{Version: unix.LINUX_CAPABILITY_VERSION_3}
	var data [2]unix.CapUserData
	if err := unix.Capget(&hdr, &data[0]); err != nil {
		return "cannot read the process capabilities (" + err.Error() + "); loading needs CAP_BPF or CAP_SYS_ADMIN"
	}
	has := func(c uint) bool { return data[c/32].Effective&(1<<(c%32)) != 0 }
	if !has(capBPF) && !has(capSysAdmin) {
		msg := "missing capability CAP_BPF (kernel 5.8 or later) or CAP_SYS_ADMIN"
		if b, err := os.ReadFile("/proc/sys/kernel/unprivileged_bpf_disabled"); err == nil && strings.TrimSpace(string(b)) != "0" {
			msg += "; kernel.unprivileged_bpf_disabled=" + strings.TrimSpace(string(b)) + " forbids eBPF without it"
		}
		return msg
	}
	return "permission denied although CAP_BPF or CAP_SYS_ADMIN is effective (a security module or seccomp policy may forbid bpf(2))"
}

// FD is the program's file descriptor, for SO_ATTACH_BPF (afpacket's
// SetEBPF). It is valid until Close; a socket it was attached to keeps the
// program alive on its own.
func (f *Filter) FD() int {
	f.mu.RLock()
	defer f.mu.RUnlock()
	if f.closed {
		return -1
	}
	return f.objs.SipFilter.FD()
}

// AllowPort makes the filter keep UDP packets to or from port, whatever
// their content: user space calls it for the media ports it reads in SDP, so
// that RTP the header heuristic misses (or encrypted, or odd) still arrives.
func (f *Filter) AllowPort(port uint16) error {
	f.mu.RLock()
	defer f.mu.RUnlock()
	if f.closed {
		return ErrClosed
	}
	if err := f.objs.LearnedPorts.Update(port, sipfilterPortFlagPORT_FLAG_SDP, ebpf.UpdateAny); err != nil {
		return fmt.Errorf("bpf: allow port %d: %w", port, err)
	}
	return nil
}

// ForgetPort undoes AllowPort, typically when the call that used the port
// ended. Forgetting a port that was never allowed is not an error.
func (f *Filter) ForgetPort(port uint16) error {
	f.mu.RLock()
	defer f.mu.RUnlock()
	if f.closed {
		return ErrClosed
	}
	if err := f.objs.LearnedPorts.Delete(port); err != nil && !errors.Is(err, ebpf.ErrKeyNotExist) {
		return fmt.Errorf("bpf: forget port %d: %w", port, err)
	}
	return nil
}

// Counters reads the per-CPU counters and sums them. After Close it returns
// the counts as they were when the filter was closed.
func (f *Filter) Counters() (Counters, error) {
	f.mu.RLock()
	defer f.mu.RUnlock()
	if f.closed {
		return f.final, nil
	}
	return f.readCounters()
}

func (f *Filter) readCounters() (Counters, error) {
	var c Counters
	slots := []struct {
		key sipfilterCounter
		dst *uint64
	}{
		{sipfilterCounterCOUNTER_SEEN, &c.Seen},
		{sipfilterCounterCOUNTER_SIP, &c.PassedSIP},
		{sipfilterCounterCOUNTER_RTP, &c.PassedRTP},
		{sipfilterCounterCOUNTER_LEARNED, &c.PassedLearned},
		{sipfilterCounterCOUNTER_FRAG, &c.PassedFrag},
		{sipfilterCounterCOUNTER_HEP, &c.PassedHEP},
		{sipfilterCounterCOUNTER_TUNNEL, &c.PassedTunnel},
		{sipfilterCounterCOUNTER_DROPPED, &c.Dropped},
	}
	var perCPU []uint64
	for _, s := range slots {
		if err := f.objs.Counters.Lookup(s.key, &perCPU); err != nil {
			return Counters{}, fmt.Errorf("bpf: read counter %d: %w", s.key, err)
		}
		var sum uint64
		for _, v := range perCPU {
			sum += v
		}
		*s.dst = sum
	}
	return c, nil
}

// Close unloads the program and its maps (sockets it is attached to keep
// their reference). It is safe to call more than once.
func (f *Filter) Close() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.closed {
		return nil
	}
	if c, err := f.readCounters(); err == nil {
		f.final = c
	}
	f.closed = true
	return f.objs.Close()
}
