package httpserver

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/travluk/ecom/services/platform/problem"
)

// checkTimeout bounds each readiness probe, so that one hung dependency
// cannot hold /readyz past the kubelet's own probe timeout.
const checkTimeout = time.Second

// firstCheckTimeout bounds a probe until it has passed once: its first
// runs pay for dialing (a Sentinel lookup, then Redis; an AMQP handshake),
// which on a busy node takes longer than a ping. It stays under the
// charts' readiness timeoutSeconds of 3.
const firstCheckTimeout = 2 * time.Second

// maxProbeWait bounds how long Close waits for the next readiness probe.
const maxProbeWait = 10 * time.Second

// healthz answers 200 while the process runs. Before Serve it waits up to
// StartWait for it, so that a startup probe succeeds once the service is
// wired instead of failing (and logging a warning event) while it connects
// to its stores; 503 "starting" when the wait runs out.
func (s *Server) healthz(w http.ResponseWriter, r *http.Request) {
	if s.awaitApp(r.Context()) == nil {
		writeStarting(w)
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
}

// readyz answers 200 with each check's status when every required check
// passes ("degraded" when an optional one fails), and a 503 problem naming
// the failing required checks otherwise. Causes are logged, not sent: they
// carry addresses and driver text that are nobody else's business. Before
// Serve it waits like healthz; once the service is stopping it answers 200
// "stopping" without checking the stores it is closing: Kubernetes takes a
// terminating pod out of its Services whatever the probe says, so failing
// it would only record warnings.
func (s *Server) readyz(w http.ResponseWriter, r *http.Request) {
	defer s.probes.answered()
	if s.stopping.Load() {
		writeJSON(w, http.StatusOK, map[string]string{"status": "stopping"})
		return
	}
	app := s.awaitApp(r.Context())
	if app == nil {
		writeStarting(w)
		return
	}
	checks := app.checks
	errs := app.runChecks(r.Context())
	var failed []problem.FieldError
	status := make(map[string]string, len(checks))
	overall := "ok"
	for _, c := range checks {
		err := errs[c.Name]
		if err == nil {
			status[c.Name] = "ok"
			continue
		}
		s.logger.Warn("readiness check failed", "check", c.Name, "optional", c.Optional, "error", err)
		msg := "failed"
		if late, ok := errors.AsType[*noAnswerError](err); ok {
			msg = late.Error()
		}
		status[c.Name] = msg
		if c.Optional {
			overall = "degraded"
			continue
		}
		failed = append(failed, problem.FieldError{Field: c.Name, Message: msg})
	}
	if len(failed) > 0 {
		sort.Slice(failed, func(i, j int) bool { return failed[i].Field < failed[j].Field })
		names := make([]string, len(failed))
		for i, f := range failed {
			names[i] = f.Field
		}
		p := problem.New(http.StatusServiceUnavailable, "not_ready", "Failing checks: "+strings.Join(names, ", ")+".")
		p.Errors = failed
		p.RetryAfter = time.Second
		problem.Write(w, p)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"status": overall, "checks": status})
}

func writeStarting(w http.ResponseWriter) {
	p := problem.Unavailable("The service is starting.", time.Second)
	p.Code = "starting"
	problem.Write(w, p)
}

// probeClock remembers when /readyz was last answered, so that Close can
// tell whether something polls it and wait for its next poll.
type probeClock struct {
	mu         sync.Mutex
	last, prev time.Time
	next       chan struct{} // closed by the next answer; nil until awaited
}

func (c *probeClock) answered() {
	now := time.Now()
	c.mu.Lock()
	defer c.mu.Unlock()
	c.prev, c.last = c.last, now
	if c.next != nil {
		close(c.next)
		c.next = nil
	}
}

// awaitNext returns a channel closed by the next answer and how long to
// wait for it: one and a half of the last interval between two polls, at
// most maxProbeWait, or zero when nothing has polled twice lately.
func (c *probeClock) awaitNext() (<-chan struct{}, time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.prev.IsZero() {
		return nil, 0
	}
	period := c.last.Sub(c.prev)
	// A poller late by up to a second (a busy node) still counts.
	if period <= 0 || time.Since(c.last) > 2*period+time.Second {
		return nil, 0
	}
	if c.next == nil {
		c.next = make(chan struct{})
	}
	return c.next, min(period+period/2, maxProbeWait)
}

// runChecks runs every check concurrently, each with its own timeout, and
// returns the error of each by name.
func (a *routes) runChecks(ctx context.Context) map[string]error {
	var (
		mu   sync.Mutex
		wg   sync.WaitGroup
		errs = make(map[string]error, len(a.checks))
	)
	for i, c := range a.checks {
		wg.Go(func() {
			timeout := checkTimeout
			if !a.passed[i].Load() {
				timeout = firstCheckTimeout
			}
			err := runCheck(ctx, c, timeout)
			if err == nil {
				a.passed[i].Store(true)
			}
			mu.Lock()
			errs[c.Name] = err
			mu.Unlock()
		})
	}
	wg.Wait()
	return errs
}

// runCheck gives up on a probe that ignores its context once the timeout
// passes; the probe's goroutine then finishes on its own.
func runCheck(ctx context.Context, c Check, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	done := make(chan error, 1)
	go func() {
		defer func() {
			if v := recover(); v != nil {
				done <- fmt.Errorf("check panicked: %v", v)
			}
		}()
		done <- c.Probe(ctx)
	}()
	var err error
	select {
	case err = <-done:
	case <-ctx.Done():
		err = ctx.Err()
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return &noAnswerError{timeout: timeout}
	}
	return err
}

// noAnswerError is a check that ran out of time.
type noAnswerError struct{ timeout time.Duration }

func (e *noAnswerError) Error() string { return fmt.Sprintf("no answer within %s", e.timeout) }

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
