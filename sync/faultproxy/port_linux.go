//go:build linux

package faultproxy

import (
	"context"
	"fmt"
	"net"
	"syscall"

	"golang.org/x/sys/unix"
)

// port is the proxy's port, held for the proxy's whole life. Refuse must
// close the listening socket (only a port with no listener answers a
// connection attempt with a RST, which the client reports as
// ECONNREFUSED), but a released port can be taken meanwhile, as the
// ephemeral source port of any other connection on the machine, and then
// Heal cannot listen again. So a second socket, bound to the port and
// never listening, keeps it: bound sockets are never chosen as ephemeral
// ports nor bound by others, yet connecting to a port with no listener is
// still refused. Both sockets set SO_REUSEPORT, which lets the listener
// share the port with its holder and nobody else (it must be set on every
// socket of the port, by the same user).
type port struct {
	addr string
	fd   int // the holder: bound, never listening
}

// reservePort binds the holder to a free loopback port.
func reservePort() (*port, error) {
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("reserve a port: socket: %w", err)
	}
	if err := unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_REUSEPORT, 1); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("reserve a port: SO_REUSEPORT: %w", err)
	}
	if err := unix.Bind(fd, &unix.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}}); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("reserve a port: bind: %w", err)
	}
	sa, err := unix.Getsockname(fd)
	if err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("reserve a port: getsockname: %w", err)
	}
	in, ok := sa.(*unix.SockaddrInet4)
	if !ok {
		unix.Close(fd)
		return nil, fmt.Errorf("reserve a port: bound to %T", sa)
	}
	return &port{addr: fmt.Sprintf("127.0.0.1:%d", in.Port), fd: fd}, nil
}

// listen opens a listener on the reserved port beside its holder.
func (p *port) listen() (net.Listener, error) {
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

// release gives the port back.
func (p *port) release() { unix.Close(p.fd) }
