package loadgen

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"time"
)

// RequestFunc builds the next request of worker; it is called once per
// request, with the run's context.
type RequestFunc func(ctx context.Context, worker int) (*http.Request, error)

// HTTP sends requests over one keep-alive connection per worker: each worker
// has a Transport of its own limited to a single connection, so Conns
// workers hold exactly Conns connections, as wrk or hey do. Build it with
// NewHTTP and Close it after the run.
type HTTP struct {
	transports []*http.Transport
	request    RequestFunc
	ok         func(status int) bool
}

// NewHTTP returns the client side of an HTTP load for conns workers.
// ok decides which statuses succeed; nil means 2xx and 304.
func NewHTTP(conns int, request RequestFunc, ok func(status int) bool) *HTTP {
	if ok == nil {
		ok = SuccessOrNotModified
	}
	h := &HTTP{transports: make([]*http.Transport, conns), request: request, ok: ok}
	for i := range h.transports {
		h.transports[i] = &http.Transport{
			Proxy:               nil, // loopback only: never through HTTP_PROXY
			DialContext:         (&net.Dialer{Timeout: 2 * time.Second}).DialContext,
			MaxConnsPerHost:     1,
			MaxIdleConnsPerHost: 1,
			IdleConnTimeout:     time.Minute,
			DisableCompression:  true, // measure the bytes the service sends, not a gzip round
		}
	}
	return h
}

// SuccessOrNotModified accepts 2xx answers and 304 Not Modified.
func SuccessOrNotModified(status int) bool {
	return (status >= 200 && status < 300) || status == http.StatusNotModified
}

// Op sends one request for worker, reads the whole answer and fails on a
// transport error or a status ok rejects. It is Config.Op.
func (h *HTTP) Op(ctx context.Context, worker int) error {
	req, err := h.request(ctx, worker)
	if err != nil {
		return fmt.Errorf("build request: %w", err)
	}
	resp, err := h.transports[worker].RoundTrip(req)
	if err != nil {
		return err
	}
	_, err = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if err != nil {
		return fmt.Errorf("read body: %w", err)
	}
	if !h.ok(resp.StatusCode) {
		return fmt.Errorf("status %d", resp.StatusCode)
	}
	return nil
}

// Close closes every idle connection.
func (h *HTTP) Close() {
	for _, t := range h.transports {
		t.CloseIdleConnections()
	}
}

// GET returns a RequestFunc for a GET of url with header (which may be nil)
// on every request.
func GET(url string, header http.Header) RequestFunc {
	return func(ctx context.Context, _ int) (*http.Request, error) {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if err != nil {
			return nil, err
		}
		for k, v := range header {
			req.Header[k] = v
		}
		return req, nil
	}
}
