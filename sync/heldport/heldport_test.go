//go:build linux

package heldport_test

import (
	"errors"
	"math/rand/v2"
	"net"
	"strconv"
	"syscall"
	"testing"

	"github.com/seed-a859fada/medterm/sync/heldport"
)

// TestAHeldPortIsRefusedAndTakenByNobodyBetweenListeners: between two
// listeners, connecting is refused (an outage, not a hang), and no other
// socket can take the port, neither a server binding it nor a client whose
// local port it would be (as an ephemeral port can be for any connection
// on the machine), so the next Listen always works.
func TestAHeldPortIsRefusedAndTakenByNobodyBetweenListeners(t *testing.T) {
	p, err := heldport.Reserve()
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	other, err := net.Listen("tcp", "127.0.0.1:0") // somewhere to dial from the held port
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	for round := range 3 {
		ln, err := p.Listen()
		if err != nil {
			t.Fatalf("round %d: %v", round, err)
		}
		c, err := net.Dial("tcp", p.Addr())
		if err != nil {
			t.Fatalf("round %d: dial while listening: %v", round, err)
		}
		c.Close()
		ln.Close()

		if _, err := net.Dial("tcp", p.Addr()); !errors.Is(err, syscall.ECONNREFUSED) {
			t.Fatalf("round %d: dial between listeners: %v, want ECONNREFUSED", round, err)
		}
		if ln, err := net.Listen("tcp", p.Addr()); !errors.Is(err, syscall.EADDRINUSE) {
			if err == nil {
				ln.Close()
			}
			t.Fatalf("round %d: another server listening on the held port: %v, want EADDRINUSE", round, err)
		}
		local, err := net.ResolveTCPAddr("tcp", p.Addr())
		if err != nil {
			t.Fatal(err)
		}
		d := net.Dialer{LocalAddr: local}
		if c, err := d.Dial("tcp", other.Addr().String()); err == nil {
			c.Close()
			t.Fatalf("round %d: a client connection used the held port as its own", round)
		}
	}
}

func TestCloseGivesThePortBack(t *testing.T) {
	p, err := heldport.Reserve()
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", p.Addr())
	if err != nil {
		t.Fatalf("listen on a released port: %v", err)
	}
	ln.Close()
}

func TestStaticPortsLieBelowTheEphemeralRange(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for range 20 {
		addr, err := heldport.Static(rng)
		if err != nil {
			t.Fatal(err)
		}
		_, port, _ := net.SplitHostPort(addr)
		n, _ := strconv.Atoi(port)
		if n < 1024 || n >= 32768 {
			t.Fatalf("static port %d is not below the default ephemeral range", n)
		}
	}
}
