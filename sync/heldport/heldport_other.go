//go:build !linux

package heldport

import "net"

// Port is a loopback port. Elsewhere than on Linux it is not held between
// listeners: closing one releases the port, and the next Listen fails if
// it was taken meanwhile.
type Port struct {
	addr  string
	first net.Listener // the listener that found the port, until listen takes it
}

// Reserve finds a free loopback port.
func Reserve() (*Port, error) {
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	return &Port{addr: ln.Addr().String(), first: ln}, nil
}

func (p *Port) listen() (net.Listener, error) {
	if ln := p.first; ln != nil {
		p.first = nil
		return ln, nil
	}
	return net.Listen("tcp4", p.addr)
}

func (p *Port) release() error {
	if p.first != nil {
		return p.first.Close()
	}
	return nil
}
