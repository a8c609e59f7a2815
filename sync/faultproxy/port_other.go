//go:build !linux

package faultproxy

import "net"

// port is the proxy's port. Elsewhere than on Linux it is not held while
// the proxy refuses connections: a listener closed by Refuse releases it,
// and Heal fails (ErrListen) if it was taken meanwhile.
type port struct {
	addr  string
	first net.Listener // the listener that found the port, until listen takes it
}

func reservePort() (*port, error) {
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	return &port{addr: ln.Addr().String(), first: ln}, nil
}

func (p *port) listen() (net.Listener, error) {
	if ln := p.first; ln != nil {
		p.first = nil
		return ln, nil
	}
	return net.Listen("tcp4", p.addr)
}

func (p *port) release() {
	if p.first != nil {
		p.first.Close()
	}
}
