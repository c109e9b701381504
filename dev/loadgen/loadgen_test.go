package loadgen

import (
	"context"
	"crypto/sha256"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestRunAgainstHTTPTestServer is a one-second smoke run: every worker keeps
// one connection, every request is counted, and failing answers are errors.
func TestRunAgainstHTTPTestServer(t *testing.T) {
	const conns = 4
	srv, clients := serveCountingConns(t, func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/missing":
			http.NotFound(w, r)
		case "/cached":
			w.WriteHeader(http.StatusNotModified)
		default:
			w.Header().Set("Content-Type", "application/json")
			_, _ = w.Write([]byte(`{"ok":true}`))
		}
	})

	run := func(path string) Result {
		t.Helper()
		load := NewHTTP(conns, GET(srv.URL+path, http.Header{"Accept": {"application/json"}}), nil)
		defer load.Close()
		res, err := Run(context.Background(), Config{Conns: conns, Warmup: 100 * time.Millisecond, Duration: 200 * time.Millisecond, Op: load.Op})
		if err != nil {
			t.Fatal(err)
		}
		return res
	}

	ok := run("/")
	if ok.Requests < 100 || ok.Errors != 0 {
		t.Errorf("ok run: %d requests, %d errors (%v); want many and none", ok.Requests, ok.Errors, ok.ErrorSummary())
	}
	if ok.Latency.Count() != ok.Requests || ok.Latency.Quantile(0.5) <= 0 || ok.Latency.Quantile(0.99) < ok.Latency.Quantile(0.5) {
		t.Errorf("latency: %d counted, p50 %v, p99 %v", ok.Latency.Count(), ok.Latency.Quantile(0.5), ok.Latency.Quantile(0.99))
	}
	if rate := ok.Rate(); rate != float64(ok.Requests)/0.2 {
		t.Errorf("Rate = %v for %d requests in 200ms", rate, ok.Requests)
	}
	if n := clients.count(); n != conns {
		t.Errorf("%d client connections, want one per worker (%d)", n, conns)
	}

	if notModified := run("/cached"); notModified.Errors != 0 {
		t.Errorf("304 counted as errors: %v", notModified.ErrorSummary())
	}
	missing := run("/missing")
	if missing.Requests == 0 || missing.Errors != missing.Requests {
		t.Errorf("404 run: %d requests, %d errors; want every one an error", missing.Requests, missing.Errors)
	}
	if s := missing.ErrorSummary(); len(s) != 1 || !strings.HasSuffix(s[0], "× status 404") {
		t.Errorf("error summary = %v", s)
	}
}

func TestRunCountsUnreachableServerAsErrors(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close() // nothing listens there now
	load := NewHTTP(1, GET("http://"+addr+"/", nil), nil)
	defer load.Close()
	res, err := Run(context.Background(), Config{Conns: 1, Duration: 100 * time.Millisecond, Op: load.Op})
	if err != nil {
		t.Fatal(err)
	}
	if res.Requests == 0 || res.Errors != res.Requests {
		t.Errorf("%d requests, %d errors; want all failed", res.Requests, res.Errors)
	}
}

func TestRunStopsWhenContextEnds(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	op := func(ctx context.Context, _ int) error {
		<-ctx.Done()
		return ctx.Err()
	}
	start := time.Now()
	if _, err := Run(ctx, Config{Conns: 2, Duration: time.Minute, Op: op}); err == nil {
		t.Error("Run returned no error after its context ended")
	}
	if time.Since(start) > 5*time.Second {
		t.Error("Run did not stop with its context")
	}
}

func TestRunRejectsBadConfig(t *testing.T) {
	if _, err := Run(context.Background(), Config{Conns: 0, Duration: time.Second, Op: func(context.Context, int) error { return nil }}); err == nil {
		t.Error("Conns 0 accepted")
	}
}

func TestResultAddKeepsTheRate(t *testing.T) {
	var sum Result
	for _, part := range []struct {
		requests uint64
		d        time.Duration
	}{{100, time.Second}, {300, time.Second}} {
		h := new(Histogram)
		for range part.requests {
			h.Record(time.Millisecond)
		}
		sum.Add(Result{Conns: 2, Duration: part.d, Requests: part.requests, Errors: 1, ErrorKinds: map[string]uint64{"status 500": 1}, Latency: h, CPU: time.Duration(part.requests) * time.Millisecond})
	}
	if sum.Rate() != 200 || sum.Errors != 2 || sum.ErrorKinds["status 500"] != 2 || sum.Latency.Count() != 400 || sum.Conns != 2 {
		t.Errorf("sum = rate %v, %d errors %v, %d latencies, %d conns", sum.Rate(), sum.Errors, sum.ErrorKinds, sum.Latency.Count(), sum.Conns)
	}
	if got := sum.CPUPerRequest(); got != time.Millisecond {
		t.Errorf("CPU per request = %v, want 1ms", got)
	}
}

// TestRunMeasuresCPUOfTheWindow gives every request a fixed amount of
// computation and checks that the CPU per request Run reports matches what
// the same computation costs alone, measured the same way: CPU time does
// not depend on how busy the machine is, so the bounds can be wide.
func TestRunMeasuresCPUOfTheWindow(t *testing.T) {
	work := func() {
		sum := sha256.New()
		block := make([]byte, 64<<10)
		for range 8 {
			sum.Write(block)
		}
		sum.Sum(nil)
	}
	const calibration = 200
	before, ok := processCPU()
	if !ok {
		t.Skip("this system does not report CPU time")
	}
	for range calibration {
		work()
	}
	after, _ := processCPU()
	alone := (after - before) / calibration

	res, err := Run(context.Background(), Config{Conns: 2, Warmup: 50 * time.Millisecond, Duration: 300 * time.Millisecond,
		Op: func(context.Context, int) error { work(); return nil }})
	if err != nil {
		t.Fatal(err)
	}
	got := res.CPUPerRequest()
	if res.Requests == 0 || got < alone/2 || got > 2*alone {
		t.Errorf("CPU per request = %v over %d requests (CPU %v); the work alone costs %v", got, res.Requests, res.CPU, alone)
	}
}

// clientConns counts the client connections a test server saw.
type clientConns struct {
	mu      sync.Mutex
	remotes map[string]bool // remote addresses
}

// serveCountingConns serves handler on a test server, closed at the end of
// the test, and counts its client connections.
func serveCountingConns(t *testing.T, handler http.HandlerFunc) (*httptest.Server, *clientConns) {
	t.Helper()
	c := &clientConns{remotes: make(map[string]bool)}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c.mu.Lock()
		c.remotes[r.RemoteAddr] = true
		c.mu.Unlock()
		handler(w, r)
	}))
	t.Cleanup(srv.Close)
	return srv, c
}

func (c *clientConns) count() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.remotes)
}
