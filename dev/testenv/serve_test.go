package testenv

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
)

func TestServeRunsUntilStopped(t *testing.T) {
	run := func(ctx context.Context, stdout io.Writer, onListen func(net.Addr)) error {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return err
		}
		srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			_, _ = io.WriteString(w, "hello")
		})}
		onListen(ln.Addr())
		go func() { <-ctx.Done(); srv.Close() }()
		if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
			return err
		}
		return nil
	}
	s := Serve(t, run)
	resp, err := http.Get(s.URL)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(body) != "hello" {
		t.Errorf("body = %q", body)
	}
	if err := s.Stop(); err != nil {
		t.Errorf("Stop = %v", err)
	}
	if err := s.Stop(); err != nil {
		t.Errorf("second Stop = %v", err)
	}
	if _, err := http.Get(s.URL); err == nil {
		t.Error("the service still answers after Stop")
	}
}

func TestServeFailsARunThatEndsBeforeListening(t *testing.T) {
	o := &outcome{TB: t}
	o.run(func(tb testing.TB) {
		Serve(tb, func(context.Context, io.Writer, func(net.Addr)) error {
			return errors.New("listen: address in use")
		})
	})
	if !o.failed || !strings.Contains(o.msg, "returned before listening: listen: address in use") {
		t.Fatalf("Serve of a Run that failed at once: failed=%v %q, want a failure naming Run's error", o.failed, o.msg)
	}
	// Serve's cleanup runs after this on t itself: it must neither wait for
	// the Run that already returned nor report it a second time.
}
