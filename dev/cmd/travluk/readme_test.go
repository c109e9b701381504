package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"testing"
	"time"
)

// readmePath is the root README, from this package's directory.
const readmePath = "../../../README.md"

// TestReadmeTryIt runs the "Try it" block of README.md as a newcomer does,
// with bash and curl against a freshly started `make run` program: the
// commands verbatim, only localhost:8080 moved to the test's port. A curl
// function around the real one reports each call's HTTP status on stderr,
// leaving what the commands print and capture unchanged. Every step must
// succeed, and the block must still register, log in, open home, find a
// product, buy it and list the order.
func TestReadmeTryIt(t *testing.T) {
	if testing.Short() {
		t.Skip("starts the make run program")
	}
	for _, tool := range []string{"bash", "curl"} {
		if _, err := exec.LookPath(tool); err != nil {
			if os.Getenv("REQUIRE_SERVICES") == "1" {
				t.Fatalf("%s not found, and REQUIRE_SERVICES=1 requires this test to run", tool)
			}
			t.Skipf("%s not found", tool)
		}
	}
	readme, err := os.ReadFile(readmePath)
	if err != nil {
		t.Fatal(err)
	}
	commands, err := tryItCommands(string(readme))
	if err != nil {
		t.Fatal(err)
	}

	env := shopEnv(t)
	p := startProgram(t, env)
	p.waitReady(t, 60*time.Second)
	_, port, _ := net.SplitHostPort(env["INGRESS_ADDR"])

	steps := runSteps(t, commands, "localhost:8080", "localhost:"+port)
	checks := tryItChecks()
	seen := make(map[string]bool)
	var order string // the order the buy made, for the orders list
	for _, s := range steps {
		t.Logf("step %d: %s\n  exit %d, HTTP %v\n  stdout: %s\n  TOKEN=%q PRODUCT=%q", s.n, s.command, s.exit, s.statuses, s.stdout, s.vars["TOKEN"], s.vars["PRODUCT"])
		if s.exit != 0 {
			t.Errorf("step %d (%s) exited %d", s.n, s.command, s.exit)
		}
		for _, code := range s.statuses {
			if code >= 400 || code == 0 {
				t.Errorf("step %d (%s) got HTTP %d: %s", s.n, s.command, code, s.stdout)
			}
		}
		for _, c := range checks {
			if !c.pattern.MatchString(s.command) {
				continue
			}
			seen[c.name] = true
			if err := c.check(s, &order); err != nil {
				t.Errorf("step %d, %s (%s): %v", s.n, c.name, s.command, err)
			}
		}
	}
	for _, c := range checks {
		if !seen[c.name] {
			t.Errorf("the Try it block has no step that does %q (a command matching %s)", c.name, c.pattern)
		}
	}
}

// tryItCommands returns the commands of the first sh block under the
// "## Try it" heading of readme, continuation lines joined, blank lines and
// comment lines left out.
func tryItCommands(readme string) ([]string, error) {
	_, section, ok := strings.Cut(readme, "\n## Try it\n")
	if !ok {
		return nil, fmt.Errorf("README.md has no \"## Try it\" section")
	}
	_, block, ok := strings.Cut(section, "```sh\n")
	if !ok {
		return nil, fmt.Errorf("the Try it section has no ```sh block")
	}
	block, _, ok = strings.Cut(block, "```")
	if !ok {
		return nil, fmt.Errorf("the Try it block does not end")
	}
	var commands []string
	var current strings.Builder
	for line := range strings.Lines(block) {
		line = strings.TrimSuffix(line, "\n")
		if current.Len() == 0 && (strings.TrimSpace(line) == "" || strings.HasPrefix(strings.TrimSpace(line), "#")) {
			continue
		}
		current.WriteString(line)
		if strings.HasSuffix(line, "\\") {
			current.WriteString("\n")
			continue
		}
		commands = append(commands, current.String())
		current.Reset()
	}
	if current.Len() > 0 {
		return nil, fmt.Errorf("the Try it block ends in a continuation line")
	}
	return commands, nil
}

// step is what one command did.
type step struct {
	n        int
	command  string
	exit     int
	statuses []int  // the HTTP status of each curl call, in order
	stdout   string // what it printed
	vars     map[string]string
}

// stepVars are the shell variables the README's commands set and use.
var stepVars = []string{"TOKEN", "PRODUCT"}

// runSteps runs commands, with from replaced by to in each, as one bash
// script and returns what each did. Between two commands the script writes
// markers (and the variables) to stdout and stderr; the commands themselves
// run as written.
func runSteps(t *testing.T, commands []string, from, to string) []step {
	t.Helper()
	var script strings.Builder
	script.WriteString("curl() { command curl --write-out '%{stderr}HTTP %{http_code}\\n' \"$@\"; }\n")
	for i, c := range commands {
		if !strings.Contains(c, from) && strings.Contains(c, "curl") {
			t.Fatalf("command %d calls curl but not on %s: %s", i+1, from, c)
		}
		script.WriteString(strings.ReplaceAll(c, from, to) + "\n")
		fmt.Fprintf(&script, "printf '\\n#step %d exit %%d\\n' $?\n", i+1)
		fmt.Fprintf(&script, "printf '#step %d\\n' >&2\n", i+1)
		for _, v := range stepVars {
			fmt.Fprintf(&script, "printf '#var %s=%%s\\n' \"${%s-}\"\n", v, v)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "bash", "--noprofile", "--norc", "-c", script.String())
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + t.TempDir()}
	var stdout, stderr strings.Builder
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("bash: %v\nstdout:\n%s\nstderr:\n%s", err, stdout.String(), stderr.String())
	}

	steps := make([]step, len(commands))
	out, errOut := stdout.String(), stderr.String()
	for i := range commands {
		s := step{n: i + 1, command: commands[i], vars: make(map[string]string)}
		var marker string
		s.stdout, marker, out = cutMarker(out, fmt.Sprintf("\n#step %d exit ", i+1))
		fmt.Sscan(marker, &s.exit)
		for _, v := range stepVars {
			var line string
			line, out, _ = strings.Cut(out, "\n")
			s.vars[v] = strings.TrimPrefix(line, "#var "+v+"=")
		}
		calls, rest, _ := strings.Cut(errOut, fmt.Sprintf("#step %d\n", i+1))
		errOut = rest
		for _, line := range strings.Split(calls, "\n") {
			var code int
			if _, err := fmt.Sscanf(line, "HTTP %d", &code); err == nil {
				s.statuses = append(s.statuses, code)
			}
		}
		steps[i] = s
	}
	return steps
}

// cutMarker splits s at marker: what precedes it, the rest of the marker's
// line, and everything after that line.
func cutMarker(s, marker string) (before, line, after string) {
	before, rest, ok := strings.Cut(s, marker)
	if !ok {
		return s, "", ""
	}
	line, after, _ = strings.Cut(rest, "\n")
	return before, line, after
}

// tryItCheck is what a newcomer expects of a step of the block, found by
// its command.
type tryItCheck struct {
	name    string
	pattern *regexp.Regexp
	check   func(s step, order *string) error
}

func tryItChecks() []tryItCheck {
	return []tryItCheck{
		{"register", regexp.MustCompile(`/api/customers/register`), func(s step, _ *string) error {
			if len(s.statuses) != 1 || s.statuses[0] != 201 {
				return fmt.Errorf("HTTP %v, want 201", s.statuses)
			}
			var profile struct{ ID, Email string }
			if err := json.Unmarshal([]byte(s.stdout), &profile); err != nil || profile.ID == "" || profile.Email == "" {
				return fmt.Errorf("not a profile (%v): %s", err, s.stdout)
			}
			return nil
		}},
		{"log in", regexp.MustCompile(`TOKEN=\$\(.*/api/customers/login`), func(s step, _ *string) error {
			if len(s.statuses) != 1 || s.statuses[0] != 200 {
				return fmt.Errorf("HTTP %v, want 200", s.statuses)
			}
			if strings.Count(s.vars["TOKEN"], ".") != 2 || strings.ContainsAny(s.vars["TOKEN"], "{}\" ") {
				return fmt.Errorf("TOKEN = %q, want an access token (a JWT)", s.vars["TOKEN"])
			}
			return nil
		}},
		{"home", regexp.MustCompile(`/api/customers/home`), func(s step, _ *string) error {
			if !strings.Contains(s.stdout, "Welcome to Home, ") {
				return fmt.Errorf("home = %s, want a welcome", s.stdout)
			}
			return nil
		}},
		{"browse the catalog", regexp.MustCompile(`^curl .*/api/products\?`), func(s step, _ *string) error {
			var page struct{ Items []struct{ ID, Name string } }
			if err := json.Unmarshal([]byte(s.stdout), &page); err != nil || len(page.Items) == 0 {
				return fmt.Errorf("no products (%v): %s", err, s.stdout)
			}
			return nil
		}},
		{"pick a product", regexp.MustCompile(`PRODUCT=\$\(.*/api/products\?`), func(s step, _ *string) error {
			if !regexp.MustCompile(`^[0-9a-f]{24}$`).MatchString(s.vars["PRODUCT"]) {
				return fmt.Errorf("PRODUCT = %q, want a product id", s.vars["PRODUCT"])
			}
			return nil
		}},
		{"buy", regexp.MustCompile(`/api/products/buy`), func(s step, order *string) error {
			if len(s.statuses) != 1 || (s.statuses[0] != 201 && s.statuses[0] != 202) {
				return fmt.Errorf("HTTP %v, want 201 or 202", s.statuses)
			}
			var bought struct{ ID, OrderID, Status string }
			if err := json.Unmarshal([]byte(s.stdout), &bought); err != nil {
				return fmt.Errorf("not JSON (%v): %s", err, s.stdout)
			}
			*order = bought.ID + bought.OrderID // a 201 has the order's id, a 202 its orderId
			if *order == "" || (bought.Status != "confirmed" && bought.Status != "pending") {
				return fmt.Errorf("answer %s, want a confirmed or pending order", s.stdout)
			}
			return nil
		}},
		{"list my orders", regexp.MustCompile(`/api/orders($|[ "'?])`), func(s step, order *string) error {
			var list struct{ Items []struct{ ID string } }
			if err := json.Unmarshal([]byte(s.stdout), &list); err != nil {
				return fmt.Errorf("not an order list (%v): %s", err, s.stdout)
			}
			for _, o := range list.Items {
				if o.ID == *order && o.ID != "" {
					return nil
				}
			}
			return fmt.Errorf("the list does not hold order %q: %s", *order, s.stdout)
		}},
	}
}
