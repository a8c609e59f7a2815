//go:build linux

package heldport

import (
	"context"
	"fmt"
	"net"
	"syscall"

	"golang.org/x/sys/unix"
)

// Port is a loopback port held until Close. A server taken away must close
// its listening socket (only a port with no listener answers a connection
// attempt with a RST, which the client reports as ECONNREFUSED: the
// outage a test wants), so a second socket, bound to the port and never
// listening, holds it: bound ports are never chosen as ephemeral ports nor
// bound by others, yet connecting to a port with no listener is refused.
// Both sockets set SO_REUSEPORT, which lets the listener share the port
// with its holder and with nobody else (it must be set on every socket of
// the port, by the same user).
type Port struct {
	addr string
	fd   int // the holder: bound, never listening
}

// Reserve holds a free loopback port.
func Reserve() (*Port, error) {
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("reserve a loopback port: socket: %w", err)
	}
	if err := unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_REUSEPORT, 1); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("reserve a loopback port: SO_REUSEPORT: %w", err)
	}
	if err := unix.Bind(fd, &unix.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}}); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("reserve a loopback port: bind: %w", err)
	}
	sa, err := unix.Getsockname(fd)
	if err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("reserve a loopback port: getsockname: %w", err)
	}
	in, ok := sa.(*unix.SockaddrInet4)
	if !ok {
		unix.Close(fd)
		return nil, fmt.Errorf("reserve a loopback port: bound to %T", sa)
	}
	return &Port{addr: fmt.Sprintf("127.0.0.1:%d", in.Port), fd: fd}, nil
}

// listen opens a listener beside the holder.
func (p *Port) listen() (net.Listener, error) {
	lc := net.ListenConfig{Control: func(_, _ string, c syscall.RawConn) error {
		var serr error
		if err := c.Control(func(fd uintptr) {
			serr = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_REUSEPORT, 1)
		}); err != nil {
			return err
		}
		return serr
	}}
	return lc.Listen(context.Background(), "tcp4", p.addr)
}

func (p *Port) release() error { return unix.Close(p.fd) }
