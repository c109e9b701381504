// Package httpserver runs a service's HTTP server over its whole life:
// health and readiness probes, Prometheus metrics, a span and metrics per
// request, panic recovery, and a graceful shutdown that lets requests in
// flight finish.
//
// The life has three phases, so that the kubelet's probes never meet a
// closed port: Listen binds the address first and answers probes while the
// service connects to its stores; Serve routes traffic until its context
// ends and then drains the requests in flight; Close, the last thing the
// service does, waits for the next readiness probe and closes the listener.
package httpserver

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/gorilla/mux"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/travluk/ecom/services/platform/httproute"
)

// Timeouts of the server. The write timeout leaves room for the longest
// request a service is designed to hold open (a buy waits up to 5 s for its
// order), and the header timeout bounds slow-loris clients.
const (
	readHeaderTimeout = 5 * time.Second
	readTimeout       = 30 * time.Second
	writeTimeout      = 60 * time.Second
	idleTimeout       = 120 * time.Second
	maxHeaderBytes    = 64 << 10

	defaultShutdownTimeout = 10 * time.Second
	defaultStartWait       = 4 * time.Second
)

// Check is one readiness probe: a named dependency and how to ask whether
// it answers. Probe must honour its context, which has a deadline of 1 s
// (2 s until the check has passed once: its first run dials).
type Check struct {
	Name  string
	Probe func(context.Context) error
	// Optional marks a dependency the service still serves without (a
	// cache): its failure shows in /readyz as "degraded" but keeps the
	// instance ready, so losing it never takes every replica out of the
	// load balancer at once.
	Optional bool
}

// Options configure Listen and Run. Handler and Checks are Run's; a
// service that listens first passes them to Serve instead.
type Options struct {
	// Addr is the listen address, such as ":8080"; empty means ":http".
	Addr string
	// Handler serves every path but /healthz, /readyz and /metrics. When it
	// is a *mux.Router, metrics and spans are labelled with its route
	// templates, and the server wraps each of its routes' handlers (once)
	// so that a request names its route without being matched twice; add
	// routes before serving.
	Handler http.Handler
	// Checks are run concurrently by /readyz, each with a 1 s timeout (2 s
	// until it has passed once), and once when Serve starts.
	Checks []Check
	// Logger receives server errors and recovered panics; nil discards.
	Logger *slog.Logger
	// Registry is served at /metrics, with the Go and process collectors
	// added; nil means a new registry.
	Registry *prometheus.Registry
	// ShutdownTimeout bounds the drain of requests in flight; zero means
	// 10 s.
	ShutdownTimeout time.Duration
	// StartWait is how long a request that arrives before Serve waits for it
	// before answering 503 "starting"; zero means 4 s, under the charts'
	// startup probe timeout of 5 s.
	StartWait time.Duration
	// OnListen, if set, is called once the listener is bound, with its
	// address (useful with Addr "127.0.0.1:0" in tests).
	OnListen func(net.Addr)
}

// Server is one service's HTTP server; see the package comment for its
// phases.
type Server struct {
	srv             *http.Server
	logger          *slog.Logger
	registry        *prometheus.Registry
	shutdownTimeout time.Duration
	startWait       time.Duration
	serveErr        chan error

	app      *routes       // set by Serve before it closes serving
	serving  chan struct{} // closed by Serve; app may be read after it
	stopping atomic.Bool
	inFlight atomic.Int64 // requests to app, for the drain
	probes   probeClock
}

// routes is what Serve adds to a listening server.
type routes struct {
	handler http.Handler
	checks  []Check
	passed  []atomic.Bool // checks[i] has passed once: it gets checkTimeout
}

// Listen binds o.Addr and serves at once: /metrics answers, and every
// other request waits up to StartWait for Serve, then answers 503
// "starting". Requests see ctx's values but not its cancellation, so that
// stopping does not abort them. o.Handler and o.Checks are ignored: Serve
// takes them.
func Listen(ctx context.Context, o Options) (*Server, error) {
	logger := o.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	reg := o.Registry
	if reg == nil {
		reg = prometheus.NewRegistry()
	}
	if err := registerRuntimeCollectors(reg); err != nil {
		return nil, err
	}
	s := &Server{
		logger:          logger,
		registry:        reg,
		shutdownTimeout: cmp.Or(o.ShutdownTimeout, defaultShutdownTimeout),
		startWait:       cmp.Or(o.StartWait, defaultStartWait),
		serveErr:        make(chan error, 1),
		serving:         make(chan struct{}),
	}
	top := http.NewServeMux()
	top.Handle("GET /healthz", http.HandlerFunc(s.healthz))
	top.Handle("GET /readyz", http.HandlerFunc(s.readyz))
	top.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{Registry: reg}))
	// Other methods on the probes get a 405 with Allow rather than the
	// app's 404; GET patterns answer HEAD already.
	for _, p := range []string{"/healthz", "/readyz", "/metrics"} {
		top.Handle(p, httproute.NotAllowed(http.MethodGet))
	}
	top.Handle("/", http.HandlerFunc(s.serveApp))

	ln, err := net.Listen("tcp", o.Addr)
	if err != nil {
		return nil, fmt.Errorf("httpserver: listen on %q: %w", o.Addr, err)
	}
	s.srv = &http.Server{
		Handler:           top,
		ReadHeaderTimeout: readHeaderTimeout,
		ReadTimeout:       readTimeout,
		WriteTimeout:      writeTimeout,
		IdleTimeout:       idleTimeout,
		MaxHeaderBytes:    maxHeaderBytes,
		ErrorLog:          slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
		BaseContext:       func(net.Listener) context.Context { return context.WithoutCancel(ctx) },
	}
	logger.Info("http server listening", "addr", ln.Addr().String())
	if o.OnListen != nil {
		o.OnListen(ln.Addr())
	}
	go func() { s.serveErr <- s.srv.Serve(ln) }()
	return s, nil
}

// Serve routes traffic to handler and runs checks for /readyz until ctx is
// done, then drains: requests in flight get up to ShutdownTimeout to
// finish, while the listener stays open for probes (the kubelet keeps
// probing a pod that is being stopped). It returns nil after a clean drain
// and an error when serving fails or the drain timed out. Call Serve once.
func (s *Server) Serve(ctx context.Context, handler http.Handler, checks ...Check) error {
	if handler == nil {
		return errors.New("httpserver: Serve: handler is nil")
	}
	if router, ok := handler.(*mux.Router); ok {
		tagRoutes(router)
	}
	s.app = &routes{handler: instrument(s.registry, s.logger)(handler), checks: checks, passed: make([]atomic.Bool, len(checks))}
	close(s.serving)
	// Dial the dependencies now rather than on the first readiness probe,
	// which the kubelet sends only once the startup probe has passed.
	go s.app.runChecks(context.WithoutCancel(ctx))

	select {
	case err := <-s.serveErr:
		return fmt.Errorf("httpserver: serve: %w", err)
	case <-ctx.Done():
	}
	s.stopping.Store(true)
	// Connections close after their current request from now on.
	s.srv.SetKeepAlivesEnabled(false)
	s.logger.Info("http server draining", "timeout", s.shutdownTimeout)
	if err := s.drain(s.shutdownTimeout); err != nil {
		return err
	}
	s.logger.Info("http server drained")
	return nil
}

// drain waits until no request to the app is in flight.
func (s *Server) drain(timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for s.inFlight.Load() > 0 {
		if time.Now().After(deadline) {
			return fmt.Errorf("httpserver: shutdown: %d requests still in flight after %s", s.inFlight.Load(), timeout)
		}
		time.Sleep(10 * time.Millisecond)
	}
	return nil
}

// Close closes the listener and every connection. When something has been
// polling /readyz (the kubelet, every periodSeconds), it first waits for
// that poller's next probe, so that the process exits just after a probe
// it answered and the kubelet, which keeps probing a pod until its
// containers are gone, does not record a refused probe as a warning. The
// wait is bounded by one and a half observed periods, at most 10 s. A
// failure is logged as well as returned, so that a deferred Close may drop
// it.
func (s *Server) Close() error {
	s.stopping.Store(true)
	if next, wait := s.probes.awaitNext(); wait > 0 {
		s.logger.Info("http server closing after the next readiness probe", "within", wait)
		select {
		case <-next:
		case <-time.After(wait):
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	if err := s.srv.Shutdown(ctx); err != nil {
		_ = s.srv.Close()
		s.logger.Warn("http server closed with connections still open", "error", err)
		return fmt.Errorf("httpserver: close: %w", err)
	}
	s.logger.Info("http server stopped")
	return nil
}

// Run listens, serves until ctx is done and closes: the whole life for a
// caller with nothing to do between binding and serving.
func Run(ctx context.Context, o Options) error {
	if o.Handler == nil {
		return errors.New("httpserver: Options.Handler is nil")
	}
	s, err := Listen(ctx, o)
	if err != nil {
		return err
	}
	serveErr := s.Serve(ctx, o.Handler, o.Checks...)
	closeErr := s.Close()
	return errors.Join(serveErr, closeErr)
}

// serveApp hands a request to the app. Before Serve it waits up to
// StartWait for it, so that the first requests after the port opens are
// held rather than refused, and answers 503 "starting" if it does not come.
func (s *Server) serveApp(w http.ResponseWriter, r *http.Request) {
	app := s.awaitApp(r.Context())
	if app == nil {
		writeStarting(w)
		return
	}
	s.inFlight.Add(1)
	defer s.inFlight.Add(-1)
	app.handler.ServeHTTP(w, r)
}

// awaitApp returns what Serve gave, waiting up to StartWait for it; nil
// when it did not come in time.
func (s *Server) awaitApp(ctx context.Context) *routes {
	select {
	case <-s.serving:
		return s.app
	default:
	}
	t := time.NewTimer(s.startWait)
	defer t.Stop()
	select {
	case <-s.serving:
		return s.app
	case <-t.C:
	case <-ctx.Done():
	}
	return nil
}

// registerRuntimeCollectors adds the Go and process collectors, accepting
// a registry where the caller already added them.
func registerRuntimeCollectors(reg prometheus.Registerer) error {
	for _, c := range []prometheus.Collector{
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	} {
		if err := reg.Register(c); err != nil {
			if _, ok := errors.AsType[prometheus.AlreadyRegisteredError](err); !ok {
				return fmt.Errorf("httpserver: register collector: %w", err)
			}
		}
	}
	return nil
}
