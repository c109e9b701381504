package main

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"syscall"
	"testing"
	"time"
)

// TestHelperProcess is the pause program itself when the test runs its own binary.
func TestHelperProcess(t *testing.T) {
	if os.Getenv("PAUSE_HELPER") != "1" {
		return
	}
	os.Exit(run(func() { fmt.Println("ready") }))
}

// TestPauseEndsCleanlyOnSignal holds what the kubelet relies on: a SIGCHLD (a
// child ending in the pod) leaves the sandbox running, and SIGTERM or SIGINT end
// it with status 0 rather than by the signal's default action.
func TestPauseEndsCleanlyOnSignal(t *testing.T) {
	tests := []struct {
		name    string
		signals []syscall.Signal
	}{
		{"SIGTERM", []syscall.Signal{syscall.SIGTERM}},
		{"SIGINT", []syscall.Signal{syscall.SIGINT}},
		{"SIGCHLD then SIGTERM", []syscall.Signal{syscall.SIGCHLD, syscall.SIGCHLD, syscall.SIGTERM}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			cmd := exec.Command(os.Args[0], "-test.run=^TestHelperProcess$")
			cmd.Env = append(os.Environ(), "PAUSE_HELPER=1")
			stdout, err := cmd.StdoutPipe()
			if err != nil {
				t.Fatal(err)
			}
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			if line, err := bufio.NewReader(stdout).ReadString('\n'); err != nil || line != "ready\n" {
				t.Fatalf("first line %q, %v; want ready", line, err)
			}
			for _, sig := range tt.signals {
				if err := cmd.Process.Signal(sig); err != nil {
					t.Fatalf("send %v: %v", sig, err)
				}
			}
			exited := make(chan error, 1)
			go func() { exited <- cmd.Wait() }()
			select {
			case err := <-exited:
				if err != nil {
					t.Fatalf("exit: %v, want status 0", err)
				}
			case <-time.After(10 * time.Second):
				_ = cmd.Process.Kill()
				t.Fatal("still running 10 s after the last signal")
			}
		})
	}
}
