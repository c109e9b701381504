package loadgen

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"time"
)

// GETLoad sends the same GET over one keep-alive HTTP/1.1 connection per
// worker, the way wrk does: the request bytes are built once, each worker
// writes them on its own connection and reads the answer with
// http.ReadResponse (so status line, headers, Content-Length and chunked
// bodies are parsed as net/http parses them). It spends far less CPU per
// request than an http.Transport, whose two goroutines per connection hand
// every request and answer over channels; on a small machine the load
// generator's share of the CPU is then left to the servers it measures.
// Build it with NewGET and Close it after the run.
type GETLoad struct {
	addr    string
	request []byte
	ok      func(status int) bool
	workers []getWorker
}

type getWorker struct {
	conn net.Conn
	r    *bufio.Reader
	// ctx is the run context whose end, through stop, interrupts the
	// connection's reads and writes.
	ctx  context.Context
	stop func() bool
}

// NewGET returns the client side of a load of GETs of rawURL (an http://
// URL) with header (which may be nil) for conns workers. ok decides which
// statuses succeed; nil means 2xx and 304.
func NewGET(conns int, rawURL string, header http.Header, ok func(status int) bool) (*GETLoad, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return nil, err
	}
	if u.Scheme != "http" || u.Host == "" {
		return nil, fmt.Errorf("loadgen: %q is not an http:// URL", rawURL)
	}
	if ok == nil {
		ok = SuccessOrNotModified
	}
	addr := u.Host
	if u.Port() == "" {
		addr = net.JoinHostPort(u.Hostname(), "80")
	}
	var b strings.Builder
	fmt.Fprintf(&b, "GET %s HTTP/1.1\r\nHost: %s\r\nUser-Agent: travluk-loadgen\r\n", u.RequestURI(), u.Host)
	keys := make([]string, 0, len(header))
	for k := range header {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		for _, v := range header[k] {
			if strings.ContainsAny(k+v, "\r\n") {
				return nil, fmt.Errorf("loadgen: header %q has a line break", k)
			}
			fmt.Fprintf(&b, "%s: %s\r\n", http.CanonicalHeaderKey(k), v)
		}
	}
	b.WriteString("\r\n")
	return &GETLoad{addr: addr, request: []byte(b.String()), ok: ok, workers: make([]getWorker, conns)}, nil
}

// Op sends one request for worker, reads the whole answer and fails on a
// transport error or a status ok rejects; a failed connection is closed and
// the next request dials again. It is Config.Op.
func (g *GETLoad) Op(ctx context.Context, worker int) error {
	w := &g.workers[worker]
	if w.conn == nil {
		conn, err := (&net.Dialer{Timeout: 2 * time.Second}).DialContext(ctx, "tcp", g.addr)
		if err != nil {
			return err
		}
		w.conn, w.r = conn, bufio.NewReaderSize(conn, 16<<10)
	}
	if w.ctx != ctx {
		w.watch(ctx)
	}
	resp, err := w.roundTrip(g.request)
	if err != nil {
		w.close()
		if ctxErr := ctx.Err(); ctxErr != nil {
			return ctxErr
		}
		return err
	}
	if resp.Close {
		w.close() // the server ends the connection after this answer
	}
	if !g.ok(resp.StatusCode) {
		return fmt.Errorf("status %d", resp.StatusCode)
	}
	return nil
}

// watch makes the end of ctx interrupt the connection's I/O.
func (w *getWorker) watch(ctx context.Context) {
	if w.stop != nil {
		w.stop()
	}
	w.ctx = ctx
	conn := w.conn
	w.stop = context.AfterFunc(ctx, func() { _ = conn.SetDeadline(time.Unix(1, 0)) })
}

func (w *getWorker) roundTrip(request []byte) (*http.Response, error) {
	if _, err := w.conn.Write(request); err != nil {
		return nil, err
	}
	resp, err := http.ReadResponse(w.r, nil)
	if err != nil {
		return nil, err
	}
	_, err = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if err != nil {
		return nil, fmt.Errorf("read body: %w", err)
	}
	return resp, nil
}

func (w *getWorker) close() {
	if w.stop != nil {
		w.stop()
	}
	if w.conn != nil {
		_ = w.conn.Close()
	}
	w.conn, w.r, w.ctx, w.stop = nil, nil, nil, nil
}

// Close closes every connection. Call it after the run, never during one.
func (g *GETLoad) Close() {
	for i := range g.workers {
		g.workers[i].close()
	}
}
