//go:build !linux

package capture

import (
	"errors"
	"net"
)

// hepOOBLen is 0: only Linux reports the socket's drops with each datagram.
const hepOOBLen = 0

var errNoDropCount = errors.New("capture: socket drop counts need Linux")

// setReadBuffer sets SO_RCVBUF; only Linux lets root go beyond the system
// maximum, and granted is the size asked for.
func setReadBuffer(c *net.UDPConn, size int) (granted int, err error) {
	return size, c.SetReadBuffer(size)
}

func enableDropCount(*net.UDPConn) error { return errNoDropCount }

func rxqOverflow([]byte) (uint32, bool) { return 0, false }

func socketDrops(*net.UDPConn) (uint32, bool) { return 0, false }
