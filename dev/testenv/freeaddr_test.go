package testenv

import (
	"math/rand/v2"
	"net"
	"os"
	"path/filepath"
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

// A port handed out once is never handed out again while the process lives,
// though nothing listens on it yet (a shop binds its ports seconds later).
func TestFreeAddrNeverRepeatsAPort(t *testing.T) {
	seen := make(map[string]bool)
	for range 300 {
		addr := FreeAddr(t)
		if seen[addr] {
			t.Fatalf("FreeAddr handed out %s twice", addr)
		}
		seen[addr] = true
	}
}

// A port another process has reserved (its lock file held) is skipped: with
// two of three ports held elsewhere, only the third can come back.
func TestFreeAddrSkipsPortsReservedElsewhere(t *testing.T) {
	low := 10000 + rand.IntN(9000)
	dir := filepath.Join(os.TempDir(), "travluk-testenv-ports")
	if err := os.MkdirAll(dir, 0o777); err != nil {
		t.Fatal(err)
	}
	for _, port := range []int{low, low + 1} {
		// A lock taken through another open file conflicts as one from
		// another process would.
		lock, err := reserve(filepath.Join(dir, strconv.Itoa(port)))
		if err != nil {
			t.Fatalf("port %d is reserved already: %v", port, err)
		}
		defer lock.Close()
	}
	addr, err := freeAddrIn(low, low+2, 200)
	if err != nil {
		t.Fatal(err)
	}
	if want := "127.0.0.1:" + strconv.Itoa(low+2); addr != want {
		t.Fatalf("freeAddrIn = %s, want %s, the only port not reserved", addr, want)
	}
	if _, err := freeAddrIn(low, low+2, 50); err == nil {
		t.Fatal("freeAddrIn found a port in a range whose every port is reserved")
	}
}
