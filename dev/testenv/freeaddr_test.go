package testenv

import (
	"net"
	"strconv"
	"testing"
)

func TestFreeAddrCanBeBound(t *testing.T) {
	addr := FreeAddr(t)
	host, port, err := net.SplitHostPort(addr)
	if err != nil || host != "127.0.0.1" || port == "0" {
		t.Fatalf("FreeAddr() = %q, want 127.0.0.1 and a port (%v)", addr, err)
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatalf("a server cannot listen on FreeAddr() = %s: %v", addr, err)
	}
	ln.Close()
}

// The shop's embedded stores listen on port 0; a FreeAddr port must be one
// such a listen can never be handed, or the shop's own FerretDB may take the
// order service's address (as happened in CI).
func TestFreeAddrIsNeverAnEphemeralPort(t *testing.T) {
	ephemeral := make(map[string]bool)
	for range 200 {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		_, port, _ := net.SplitHostPort(ln.Addr().String())
		ephemeral[port] = true
		defer ln.Close()
	}
	_, high := portsBelowEphemeral()
	for range 200 {
		addr := FreeAddr(t)
		_, port, _ := net.SplitHostPort(addr)
		if ephemeral[port] {
			t.Fatalf("FreeAddr() = %s, a port a listen on port 0 was given", addr)
		}
		if p, _ := strconv.Atoi(port); p > high {
			t.Fatalf("FreeAddr() = %s, want a port at most %d, below the ephemeral range", addr, high)
		}
	}
}
