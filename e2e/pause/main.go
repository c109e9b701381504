// Command pause is the sandbox ("pause") container of the e2e cluster: it holds a
// pod's namespaces open and does nothing until it is told to stop. No image can be
// pulled here, so containerd's sandbox_image is this program, built statically and
// packed with buildah.
package main

import (
	"os"
	"os/signal"
	"syscall"
)

func main() {
	os.Exit(run(func() {}))
}

// run waits for SIGTERM or SIGINT and returns the exit status; ready is called once
// the signals are caught. As PID 1 of the sandbox it also reaps children that exit
// inside it, which SIGCHLD announces.
func run(ready func()) int {
	signals := make(chan os.Signal, 4)
	signal.Notify(signals, syscall.SIGTERM, syscall.SIGINT, syscall.SIGCHLD)
	ready()
	for sig := range signals {
		if sig != syscall.SIGCHLD {
			return 0
		}
		reapChildren()
	}
	return 0
}

func reapChildren() {
	for {
		var status syscall.WaitStatus
		pid, err := syscall.Wait4(-1, &status, syscall.WNOHANG, nil)
		if pid <= 0 || err != nil {
			return
		}
	}
}
