package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/travluk/ecom/dev/redisembed"
	"github.com/travluk/ecom/dev/testenv"
)

// The program is built once per test binary, on first use, so that a
// filtered or -short run builds nothing.
var build struct {
	once sync.Once
	dir  string // removed by TestMain
	path string
	err  error
}

func TestMain(m *testing.M) {
	code := m.Run()
	if build.dir != "" {
		os.RemoveAll(build.dir)
	}
	os.Exit(code)
}

// binary returns the path of a freshly built travluk, what `make run`
// starts, failing t if it does not build.
func binary(t *testing.T) string {
	t.Helper()
	build.once.Do(func() {
		build.dir, build.err = os.MkdirTemp("", "travluk-main-test-")
		if build.err != nil {
			return
		}
		build.path = filepath.Join(build.dir, "travluk")
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
		defer cancel()
		cmd := exec.CommandContext(ctx, "go", "build", "-o", build.path, "github.com/travluk/ecom/dev/cmd/travluk")
		if out, err := cmd.CombinedOutput(); err != nil {
			build.err = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if build.err != nil {
		t.Fatal(build.err)
	}
	return build.path
}

// shopEnv is `make run`'s environment on a fresh machine, but on free
// loopback ports and a temporary DATA_DIR: no MONGODB_URI, REDIS_URL or
// AMQP_URL unless a test adds one.
func shopEnv(t *testing.T) map[string]string {
	return map[string]string{
		"DATA_DIR":      t.TempDir(),
		"INGRESS_ADDR":  testenv.FreeAddr(t),
		"CUSTOMER_ADDR": testenv.FreeAddr(t),
		"PRODUCT_ADDR":  testenv.FreeAddr(t),
		"ORDER_ADDR":    testenv.FreeAddr(t),
	}
}

// process is one run of the program.
type process struct {
	cmd            *exec.Cmd
	stdout, stderr *testenv.LogBuffer
	exited         chan struct{} // closed once Wait returned; err is set then
	err            error
}

// startProgram runs the program with env and nothing else of the test
// machine's environment but PATH, HOME and TMPDIR. It is killed when t ends,
// if still running.
func startProgram(t *testing.T, env map[string]string) *process {
	t.Helper()
	p := &process{stdout: &testenv.LogBuffer{}, stderr: &testenv.LogBuffer{}, exited: make(chan struct{})}
	p.cmd = exec.Command(binary(t))
	p.cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME"), "TMPDIR=" + os.TempDir()}
	for k, v := range env {
		p.cmd.Env = append(p.cmd.Env, k+"="+v)
	}
	p.cmd.Stdout, p.cmd.Stderr = p.stdout, p.stderr
	if err := p.cmd.Start(); err != nil {
		t.Fatalf("start travluk: %v", err)
	}
	go func() { p.err = p.cmd.Wait(); close(p.exited) }()
	t.Cleanup(func() {
		_ = p.cmd.Process.Kill()
		<-p.exited
		if t.Failed() {
			t.Logf("travluk stdout:\n%s\nstderr:\n%s", p.stdout, p.stderr)
		}
	})
	return p
}

// waitExit waits up to within for the program to end and returns its exit
// code.
func (p *process) waitExit(t *testing.T, within time.Duration) int {
	t.Helper()
	select {
	case <-p.exited:
	case <-time.After(within):
		t.Fatalf("travluk still running after %v", within)
	}
	var exit *exec.ExitError
	if errors.As(p.err, &exit) {
		return exit.ExitCode()
	}
	if p.err != nil {
		t.Fatalf("travluk: %v", p.err)
	}
	return 0
}

// waitReady waits up to within for the line that says the shop is ready,
// and returns the URLs printed under it.
func (p *process) waitReady(t *testing.T, within time.Duration) []string {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		if urls, ok := readyURLs(p.stdout.String()); ok {
			return urls
		}
		select {
		case <-p.exited:
			t.Fatalf("travluk ended (%v) before it said ready", p.err)
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("travluk did not say ready within %v", within)
		}
	}
}

// readyURLs finds the "travluk: ready" line in out and returns the URLs
// printed, indented, under it; ok is false until that line is there.
func readyURLs(out string) (urls []string, ok bool) {
	lines := strings.Split(out, "\n")
	for i, line := range lines {
		if !strings.HasPrefix(line, "travluk: ready ") {
			continue
		}
		for _, l := range lines[i+1:] {
			fields := strings.Fields(l)
			if !strings.HasPrefix(l, "  ") || len(fields) == 0 {
				break
			}
			if strings.HasPrefix(fields[0], "http://") {
				urls = append(urls, fields[0])
			}
		}
		return urls, true
	}
	return nil, false
}

// closedAddr is a loopback address nothing listens on.
func closedAddr(t *testing.T) string { return testenv.FreeAddr(t) }

// TestBadSettingStopsTheStart starts the program with one setting wrong:
// it must exit non-zero within seconds, before saying ready, with exactly
// one line on stderr that names the variable to fix.
func TestBadSettingStopsTheStart(t *testing.T) {
	if testing.Short() {
		t.Skip("starts the make run program")
	}
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	tests := []struct {
		name, variable, value string
	}{
		{"unreachable Redis", "REDIS_URL", "redis://" + closedAddr(t) + "/0"},
		{"unreachable MongoDB", "MONGODB_URI", "mongodb://" + closedAddr(t) + "/"},
		{"unreachable RabbitMQ", "AMQP_URL", "amqp://guest:guest@" + closedAddr(t) + "/"},
		{"stand-in port in use", "INGRESS_ADDR", taken.Addr().String()},
		{"customer port in use", "CUSTOMER_ADDR", taken.Addr().String()},
		{"order port in use", "ORDER_ADDR", taken.Addr().String()},
		{"unreadable SEED_CATALOG", "SEED_CATALOG", "maybe"},
		// A service's own configuration check, one line too.
		{"admin email without a password", "ADMIN_EMAIL", "admin@example.com"},
		{"unknown log level", "LOG_LEVEL", "loud"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := shopEnv(t)
			env[tt.variable] = tt.value
			binary(t) // built before the clock starts
			began := time.Now()
			p := startProgram(t, env)
			if code := p.waitExit(t, 15*time.Second); code == 0 {
				t.Fatalf("exit code 0, want a failure")
			}
			t.Logf("failed after %v", time.Since(began).Round(10*time.Millisecond))
			stderr := strings.TrimSpace(p.stderr.String())
			if strings.Count(stderr, "\n") != 0 || !strings.HasPrefix(stderr, "travluk: ") || !strings.Contains(stderr, tt.variable) {
				t.Errorf("stderr = %q, want one line naming %s", stderr, tt.variable)
			}
			if strings.Contains(stderr, "guest:guest") {
				t.Errorf("stderr shows the password: %q", stderr)
			}
			if _, ok := readyURLs(p.stdout.String()); ok {
				t.Errorf("said ready with a bad %s", tt.variable)
			}
		})
	}
}

// TestReadyMeansEveryURLAnswers starts the program and, the moment it says
// ready, requests every URL it printed and every service's /readyz: each
// must answer 200, never the 502 of a stand-in whose service does not
// listen yet. REDIS_URL names a Redis the test runs, so a reachable server
// passes the start's check.
func TestReadyMeansEveryURLAnswers(t *testing.T) {
	if testing.Short() {
		t.Skip("starts the make run program")
	}
	redis, err := redisembed.Start("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer redis.Close()
	env := shopEnv(t)
	env["REDIS_URL"] = redis.URL()
	p := startProgram(t, env)
	urls := p.waitReady(t, 60*time.Second)

	_, port, _ := net.SplitHostPort(env["INGRESS_ADDR"])
	if len(urls) == 0 {
		t.Fatal("no URL printed under the ready line")
	}
	for _, prefix := range []string{"/api/customers/", "/api/products", "/api/orders/"} {
		if !containsPath(urls, prefix) {
			t.Errorf("no printed URL under %s: %v", prefix, urls)
		}
	}
	for _, u := range urls {
		if !strings.HasPrefix(u, "http://localhost:"+port+"/") {
			t.Errorf("printed %s, want it on http://localhost:%s", u, port)
		}
	}
	for _, name := range []string{"CUSTOMER_ADDR", "PRODUCT_ADDR", "ORDER_ADDR"} {
		urls = append(urls, "http://"+env[name]+"/readyz")
	}
	for _, u := range urls {
		resp, err := http.Get(u)
		if err != nil {
			t.Errorf("GET %s: %v", u, err)
			continue
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Errorf("GET %s right after ready = %d, want 200", u, resp.StatusCode)
		}
	}
	out := p.stdout.String()
	for _, step := range []string{"embedded MongoDB", "REDIS_URL answers", "demo catalog of 300 products loaded", "customer service ready", "product service ready", "order service ready"} {
		if i, ready := strings.Index(out, step), strings.Index(out, "travluk: ready "); i < 0 || i > ready {
			t.Errorf("no progress line %q before the ready line", step)
		}
	}
}

func containsPath(urls []string, prefix string) bool {
	for _, u := range urls {
		if i := strings.Index(u, "//"); i >= 0 && strings.Contains(u[i+2:], prefix) {
			return true
		}
	}
	return false
}

// TestSignalStopsCleanly is Ctrl-C (and a SIGTERM) on a ready shop: the
// program stops every part and exits 0 with nothing on stderr, which make
// then reports as success.
func TestSignalStopsCleanly(t *testing.T) {
	if testing.Short() {
		t.Skip("starts the make run program")
	}
	for _, sig := range []syscall.Signal{syscall.SIGINT, syscall.SIGTERM} {
		t.Run(sig.String(), func(t *testing.T) {
			p := startProgram(t, shopEnv(t))
			p.waitReady(t, 60*time.Second)
			if err := p.cmd.Process.Signal(sig); err != nil {
				t.Fatal(err)
			}
			if code := p.waitExit(t, 20*time.Second); code != 0 {
				t.Errorf("exit code %d after %v, want 0", code, sig)
			}
			if s := p.stderr.String(); s != "" {
				t.Errorf("stderr = %q, want nothing", s)
			}
			if out := strings.TrimSpace(p.stdout.String()); !strings.HasSuffix(out, "travluk: stopped") {
				t.Errorf("stdout does not end with %q:\n%s", "travluk: stopped", out)
			}
		})
	}
}

// TestMakeRunLoadsTheDemoCatalogByDefault: an embedded catalog gets the
// demo products unless SEED_CATALOG says otherwise; a real MongoDB only
// when asked.
func TestMakeRunLoadsTheDemoCatalogByDefault(t *testing.T) {
	tests := []struct {
		name string
		env  map[string]string
		want string
	}{
		{"embedded store", nil, "true"},
		{"embedded store, asked for none", map[string]string{"SEED_CATALOG": "false"}, "false"},
		{"real MongoDB", map[string]string{"MONGODB_URI": "mongodb://db.example/"}, ""},
		{"real MongoDB, asked for it", map[string]string{"MONGODB_URI": "mongodb://db.example/", "SEED_CATALOG": "true"}, "true"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			getenv := withMakeRunDefaults(func(k string) string { return tt.env[k] })
			if got := getenv("SEED_CATALOG"); got != tt.want {
				t.Errorf("SEED_CATALOG = %q, want %q", got, tt.want)
			}
		})
	}
}
