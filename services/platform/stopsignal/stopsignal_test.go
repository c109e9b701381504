package stopsignal_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"syscall"
	"testing"
	"time"

	"github.com/travluk/ecom/services/platform/stopsignal"
)

// helperEnv, when set, makes the test binary act as a program that stops
// gracefully: it waits for stopsignal.Context to end, then "drains" for a
// minute before exiting 0.
const helperEnv = "STOPSIGNAL_TEST_HELPER"

func TestMain(m *testing.M) {
	if os.Getenv(helperEnv) == "1" {
		ctx, stop := stopsignal.Context(context.Background())
		defer stop()
		fmt.Println("ready")
		<-ctx.Done()
		fmt.Println("draining")
		time.Sleep(time.Minute)
		fmt.Println("drained")
		return
	}
	os.Exit(m.Run())
}

// program is one run of the helper.
type program struct {
	cmd    *exec.Cmd
	lines  chan string
	exited chan error
}

func startProgram(t *testing.T) *program {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), helperEnv+"=1")
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &program{cmd: cmd, lines: make(chan string, 10), exited: make(chan error, 1)}
	go func() {
		s := bufio.NewScanner(out)
		for s.Scan() {
			p.lines <- s.Text()
		}
		_, _ = io.Copy(io.Discard, out)
		p.exited <- cmd.Wait()
	}()
	t.Cleanup(func() { _ = cmd.Process.Kill() })
	return p
}

// await fails t unless the program prints want within 5 s.
func (p *program) await(t *testing.T, want string) {
	t.Helper()
	select {
	case got := <-p.lines:
		if got != want {
			t.Fatalf("program printed %q, want %q", got, want)
		}
	case <-time.After(5 * time.Second):
		t.Fatalf("program did not print %q within 5 s", want)
	}
}

func (p *program) signal(t *testing.T, sig syscall.Signal) {
	t.Helper()
	if err := p.cmd.Process.Signal(sig); err != nil {
		t.Fatal(err)
	}
}

// TestSecondSignalEndsTheDrain: the first signal starts the graceful stop,
// which the second cuts short: the process is ended by that signal within
// seconds instead of draining for its minute.
func TestSecondSignalEndsTheDrain(t *testing.T) {
	for _, sig := range []syscall.Signal{syscall.SIGINT, syscall.SIGTERM} {
		t.Run(sig.String(), func(t *testing.T) {
			p := startProgram(t)
			p.await(t, "ready")
			p.signal(t, sig)
			p.await(t, "draining")
			select {
			case err := <-p.exited:
				t.Fatalf("program exited during the drain before a second signal: %v", err)
			case <-time.After(200 * time.Millisecond):
			}
			p.signal(t, sig)
			select {
			case err := <-p.exited:
				var exit *exec.ExitError
				if !errors.As(err, &exit) {
					t.Fatalf("program exited with %v, want ended by %v", err, sig)
				}
				if ws := exit.Sys().(syscall.WaitStatus); !ws.Signaled() || ws.Signal() != sig {
					t.Errorf("program exit status %v, want ended by %v", ws, sig)
				}
			case <-time.After(5 * time.Second):
				t.Fatalf("program still draining 5 s after the second %v", sig)
			}
		})
	}
}

// TestContextEndsWithItsParent: without a signal, the context ends when
// its parent does, and stop ends it too.
func TestContextEndsWithItsParent(t *testing.T) {
	parent, cancel := context.WithCancel(t.Context())
	ctx, stop := stopsignal.Context(parent)
	defer stop()
	if ctx.Err() != nil {
		t.Fatal("context ended before its parent")
	}
	cancel()
	select {
	case <-ctx.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("context did not end with its parent")
	}
	ctx2, stop2 := stopsignal.Context(t.Context())
	stop2()
	if ctx2.Err() == nil {
		t.Error("context still live after stop")
	}
}
