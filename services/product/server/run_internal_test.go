package server

import (
	"context"
	"sync/atomic"
	"testing"
	"time"
)

// TestGoUntilStoppedJoinsTheLoop: stop returns only after the loop has
// returned, even when the loop is slow to notice its context ending (a
// cache repair in flight), so that what is closed after stop is no longer
// in use.
func TestGoUntilStoppedJoinsTheLoop(t *testing.T) {
	var returned atomic.Bool
	stop := goUntilStopped(t.Context(), func(ctx context.Context) {
		<-ctx.Done()
		time.Sleep(50 * time.Millisecond) // finishing a Redis call
		returned.Store(true)
	})
	finished := make(chan struct{})
	go func() {
		stop()
		close(finished)
	}()
	select {
	case <-finished:
	case <-time.After(5 * time.Second):
		t.Fatal("stop did not return within 5 s: the loop's context was not cancelled")
	}
	if !returned.Load() {
		t.Error("stop returned before the loop did")
	}
}
