package testenv

import (
	"context"
	"fmt"
	"io"
	"net"
	"sync"
	"testing"
	"time"
)

// RunFunc runs a service until ctx ends: it writes its logs to stdout and
// calls onListen once with the address it bound.
type RunFunc func(ctx context.Context, stdout io.Writer, onListen func(net.Addr)) error

// Server is a service that a test runs in-process with Serve.
type Server struct {
	// URL is "http://" and the address the service listens on.
	URL  string
	stop func() error
}

// Stop ends the service and waits up to 20 s for it to return; it returns
// what the service returned. Calling it again returns the same; the test's
// cleanup calls it too.
func (s *Server) Stop() error { return s.stop() }

// Serve runs run in the background and waits, up to 90 s, until it listens.
// When the test ends it stops the service, fails the test if the service
// returned an error, and prints the service's logs if the test failed.
func Serve(t testing.TB, run RunFunc) *Server {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	logs := &LogBuffer{}
	addr := make(chan net.Addr, 1)
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, logs, func(a net.Addr) { addr <- a })
	}()
	var (
		once    sync.Once
		stopErr error
	)
	stop := func() error {
		once.Do(func() {
			cancel()
			select {
			case stopErr = <-done:
			case <-time.After(20 * time.Second):
				stopErr = fmt.Errorf("the service did not return within 20s of cancel")
			}
		})
		return stopErr
	}
	t.Cleanup(func() {
		if err := stop(); err != nil {
			t.Errorf("Run: %v", err)
		}
		if t.Failed() {
			t.Logf("service log:\n%s", logs.String())
		}
	})
	select {
	case a := <-addr:
		return &Server{URL: "http://" + a.String(), stop: stop}
	case err := <-done:
		// Run has returned: the cleanup must not wait for it again.
		once.Do(cancel)
		t.Fatalf("Run returned before listening: %v\n%s", err, logs.String())
	case <-time.After(90 * time.Second):
		t.Fatalf("service did not listen within 90s\n%s", logs.String())
	}
	return nil
}
