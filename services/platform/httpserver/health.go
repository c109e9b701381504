package httpserver

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/travluk/ecom/services/platform/problem"
)

// checkTimeout bounds each readiness probe, so that one hung dependency
// cannot hold /readyz past the kubelet's own probe timeout.
const checkTimeout = time.Second

func healthz(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
}

// readyz answers 200 with each check's status when every required check
// passes ("degraded" when an optional one fails), and a 503 problem naming
// the failing required checks otherwise. Causes are logged, not sent: they
// carry addresses and driver text that are nobody else's business.
func readyz(checks []Check, draining *atomic.Bool, logger *slog.Logger) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if draining.Load() {
			p := problem.Unavailable("The server is shutting down.", time.Second)
			p.Code = "shutting_down"
			problem.Write(w, p)
			return
		}
		errs := runChecks(r.Context(), checks)
		var failed []problem.FieldError
		status := make(map[string]string, len(checks))
		overall := "ok"
		for _, c := range checks {
			err := errs[c.Name]
			if err == nil {
				status[c.Name] = "ok"
				continue
			}
			logger.Warn("readiness check failed", "check", c.Name, "optional", c.Optional, "error", err)
			msg := "failed"
			if errors.Is(err, context.DeadlineExceeded) {
				msg = fmt.Sprintf("no answer within %s", checkTimeout)
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
	})
}

// runChecks runs every check concurrently, each with its own timeout, and
// returns the error of each by name.
func runChecks(ctx context.Context, checks []Check) map[string]error {
	var (
		mu   sync.Mutex
		wg   sync.WaitGroup
		errs = make(map[string]error, len(checks))
	)
	for _, c := range checks {
		wg.Go(func() {
			err := runCheck(ctx, c)
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
func runCheck(ctx context.Context, c Check) error {
	ctx, cancel := context.WithTimeout(ctx, checkTimeout)
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
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
