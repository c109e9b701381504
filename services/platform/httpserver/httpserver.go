// Package httpserver runs a service's HTTP server: health and readiness
// probes, Prometheus metrics, a span and metrics per request, panic
// recovery, and a graceful shutdown that lets requests in flight finish.
package httpserver

import (
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
)

// Check is one readiness probe: a named dependency and how to ask whether
// it answers. Probe must honour its context, which has a 1 s deadline.
type Check struct {
	Name  string
	Probe func(context.Context) error
	// Optional marks a dependency the service still serves without (a
	// cache): its failure shows in /readyz as "degraded" but keeps the
	// instance ready, so losing it never takes every replica out of the
	// load balancer at once.
	Optional bool
}

// Options configure Run. Only Handler is required.
type Options struct {
	// Addr is the listen address, such as ":8080"; empty means ":http".
	Addr string
	// Handler serves every path but /healthz, /readyz and /metrics. When it
	// is a *mux.Router, metrics and spans are labelled with its route
	// templates, and Run wraps each of its routes' handlers (once) so that
	// a request names its route without being matched twice; add routes
	// before calling Run.
	Handler http.Handler
	// Logger receives server errors and recovered panics; nil discards.
	Logger *slog.Logger
	// Registry is served at /metrics, with the Go and process collectors
	// added; nil means a new registry.
	Registry *prometheus.Registry
	// Checks are run concurrently by /readyz, each with a 1 s timeout.
	Checks []Check
	// ShutdownTimeout bounds the graceful shutdown; zero means 10 s.
	ShutdownTimeout time.Duration
	// DrainDelay is how long /readyz answers 503 after ctx is done and
	// before the listener closes, so that a load balancer stops sending
	// new requests first; zero means no delay.
	DrainDelay time.Duration
	// OnListen, if set, is called once the listener is bound, with its
	// address (useful with Addr "127.0.0.1:0" in tests).
	OnListen func(net.Addr)
}

// Run serves until ctx is done, then shuts down gracefully: /readyz turns
// 503, and after DrainDelay the listener closes and requests in flight get
// up to ShutdownTimeout to finish. It returns nil after a clean shutdown,
// and an error when the address cannot be bound, serving fails, or the
// shutdown timed out (in which case remaining connections are closed).
// Requests see ctx's values but not its cancellation, so that shutting down
// does not abort them.
func Run(ctx context.Context, o Options) error {
	if o.Handler == nil {
		return errors.New("httpserver: Options.Handler is nil")
	}
	logger := o.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	reg := o.Registry
	if reg == nil {
		reg = prometheus.NewRegistry()
	}
	if err := registerRuntimeCollectors(reg); err != nil {
		return err
	}
	shutdownTimeout := o.ShutdownTimeout
	if shutdownTimeout <= 0 {
		shutdownTimeout = defaultShutdownTimeout
	}

	if router, ok := o.Handler.(*mux.Router); ok {
		tagRoutes(router)
	}

	var draining atomic.Bool
	top := http.NewServeMux()
	top.Handle("GET /healthz", http.HandlerFunc(healthz))
	top.Handle("GET /readyz", readyz(o.Checks, &draining, logger))
	top.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{Registry: reg}))
	top.Handle("/", instrument(reg, logger)(o.Handler))

	ln, err := net.Listen("tcp", o.Addr)
	if err != nil {
		return fmt.Errorf("httpserver: listen on %q: %w", o.Addr, err)
	}
	srv := &http.Server{
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

	serveErr := make(chan error, 1)
	go func() { serveErr <- srv.Serve(ln) }()

	select {
	case err := <-serveErr:
		return fmt.Errorf("httpserver: serve: %w", err)
	case <-ctx.Done():
	}

	draining.Store(true)
	if o.DrainDelay > 0 {
		logger.Info("http server draining", "delay", o.DrainDelay)
		time.Sleep(o.DrainDelay)
	}
	logger.Info("http server shutting down", "timeout", shutdownTimeout)
	shutdownCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), shutdownTimeout)
	defer cancel()
	if err := srv.Shutdown(shutdownCtx); err != nil {
		_ = srv.Close()
		return fmt.Errorf("httpserver: shutdown: %w", err)
	}
	if err := <-serveErr; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("httpserver: serve: %w", err)
	}
	logger.Info("http server stopped")
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
