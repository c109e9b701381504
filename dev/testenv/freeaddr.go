package testenv

import (
	"net"
	"testing"
)

// FreeAddr returns a loopback address, such as "127.0.0.1:40123", that no one
// listens on now, for a server the test starts next to bind. It is free only
// when FreeAddr returns: another process may take it before the server binds
// it, which is rare enough for a test but can make one fail. A server that can
// listen on "127.0.0.1:0" and say what it bound (as Serve's RunFunc does) has
// no such race. It fails t if it cannot listen.
func FreeAddr(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("testenv: free address: %v", err)
	}
	defer ln.Close()
	return ln.Addr().String()
}
