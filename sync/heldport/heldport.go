// Package heldport keeps loopback TCP ports for servers that stop and
// start listening on the same address: a platform taken away for an
// outage and brought back, a daemon killed and restarted.
//
// A port that nobody holds can be taken in between: by another server, or
// as the ephemeral source port of any outgoing connection on the machine,
// and the restart then fails with "address already in use". Tests that
// run beside many others must never fail that way, so:
//
//   - Reserve holds a port for a server in this process (Linux: a second
//     socket bound to it that never listens; see Port);
//   - Static draws a port for a server in a child process, which must bind
//     the port itself at each start: below the kernel's ephemeral range, so
//     no outgoing connection can take it.
package heldport

import (
	"bufio"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"strconv"
	"strings"
)

// Addr is the port's loopback address, host:port.
func (p *Port) Addr() string { return p.addr }

// Listen opens a listener on the held port. Only one may be open at a
// time; close it before listening again.
func (p *Port) Listen() (net.Listener, error) {
	ln, err := p.listen()
	if err != nil {
		return nil, fmt.Errorf("listen on held port %s: %w", p.addr, err)
	}
	return ln, nil
}

// Close gives the port back. Listeners opened on it are not closed.
func (p *Port) Close() error { return p.release() }

// ephemeralRange is where Linux reads the ports it gives outgoing
// connections.
const ephemeralRange = "/proc/sys/net/ipv4/ip_local_port_range"

// Static returns a loopback address whose port is free now and lies below
// the ephemeral range (Linux's default range starts at 32768; the range
// configured on the machine is read), drawn from rng so that processes
// drawing at the same time rarely meet. It is checked by binding it once.
func Static(rng *rand.Rand) (string, error) {
	lo, hi := 20000, 32000
	if start, ok := ephemeralStart(); ok && start <= hi {
		hi = start
		lo = max(1024, hi-12000)
	}
	if hi <= lo {
		return "", fmt.Errorf("static port: no room below the ephemeral range (starts at %d)", hi)
	}
	var last error
	for range 50 {
		addr := "127.0.0.1:" + strconv.Itoa(lo+rng.IntN(hi-lo))
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			last = err
			continue
		}
		return addr, ln.Close()
	}
	return "", fmt.Errorf("static port: none free below the ephemeral range: %w", last)
}

func ephemeralStart() (int, bool) {
	f, err := os.Open(ephemeralRange)
	if err != nil {
		return 0, false
	}
	defer f.Close()
	line, err := bufio.NewReader(f).ReadString('\n')
	if err != nil {
		return 0, false
	}
	fields := strings.Fields(line)
	if len(fields) != 2 {
		return 0, false
	}
	n, err := strconv.Atoi(fields[0])
	return n, err == nil
}
