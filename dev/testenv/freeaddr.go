package testenv

import (
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"testing"
)

// FreeAddr returns a loopback address, such as "127.0.0.1:27123", that no one
// listens on now, for a server the test starts next to bind, perhaps more
// than once (a restarted shop keeps its addresses).
//
// The port is taken below the kernel's ephemeral range, never from a listen
// on port 0: a port the kernel handed out once it hands out again, so the
// embedded stores of the very process the test starts (they listen on
// "127.0.0.1:0") could take it first. Below the range only another FreeAddr
// can pick the same port, one chance in thousands. A server that can listen
// on "127.0.0.1:0" and say what it bound (as Serve's RunFunc does) has no such
// race at all. It fails t if no port is free.
func FreeAddr(t testing.TB) string {
	t.Helper()
	low, high := portsBelowEphemeral()
	for range 100 {
		addr := fmt.Sprintf("127.0.0.1:%d", low+rand.IntN(high-low+1))
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			continue // taken; try another
		}
		ln.Close()
		return addr
	}
	t.Fatalf("testenv: no free port in %d-%d after 100 tries", low, high)
	return ""
}

// portsBelowEphemeral is the range FreeAddr picks from: up to 12,000 ports
// just below the first ephemeral one (Linux's default range starts at 32768).
func portsBelowEphemeral() (low, high int) {
	first := 32768
	if b, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range"); err == nil {
		var last int
		if n, _ := fmt.Sscan(string(b), &first, &last); n != 2 {
			first = 32768
		}
	}
	high = first - 1
	low = max(high-12000, 10000)
	if low >= high { // an unusual range: any unprivileged port will do
		low, high = 10000, 60000
	}
	return low, high
}
