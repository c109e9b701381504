package testenv

import (
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
)

// FreeAddr returns a loopback address, such as "127.0.0.1:27123", that no one
// listens on now, for a server the test starts next to bind, perhaps more
// than once (a restarted shop keeps its addresses).
//
// The port is taken below the kernel's ephemeral range, never from a listen
// on port 0: a port the kernel handed out once it hands out again, so the
// embedded stores of the very process the test starts (they listen on
// "127.0.0.1:0") could take it first. Nor can another FreeAddr hand out the
// same port while this test process lives, in this process or in another
// (go test runs packages side by side, and a shop binds its ports seconds
// after they are chosen, as CI's TestCrashInProcessBus met): each port is
// reserved with a lock file that the kernel releases when the process ends.
// A server that can listen on "127.0.0.1:0" and say what it bound (as
// Serve's RunFunc does) needs none of this. It fails t if no port is free.
func FreeAddr(t testing.TB) string {
	t.Helper()
	low, high := portsBelowEphemeral()
	addr, err := freeAddrIn(low, high, 100)
	if err != nil {
		t.Fatal(err)
	}
	return addr
}

// reserved holds the lock files of the ports this process has handed out,
// open until it exits.
var reserved struct {
	sync.Mutex
	ports map[int]*os.File
}

// freeAddrIn picks a port in [low, high] that no one listens on and no
// FreeAddr of any process on this machine has reserved.
func freeAddrIn(low, high, tries int) (string, error) {
	reserved.Lock()
	defer reserved.Unlock()
	if reserved.ports == nil {
		reserved.ports = make(map[int]*os.File)
	}
	dir := filepath.Join(os.TempDir(), "travluk-testenv-ports")
	if err := os.MkdirAll(dir, 0o777); err != nil {
		return "", fmt.Errorf("testenv: port reservations: %w", err)
	}
	for range tries {
		port := low + rand.IntN(high-low+1)
		if reserved.ports[port] != nil {
			continue
		}
		lock, err := reserve(filepath.Join(dir, fmt.Sprint(port)))
		if err != nil {
			continue // another process holds it
		}
		addr := fmt.Sprintf("127.0.0.1:%d", port)
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			lock.Close() // taken by someone else; try another
			continue
		}
		ln.Close()
		reserved.ports[port] = lock
		return addr, nil
	}
	return "", fmt.Errorf("testenv: no free port in %d-%d after %d tries", low, high, tries)
}

// reserve opens path and takes an exclusive lock on it without waiting.
func reserve(path string) (*os.File, error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o666)
	if err != nil {
		return nil, err
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		return nil, err
	}
	return f, nil
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
