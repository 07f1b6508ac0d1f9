//go:build linux

package capture

import (
	"encoding/binary"
	"net"
	"unsafe"

	"golang.org/x/sys/unix"
)

// hepOOBLen is room for the control messages a HEP UDP read asks for: one
// SO_RXQ_OVFL counter (a 16-byte cmsghdr and 4 bytes of data, padded),
// with slack for anything else the kernel may add.
const hepOOBLen = 64

// setReadBuffer asks for size bytes of socket receive buffer. SO_RCVBUFFORCE
// ignores net.core.rmem_max but needs CAP_NET_ADMIN (root); without it
// SO_RCVBUF is used, which the kernel caps at rmem_max. It returns what the
// kernel granted as getsockopt(SO_RCVBUF) reports it: twice the bytes set,
// the other half being the kernel's bookkeeping.
func setReadBuffer(c *net.UDPConn, size int) (granted int, err error) {
	rc, err := c.SyscallConn()
	if err != nil {
		return 0, err
	}
	var serr error
	cerr := rc.Control(func(fd uintptr) {
		if unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_RCVBUFFORCE, size) != nil {
			serr = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_RCVBUF, size)
		}
		if serr == nil {
			granted, serr = unix.GetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_RCVBUF)
		}
	})
	if cerr != nil {
		return 0, cerr
	}
	return granted, serr
}

// enableDropCount asks the kernel to attach to every datagram read the
// number of datagrams this socket dropped so far (SO_RXQ_OVFL).
func enableDropCount(c *net.UDPConn) error {
	rc, err := c.SyscallConn()
	if err != nil {
		return err
	}
	var serr error
	if err := rc.Control(func(fd uintptr) {
		serr = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_RXQ_OVFL, 1)
	}); err != nil {
		return err
	}
	return serr
}

// rxqOverflow finds the SO_RXQ_OVFL counter in the control messages of one
// read. It parses them in place: unix.ParseSocketControlMessage would
// allocate on every datagram.
func rxqOverflow(oob []byte) (uint32, bool) {
	const hdr = unix.SizeofCmsghdr
	for len(oob) >= hdr {
		h := (*unix.Cmsghdr)(unsafe.Pointer(&oob[0]))
		l := int(h.Len)
		if l < hdr || l > len(oob) {
			return 0, false
		}
		if h.Level == unix.SOL_SOCKET && h.Type == unix.SO_RXQ_OVFL && l >= hdr+4 {
			return binary.NativeEndian.Uint32(oob[hdr:]), true
		}
		oob = oob[min(cmsgAlign(l), len(oob)):]
	}
	return 0, false
}

func cmsgAlign(n int) int {
	const a = int(unsafe.Sizeof(uintptr(0)))
	return (n + a - 1) &^ (a - 1)
}

// socketDrops reads the socket's drop counter now (SO_MEMINFO), the same
// counter SO_RXQ_OVFL reports with each datagram: it also covers the drops
// after the last datagram read.
func socketDrops(c *net.UDPConn) (uint32, bool) {
	rc, err := c.SyscallConn()
	if err != nil {
		return 0, false
	}
	var (
		info [unix.SK_MEMINFO_VARS]uint32
		ok   bool
	)
	if rc.Control(func(fd uintptr) {
		l := uint32(unsafe.Sizeof(info))
		_, _, e := unix.Syscall6(unix.SYS_GETSOCKOPT, fd, unix.SOL_SOCKET, unix.SO_MEMINFO,
			uintptr(unsafe.Pointer(&info[0])), uintptr(unsafe.Pointer(&l)), 0)
		ok = e == 0 && l > unix.SK_MEMINFO_DROPS*4
	}) != nil {
		return 0, false
	}
	return info[unix.SK_MEMINFO_DROPS], ok
}
