// Package stopsignal gives a program the usual stop behaviour: the first
// SIGINT or SIGTERM asks for a graceful stop (a drain of requests in
// flight, the wait for the next readiness probe), and a second one ends
// the process at once, as Ctrl-C twice does in most command-line tools.
package stopsignal

import (
	"context"
	"os"
	"os/signal"
	"syscall"
)

// Context returns a context that ends at the first SIGINT or SIGTERM (or
// when parent ends, or stop is called). Once it has ended, those signals
// have their default effect again: a second one terminates the process
// without waiting for the graceful stop. Call stop when done, as with
// signal.NotifyContext.
func Context(parent context.Context) (ctx context.Context, stop context.CancelFunc) {
	ctx, cancel := context.WithCancel(parent)
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	go func() {
		select {
		case <-sigs:
		case <-ctx.Done():
		}
		// Stopped before ctx is cancelled, so that whoever sees ctx end
		// (a drain) can already be ended by the next signal.
		signal.Stop(sigs)
		cancel()
	}()
	return ctx, cancel
}
