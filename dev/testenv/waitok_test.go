package testenv

import (
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

type stringLog string

func (s stringLog) String() string { return string(s) }

func TestWaitOK(t *testing.T) {
	// unready answers 503 to its first n requests, then 200.
	unready := func(n int32) string {
		var seen atomic.Int32
		s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			if seen.Add(1) <= n {
				w.WriteHeader(http.StatusServiceUnavailable)
			}
		}))
		t.Cleanup(s.Close)
		return s.URL
	}
	// hangs accepts and never answers.
	hangs := httptest.NewServer(http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) { <-r.Context().Done() }))
	t.Cleanup(hangs.Close)
	ended := func(err error) chan error {
		c := make(chan error, 1)
		c <- err
		return c
	}
	tests := []struct {
		name     string
		url      string
		within   time.Duration
		done     chan error
		logs     fmt.Stringer
		failed   bool
		messages []string // in the failure
	}{
		{name: "ready at once", url: unready(0), within: 5 * time.Second},
		{name: "ready after a few polls", url: unready(3), within: 5 * time.Second},
		{name: "ready, though the server ended meanwhile", url: unready(0), within: 5 * time.Second, done: ended(nil)},
		{
			name: "never ready: the deadline", url: unready(1 << 30), within: 300 * time.Millisecond, logs: stringLog("starting…"),
			failed: true, messages: []string{"did not answer 200 by the deadline", "503 Service Unavailable", "starting…"},
		},
		{
			name: "nobody listens: the deadline", url: "http://" + FreeAddr(t) + "/readyz", within: 300 * time.Millisecond,
			failed: true, messages: []string{"did not answer 200 by the deadline", "connection refused"},
		},
		{
			name: "answers nothing: the deadline", url: hangs.URL, within: 300 * time.Millisecond,
			failed: true, messages: []string{"did not answer 200 by the deadline", "deadline exceeded"},
		},
		{
			name: "the server ended first", url: unready(1 << 30), within: 10 * time.Second, done: ended(errors.New("listen: address in use")), logs: stringLog("bye"),
			failed: true, messages: []string{"the server ended (listen: address in use)", "503 Service Unavailable", "bye"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := &outcome{TB: t}
			start := time.Now()
			o.run(func(tb testing.TB) { WaitOK(tb, tt.url, time.Now().Add(tt.within), tt.done, tt.logs) })
			if o.failed != tt.failed {
				t.Fatalf("WaitOK failed the test: %v (%q), want %v", o.failed, o.msg, tt.failed)
			}
			for _, m := range tt.messages {
				if !strings.Contains(o.msg, m) {
					t.Errorf("failure %q does not say %q", o.msg, m)
				}
			}
			if tt.done != nil && len(tt.done) != 1 {
				t.Errorf("WaitOK kept the value it took from done; a cleanup waiting on done would hang")
			}
			if took := time.Since(start); took > tt.within+2*time.Second {
				t.Errorf("WaitOK took %v, past its deadline of %v", took, tt.within)
			}
		})
	}
}
