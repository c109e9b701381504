// Package failpoint lets a test kill a running service at a named point of
// its code, to prove that what the service keeps across a crash is enough
// (DESIGN §3: the outbox, the sweeper, idempotent consumers). A service
// reads the points from its FAILPOINTS variable, which production never
// sets; an unset variable gives a nil *Set, whose Hit does nothing.
//
// A spec lists points as name=N, separated by commas, such as
// "product.after-reserve=3,order.after-create=1": the Nth time the code
// passes the point, the process sends itself SIGKILL, so that nothing
// (no deferred call, no graceful shutdown) runs after it.
package failpoint

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"syscall"
)

// Set is the armed fail points of one process. Its methods are safe for
// concurrent use; a nil *Set is valid and never fires.
type Set struct {
	// kill ends the process; tests replace it to observe the firing.
	kill func()

	mu     sync.Mutex
	armed  map[string]int // name → the hit that fires
	counts map[string]int // name → hits so far
}

// Parse reads a spec such as "product.after-reserve=3,order.after-create=1".
// An empty (or blank) spec is a nil *Set. Each name may appear once, and N
// must be a whole number from 1.
func Parse(spec string) (*Set, error) {
	spec = strings.TrimSpace(spec)
	if spec == "" {
		return nil, nil
	}
	s := &Set{kill: killSelf, armed: make(map[string]int), counts: make(map[string]int)}
	for item := range strings.SplitSeq(spec, ",") {
		name, nth, ok := strings.Cut(strings.TrimSpace(item), "=")
		name = strings.TrimSpace(name)
		if !ok || name == "" {
			return nil, fmt.Errorf("failpoint: %q is not name=N", item)
		}
		n, err := strconv.Atoi(strings.TrimSpace(nth))
		if err != nil || n < 1 {
			return nil, fmt.Errorf("failpoint: %q: N must be a whole number from 1", item)
		}
		if _, dup := s.armed[name]; dup {
			return nil, fmt.Errorf("failpoint: %q is armed twice", name)
		}
		s.armed[name] = n
	}
	return s, nil
}

// Hit counts one pass through the point name and kills the process on the
// hit its spec names. Points not in the spec, and a nil *Set, do nothing.
func (s *Set) Hit(name string) {
	if s == nil {
		return
	}
	s.mu.Lock()
	nth, ok := s.armed[name]
	if ok {
		s.counts[name]++
		ok = s.counts[name] == nth
	}
	s.mu.Unlock()
	if ok {
		s.kill()
	}
}

// killSelf ends the process at once, as a crash or the OOM killer would.
func killSelf() {
	_ = syscall.Kill(os.Getpid(), syscall.SIGKILL)
	select {} // the signal is on its way; run nothing more meanwhile
}
