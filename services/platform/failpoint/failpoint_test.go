package failpoint

import (
	"os"
	"os/exec"
	"slices"
	"strings"
	"syscall"
	"testing"
)

func TestParse(t *testing.T) {
	s, err := Parse(" product.after-reserve=3, order.after-create=1 ")
	if err != nil {
		t.Fatal(err)
	}
	if s.armed["product.after-reserve"] != 3 || s.armed["order.after-create"] != 1 || len(s.armed) != 2 {
		t.Errorf("armed = %v", s.armed)
	}
	for _, blank := range []string{"", "  "} {
		if s, err := Parse(blank); s != nil || err != nil {
			t.Errorf("Parse(%q) = %v, %v; want nil, nil", blank, s, err)
		}
	}
	for _, bad := range []string{"x", "=1", "x=0", "x=-1", "x=two", "x=1,x=2", "x=1,"} {
		if _, err := Parse(bad); err == nil {
			t.Errorf("Parse(%q) = nil error", bad)
		}
	}
}

func TestHitFiresOnTheNthHitOnly(t *testing.T) {
	s, err := Parse("a=3")
	if err != nil {
		t.Fatal(err)
	}
	kills := 0
	s.kill = func() { kills++ }
	var got []int
	for i := 1; i <= 5; i++ {
		s.Hit("a")
		s.Hit("b") // not armed: never fires
		got = append(got, kills)
	}
	if want := []int{0, 0, 1, 1, 1}; !slices.Equal(got, want) {
		t.Errorf("kills after each hit = %v, want %v", got, want)
	}
}

func TestNilSetIsNoOp(t *testing.T) {
	var s *Set
	s.Hit("anything")
}

// TestHitKillsTheProcess runs this test binary again with a fail point
// armed at its first hit: the child must die of SIGKILL, before it could
// print anything after the hit.
func TestHitKillsTheProcess(t *testing.T) {
	if os.Getenv("FAILPOINT_CHILD") == "1" {
		s, err := Parse("child.point=1")
		if err != nil {
			t.Fatal(err)
		}
		s.Hit("child.point")
		os.Stdout.WriteString("survived\n")
		return
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestHitKillsTheProcess$")
	cmd.Env = append(os.Environ(), "FAILPOINT_CHILD=1")
	out, err := cmd.CombinedOutput()
	exit, ok := err.(*exec.ExitError)
	if !ok {
		t.Fatalf("child ended with %v, want killed:\n%s", err, out)
	}
	status, ok := exit.Sys().(syscall.WaitStatus)
	if !ok || !status.Signaled() || status.Signal() != syscall.SIGKILL {
		t.Errorf("child ended with %v, want SIGKILL", err)
	}
	if strings.Contains(string(out), "survived") {
		t.Errorf("child ran on after the hit:\n%s", out)
	}
}
