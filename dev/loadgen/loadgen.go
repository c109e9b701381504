// Package loadgen is a small closed-loop load generator for benchmarks on one
// machine: a fixed number of workers each send one request, wait for the
// answer, and send the next, for a bounded time. It records every answer's
// latency in a log-linear Histogram and counts failures by cause.
//
// A closed loop measures the throughput a service sustains at a given
// concurrency and the latency at that throughput; it does not model an open
// stream of arrivals, so its tail latencies understate what users would see
// past saturation (coordinated omission). That is the right tool for
// comparing a service with a ceiling at equal concurrency.
package loadgen

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"sync"
	"time"
)

// Op sends one request for worker (0..Conns-1) and returns when its answer
// is complete; a non-nil error counts the request as failed. Each worker
// calls Op sequentially, so per-worker state (a connection) needs no lock.
type Op func(ctx context.Context, worker int) error

// Config bounds one run.
type Config struct {
	Conns    int           // concurrent workers, at least 1
	Warmup   time.Duration // run but not measured: opens connections, fills pools and caches
	Duration time.Duration // measured time, after the warm-up
	// Grace is how long requests still in flight at the end may take
	// before they are cancelled and counted as failures (default 2 s).
	Grace time.Duration
	Op    Op
}

// Result is what one run measured. Only requests that started after the
// warm-up and finished before the end count.
type Result struct {
	Conns    int
	Duration time.Duration // the measured window
	Requests uint64        // completed in the window, failures included
	Errors   uint64        // failed requests in the window, plus those cut off at the end
	// ErrorKinds counts failures by message ("status 503", "connection
	// refused", ...), at most maxErrorKinds distinct ones.
	ErrorKinds map[string]uint64
	Latency    *Histogram // every request counted in Requests
	// CPU is the CPU time (user and system) the whole process used during
	// the measured window: the load generator and any servers running in
	// it. Zero when the system does not report it. Unlike Rate, it hardly
	// moves when other programs take CPU away from the run.
	CPU time.Duration
}

// CPUPerRequest returns CPU divided by Requests, or zero when either is
// unknown.
func (r Result) CPUPerRequest() time.Duration {
	if r.CPU <= 0 || r.Requests == 0 {
		return 0
	}
	return r.CPU / time.Duration(r.Requests)
}

// maxErrorKinds bounds Result.ErrorKinds; further kinds count as "other".
const maxErrorKinds = 8

// Rate returns completed requests per second over the measured window.
func (r Result) Rate() float64 {
	if r.Duration <= 0 {
		return 0
	}
	return float64(r.Requests) / r.Duration.Seconds()
}

// ErrorSummary lists the error kinds, most frequent first, as
// "count× message" strings.
func (r Result) ErrorSummary() []string {
	kinds := make([]string, 0, len(r.ErrorKinds))
	for k := range r.ErrorKinds {
		kinds = append(kinds, k)
	}
	sort.Slice(kinds, func(i, j int) bool {
		if r.ErrorKinds[kinds[i]] != r.ErrorKinds[kinds[j]] {
			return r.ErrorKinds[kinds[i]] > r.ErrorKinds[kinds[j]]
		}
		return kinds[i] < kinds[j]
	})
	out := make([]string, len(kinds))
	for i, k := range kinds {
		out[i] = fmt.Sprintf("%d× %s", r.ErrorKinds[k], k)
	}
	return out
}

// Run drives cfg.Op from cfg.Conns workers for cfg.Warmup+cfg.Duration and
// returns what was measured. It returns early with ctx's error when ctx
// ends first.
func Run(ctx context.Context, cfg Config) (Result, error) {
	if cfg.Conns < 1 || cfg.Duration <= 0 || cfg.Warmup < 0 || cfg.Op == nil {
		return Result{}, fmt.Errorf("loadgen: need Conns ≥ 1, Duration > 0, Warmup ≥ 0 and an Op (got %d, %s, %s)", cfg.Conns, cfg.Duration, cfg.Warmup)
	}
	grace := cfg.Grace
	if grace <= 0 {
		grace = 2 * time.Second
	}
	begin := time.Now()
	window := span{from: begin.Add(cfg.Warmup), to: begin.Add(cfg.Warmup + cfg.Duration)}
	opCtx, cancel := context.WithDeadline(ctx, window.to.Add(grace))
	defer cancel()

	cpu := sampleCPUAt(window)
	defer cpu.stop()

	tallies := make([]tally, cfg.Conns)
	var wg sync.WaitGroup
	for w := range tallies {
		wg.Add(1)
		go func() {
			defer wg.Done()
			tallies[w].work(opCtx, cfg.Op, w, window)
		}()
	}
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return Result{}, err
	}

	res := Result{Conns: cfg.Conns, Duration: cfg.Duration, ErrorKinds: make(map[string]uint64), Latency: new(Histogram), CPU: cpu.used()}
	for i := range tallies {
		t := &tallies[i]
		res.Latency.Merge(&t.latency)
		res.Requests += t.latency.Count()
		res.Errors += t.errors
		for k, n := range t.errorKinds {
			addKind(res.ErrorKinds, k, n)
		}
	}
	return res, nil
}

// span is the measured window.
type span struct{ from, to time.Time }

// cpuSampler reads the process's CPU time when a window opens and when it
// closes, on timers of their own: the workers never pause for it.
type cpuSampler struct {
	from, to         *time.Timer
	atFrom, atTo     time.Duration
	okFrom, okTo     bool
	fromDone, toDone chan struct{}
}

func sampleCPUAt(w span) *cpuSampler {
	c := &cpuSampler{fromDone: make(chan struct{}), toDone: make(chan struct{})}
	c.from = time.AfterFunc(time.Until(w.from), func() {
		c.atFrom, c.okFrom = processCPU()
		close(c.fromDone)
	})
	c.to = time.AfterFunc(time.Until(w.to), func() {
		c.atTo, c.okTo = processCPU()
		close(c.toDone)
	})
	return c
}

// used returns the CPU time between the samples, waiting for both; zero
// when the system did not report one. Call it only once the window ended.
func (c *cpuSampler) used() time.Duration {
	<-c.fromDone
	<-c.toDone
	if !c.okFrom || !c.okTo {
		return 0
	}
	return c.atTo - c.atFrom
}

// stop cancels the samples not taken yet, when Run ends early.
func (c *cpuSampler) stop() {
	c.from.Stop()
	c.to.Stop()
}

// tally is one worker's record.
type tally struct {
	latency    Histogram
	errors     uint64
	errorKinds map[string]uint64
}

// work runs the closed loop of one worker until the window ends.
func (t *tally) work(ctx context.Context, op Op, worker int, window span) {
	t.errorKinds = make(map[string]uint64)
	for ctx.Err() == nil {
		start := time.Now()
		if !start.Before(window.to) {
			return
		}
		err := op(ctx, worker)
		end := time.Now()
		if start.Before(window.from) {
			continue // warm-up
		}
		if end.After(window.to) {
			// Finished late: outside the window, unless it never finished.
			if err != nil && errors.Is(ctx.Err(), context.DeadlineExceeded) {
				t.fail("no answer before the run's end plus grace", 1)
			}
			continue
		}
		t.latency.Record(end.Sub(start))
		if err != nil {
			t.fail(err.Error(), 1)
		}
	}
}

func (t *tally) fail(kind string, n uint64) {
	t.errors += n
	addKind(t.errorKinds, kind, n)
}

// addKind counts n failures of kind in kinds, folding kinds past
// maxErrorKinds into "other".
func addKind(kinds map[string]uint64, kind string, n uint64) {
	if _, ok := kinds[kind]; !ok && len(kinds) >= maxErrorKinds {
		kind = "other"
	}
	kinds[kind] += n
}

// Add accumulates o, a later run of the same load, into r: requests, errors
// and latencies add up, and so do the measured windows, so Rate stays the
// rate over all the measured time.
func (r *Result) Add(o Result) {
	if r.Latency == nil {
		r.Latency = new(Histogram)
	}
	if r.ErrorKinds == nil {
		r.ErrorKinds = make(map[string]uint64)
	}
	r.Conns = max(r.Conns, o.Conns)
	r.Duration += o.Duration
	r.Requests += o.Requests
	r.Errors += o.Errors
	r.CPU += o.CPU
	for k, n := range o.ErrorKinds {
		addKind(r.ErrorKinds, k, n)
	}
	if o.Latency != nil {
		r.Latency.Merge(o.Latency)
	}
}
