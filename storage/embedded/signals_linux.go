//go:build linux && (amd64 || arm64)

package embedded

import (
	"fmt"
	"syscall"
	"unsafe"
)

// crashSignals are the signals whose handlers chDB replaces when it
// connects. Go turns the synchronous ones into panics (nil dereference,
// division by zero); with the engine's handlers in place such a panic hangs
// the process instead. SIGTSTP is in the engine's list too: putting it back
// keeps Ctrl-Z job control normal. SIGRTMIN is not here on purpose: the
// engine uses it to collect thread stacks, and Go never handled it.
var crashSignals = [...]syscall.Signal{
	syscall.SIGSEGV, syscall.SIGBUS, syscall.SIGFPE, syscall.SIGILL,
	syscall.SIGABRT, syscall.SIGTRAP, syscall.SIGSYS, syscall.SIGTSTP,
}

// kernelSigaction is struct sigaction as the rt_sigaction system call sees
// it on amd64 and arm64 (not libc's layout): handler, flags, restorer, mask.
type kernelSigaction struct {
	handler  uintptr
	flags    uint64
	restorer uintptr
	mask     uint64
}

// sigsetSize is the kernel's sigset_t size the system call requires.
const sigsetSize = 8

// signalHandlers is a snapshot of the handlers of crashSignals.
type signalHandlers [len(crashSignals)]kernelSigaction

// saveSignalHandlers reads the current handlers without changing them. The
// raw system call is used because os/signal has no way to read a handler,
// and libc is not in this (cgo-free) process's picture.
func saveSignalHandlers() (signalHandlers, error) {
	var s signalHandlers
	for i, sig := range crashSignals {
		_, _, errno := syscall.RawSyscall6(syscall.SYS_RT_SIGACTION, uintptr(sig),
			0, uintptr(unsafe.Pointer(&s[i])), sigsetSize, 0, 0)
		if errno != 0 {
			return s, fmt.Errorf("%w: read %v: %w", ErrSignals, sig, errno)
		}
	}
	return s, nil
}

// restore installs the saved handlers again, exactly as they were (flags,
// restorer and mask included, which Go's handler depends on).
func (s *signalHandlers) restore() error {
	for i, sig := range crashSignals {
		_, _, errno := syscall.RawSyscall6(syscall.SYS_RT_SIGACTION, uintptr(sig),
			uintptr(unsafe.Pointer(&s[i])), 0, sigsetSize, 0, 0)
		if errno != 0 {
			return fmt.Errorf("%w: restore %v: %w", ErrSignals, sig, errno)
		}
	}
	return nil
}
