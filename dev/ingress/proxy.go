package ingress

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"sync"
	"time"
)

// Proxy routes each request to the service its path belongs to, the way the
// cluster's ingress controller does. It is built for the developer's machine
// and for benchmarks, so it keeps connections to the services alive and adds
// nothing on the hot path but a table scan.
type Proxy struct {
	routes   []Route
	backends map[string]*httputil.ReverseProxy
}

// NewProxy returns a proxy for routes that sends each service's traffic to
// the host:port in backends. It fails when a route names a service that has
// no backend, so a missing service is found at start and not on first use.
func NewProxy(routes []Route, backends map[string]string, log *slog.Logger) (*Proxy, error) {
	transport := &http.Transport{
		Proxy:               nil,
		DialContext:         (&net.Dialer{Timeout: 2 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		MaxIdleConns:        1024,
		MaxIdleConnsPerHost: 512,
		IdleConnTimeout:     90 * time.Second,
	}
	p := &Proxy{routes: routes, backends: make(map[string]*httputil.ReverseProxy)}
	for _, r := range routes {
		if _, done := p.backends[r.Service]; done {
			continue
		}
		addr, ok := backends[r.Service]
		if !ok {
			return nil, fmt.Errorf("ingress: no backend address for service %q", r.Service)
		}
		target := &url.URL{Scheme: "http", Host: addr}
		service := r.Service
		p.backends[service] = &httputil.ReverseProxy{
			Rewrite: func(pr *httputil.ProxyRequest) {
				pr.SetURL(target)
				pr.SetXForwarded()
			},
			Transport:  transport,
			BufferPool: buffers,
			ErrorHandler: func(w http.ResponseWriter, req *http.Request, err error) {
				log.Warn("ingress: backend unreachable", "service", service, "path", req.URL.Path, "err", err)
				writeProblem(w, http.StatusBadGateway, "bad_gateway", "The "+service+" service is not reachable.")
			},
		}
	}
	return p, nil
}

// buffers lends the proxies their copy buffers, which httputil.ReverseProxy
// would otherwise allocate (32 KiB) for every response.
var buffers = &bufferPool{}

type bufferPool struct{ pool sync.Pool }

func (b *bufferPool) Get() []byte {
	if p, ok := b.pool.Get().(*[]byte); ok {
		return *p
	}
	return make([]byte, 32<<10)
}

func (b *bufferPool) Put(buf []byte) { b.pool.Put(&buf) }

// ServeHTTP forwards the request along the longest matching route, or answers
// 404 when no route matches.
func (p *Proxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	route, ok := Lookup(p.routes, r.URL.Path)
	if !ok {
		writeProblem(w, http.StatusNotFound, "not_found", "No service serves "+r.URL.Path+".")
		return
	}
	p.backends[route.Service].ServeHTTP(w, r)
}

// Lookup returns the longest route in routes that matches path; an exact
// route wins over a prefix of the same length, as in Kubernetes.
func Lookup(routes []Route, path string) (Route, bool) {
	var best Route
	found := false
	for _, r := range routes {
		if !r.Match(path) {
			continue
		}
		if !found || len(r.Prefix) > len(best.Prefix) || (len(r.Prefix) == len(best.Prefix) && r.Exact) {
			best, found = r, true
		}
	}
	return best, found
}

// writeProblem answers in the RFC 9457 shape every service uses, so a client
// cannot tell the stand-in's errors from the services' own.
func writeProblem(w http.ResponseWriter, status int, code, detail string) {
	w.Header().Set("Content-Type", "application/problem+json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]any{
		"type":   "about:blank",
		"title":  http.StatusText(status),
		"status": status,
		"detail": detail,
		"code":   code,
	})
}
