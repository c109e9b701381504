package testenv

import (
	"context"
	"fmt"
	"net/http"
	"testing"
	"time"
)

// WaitOK polls url until it answers 200 OK, as a test waits for a server it
// started to be ready. It fails t when deadline passes first, or when done
// yields first: the server ended (done carries what it returned, such as the
// error of a Run). With a nil done only the deadline ends the wait. logs,
// when not nil, is what the server wrote, and the failure prints it. A value
// WaitOK takes from done it puts back before failing (done is buffered), so
// the caller's cleanup, waiting for the server to end, sees it at once.
func WaitOK(t testing.TB, url string, deadline time.Time, done chan error, logs fmt.Stringer) {
	t.Helper()
	// A request in flight when the deadline passes ends then too: a server
	// that accepts and never answers does not hold the test.
	ctx, cancel := context.WithDeadline(context.Background(), deadline)
	defer cancel()
	for {
		last := get(ctx, url)
		if last == "" {
			return
		}
		select {
		case err := <-done:
			select {
			case done <- err:
			default:
			}
			t.Fatalf("testenv: the server ended (%v) before %s answered 200 (last: %s)%s", err, url, last, logSuffix(logs))
		case <-ctx.Done():
			t.Fatalf("testenv: %s did not answer 200 by the deadline (last: %s)%s", url, last, logSuffix(logs))
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// get returns "" if url answers 200, else its status or the error.
func get(ctx context.Context, url string) string {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err.Error()
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err.Error()
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return resp.Status
	}
	return ""
}

func logSuffix(logs fmt.Stringer) string {
	if logs == nil {
		return ""
	}
	return "; its log:\n" + logs.String()
}
