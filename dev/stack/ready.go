package stack

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"
)

// readyWithin bounds the wait for every service to become ready; a service
// still connecting to its stores after that is reported rather than waited
// for in silence.
const readyWithin = 60 * time.Second

// EntryPoint is a URL path on the stand-in that Run requests before it says
// ready, and then prints for a person to open.
type EntryPoint struct {
	Service string // the service behind it
	Path    string
	What    string // what a person finds there
}

// EntryPoints are, per service, the routes Run requires to answer 200
// through the stand-in before it says ready: each reaches the service's
// router, and the catalog one its store too.
func EntryPoints() []EntryPoint {
	return []EntryPoint{
		{"stand-in", "/", "the APIs and events, rendered (dev/docspage)"},
		{"product", "/api/products?limit=5", "the catalog"},
		{"customer", "/api/customers/openapi.json", "the customer API (OpenAPI 3.1)"},
		{"product", "/api/products/openapi.json", "the catalog and buy API"},
		{"order", "/api/orders/openapi.json", "the orders API"},
	}
}

// waitReady returns once every service's /readyz answers 200 and then every
// entry point answers 200 through the stand-in at ingressAddr, so that
// nobody told "ready" meets a 502 or a 503. It gives up when ctx ends, when
// readyWithin passes, or when a service stops (stopped yields), and says
// which service it waited for.
func waitReady(ctx context.Context, ingressAddr string, services []service, stopped <-chan error, p *progress) error {
	ctx, cancel := context.WithTimeout(ctx, readyWithin)
	defer cancel()
	client := &http.Client{Timeout: 5 * time.Second}
	for _, s := range services {
		if err := pollOK(ctx, client, "http://"+s.addr+"/readyz", stopped); err != nil {
			return notReady(s.name+" service not ready", err)
		}
		p.say("%s service ready on %s", s.name, s.addr)
	}
	for _, e := range EntryPoints() {
		if err := pollOK(ctx, client, "http://"+ingressAddr+e.Path, stopped); err != nil {
			return notReady(e.Service+" service not reachable through the ingress stand-in", err)
		}
	}
	return nil
}

// partStopped is a part of the shop that ended while Run waited for it;
// its error says already which part and why.
type partStopped struct{ err error }

func (e *partStopped) Error() string { return e.err.Error() }

func (e *partStopped) Unwrap() error { return e.err }

// notReady is err as waitReady returns it: a part's own failure as it is,
// a wait that ran out prefixed with what was waited for.
func notReady(what string, err error) error {
	if stopped, ok := errors.AsType[*partStopped](err); ok {
		return stopped.err
	}
	return fmt.Errorf("%s: %w", what, err)
}

// pollOK requests url until it answers 200. It fails with the last answer
// when ctx ends first, and with a *partStopped when stopped yields first.
func pollOK(ctx context.Context, client *http.Client, url string, stopped <-chan error) error {
	for {
		last := getStatus(ctx, client, url)
		if last == "" {
			return nil
		}
		select {
		case err := <-stopped:
			if err == nil {
				err = fmt.Errorf("a service stopped while GET %s answered %s", url, last)
			}
			return &partStopped{err}
		case <-ctx.Done():
			return fmt.Errorf("GET %s: %s", url, last)
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// getStatus returns "" when url answers 200, else the status or the error.
func getStatus(ctx context.Context, client *http.Client, url string) string {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err.Error()
	}
	resp, err := client.Do(req)
	if err != nil {
		return err.Error()
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return resp.Status
	}
	return ""
}
