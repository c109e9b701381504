package httpserver

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"runtime/debug"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/mux"
	"github.com/prometheus/client_golang/prometheus"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"

	"github.com/travluk/ecom/services/platform/problem"
)

// unmatched is the route label of requests no route matched, so that
// scanners probing random paths cannot blow up the metric's cardinality.
const unmatched = "unmatched"

const instrumentationName = "github.com/travluk/ecom/services/platform/httpserver"

type metrics struct {
	requests *prometheus.CounterVec
	duration *prometheus.HistogramVec
	// series caches the counter and observer of each label set seen, so
	// that a request does not hash its labels again; the labels are
	// bounded (route templates, standard methods, status codes), and so
	// is the cache.
	series sync.Map // seriesKey → *seriesPair
}

type seriesKey struct {
	route, method string
	code          int
}

type seriesPair struct {
	requests prometheus.Counter
	duration prometheus.Observer
}

// observe counts one request and its duration.
func (m *metrics) observe(route, method string, code int, took time.Duration) {
	k := seriesKey{route: route, method: method, code: code}
	v, ok := m.series.Load(k)
	if !ok {
		v, _ = m.series.LoadOrStore(k, &seriesPair{
			requests: m.requests.WithLabelValues(route, method, strconv.Itoa(code)),
			duration: m.duration.WithLabelValues(route, method),
		})
	}
	pair := v.(*seriesPair)
	pair.requests.Inc()
	pair.duration.Observe(took.Seconds())
}

// tracerCache remembers the tracer of the last global tracer provider seen,
// since asking a provider for a tracer takes a lock and a map lookup.
type tracerCache struct {
	last atomic.Pointer[providerTracer]
}

type providerTracer struct {
	provider trace.TracerProvider
	tracer   trace.Tracer
}

// get returns the tracer of the global provider, which telemetry.Setup
// may replace at any time.
func (c *tracerCache) get() trace.Tracer {
	tp := otel.GetTracerProvider()
	if last := c.last.Load(); last != nil && last.provider == tp {
		return last.tracer
	}
	t := tp.Tracer(instrumentationName)
	c.last.Store(&providerTracer{provider: tp, tracer: t})
	return t
}

// newMetrics registers the request metrics, or reuses the ones already in
// reg, so that instrumenting twice with one registry does not panic.
func newMetrics(reg prometheus.Registerer) *metrics {
	requests := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "http_requests_total",
		Help: "HTTP requests served, by route template, method and status code.",
	}, []string{"route", "method", "code"})
	duration := prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "http_request_duration_seconds",
		Help:    "Time to serve HTTP requests, by route template and method.",
		Buckets: prometheus.DefBuckets,
	}, []string{"route", "method"})
	return &metrics{
		requests: register(reg, requests),
		duration: register(reg, duration),
	}
}

func register[C prometheus.Collector](reg prometheus.Registerer, c C) C {
	if err := reg.Register(c); err != nil {
		if are, ok := errors.AsType[prometheus.AlreadyRegisteredError](err); ok {
			if existing, ok := are.ExistingCollector.(C); ok {
				return existing
			}
		}
		// A clash with a different collector of the same name is a wiring
		// bug that must show at startup.
		panic(fmt.Sprintf("httpserver: register metrics: %v", err))
	}
	return c
}

// Instrument returns the middleware Run puts around every handler: an
// OpenTelemetry server span (continuing a W3C traceparent, through the
// global propagator and tracer provider that telemetry.Setup installs),
// request metrics in reg labelled with the gorilla/mux route template, a
// request id (X-Request-Id), one log line per request, and recovery that
// answers a panic with a 500 problem. Run already applies it;
// add it to a router only when serving without Run, or requests are counted
// twice. Recovered panics are logged with slog.Default.
func Instrument(reg prometheus.Registerer) mux.MiddlewareFunc {
	return instrument(reg, slog.Default())
}

func instrument(reg prometheus.Registerer, logger *slog.Logger) mux.MiddlewareFunc {
	m := newMetrics(reg)
	var tracers tracerCache
	return func(next http.Handler) http.Handler {
		var names spanNames
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			start := time.Now()
			method := methodLabel(r.Method)
			// Inside a router (Instrument as its middleware) the route is
			// known now; around one, the tagged route handler names it.
			route := currentRoute(r)

			// The global propagator and provider are read per request: they
			// are set once by telemetry.Setup, possibly after this
			// middleware was built.
			ctx := otel.GetTextMapPropagator().Extract(r.Context(), propagation.HeaderCarrier(r.Header))
			ctx, span := tracers.get().Start(ctx, names.get(r.Method, method, route), trace.WithSpanKind(trace.SpanKindServer))
			defer span.End()

			id := requestID(r.Header.Get(requestIDHeader))
			w.Header().Set(requestIDHeader, id)
			rec := &statusRecorder{ResponseWriter: w}
			abort := serveRecovering(rec, r.WithContext(ctx), next, logger)
			if route == "" {
				route = rec.route
			}
			if route == "" {
				// Not served by a tagged route: unmatched, or refused by a
				// router middleware before its route handler ran.
				route = matchRoute(next, r)
			}

			code := rec.statusCode()
			// The attributes are set at the end, and only on spans that
			// are recorded: telemetry's samplers decide on the parent
			// alone, and an unrecorded span would allocate them for
			// nothing on every request.
			if span.IsRecording() {
				span.SetName(names.get(r.Method, method, route))
				span.SetAttributes(
					attribute.String("http.request.method", r.Method),
					attribute.String("url.path", r.URL.Path),
					attribute.String("http.route", route),
					attribute.Int("http.response.status_code", code),
				)
				if code >= 500 {
					span.SetStatus(codes.Error, http.StatusText(code))
				}
			}
			took := time.Since(start)
			m.observe(route, method, code, took)
			logRequest(ctx, logger, r.Method, route, code, took, id, span.SpanContext())
			if abort != nil {
				panic(abort)
			}
		})
	}
}

// requestIDHeader carries a request's id: the client's or the proxy's when
// it sent a usable one, else one made here; the answer carries it back.
const requestIDHeader = "X-Request-Id"

// requestID returns the id of a request whose X-Request-Id is given: that
// value when it is 1 to 128 letters, digits and ".-_:" (nothing that could
// forge or break a log line), else 16 new hex digits, unique enough to find
// one request's lines (not a secret: math/rand).
func requestID(given string) string {
	if len(given) >= 1 && len(given) <= 128 && isIDText(given) {
		return given
	}
	return fmt.Sprintf("%016x", rand.Uint64())
}

func isIDText(s string) bool {
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9', c == '.', c == '-', c == '_', c == ':':
		default:
			return false
		}
	}
	return true
}

// logRequest writes the request's line at info level: method, route
// template (never the raw path, which can hold ids and personal data),
// status, duration, request id and, when the request is traced, trace id.
func logRequest(ctx context.Context, logger *slog.Logger, method, route string, status int, took time.Duration,
	id string, sc trace.SpanContext) {
	if !logger.Enabled(ctx, slog.LevelInfo) {
		return
	}
	attrs := []slog.Attr{
		slog.String("method", method),
		slog.String("route", route),
		slog.Int("status", status),
		slog.Float64("duration_ms", float64(took.Microseconds())/1000),
		slog.String("request_id", id),
	}
	if sc.HasTraceID() {
		attrs = append(attrs, slog.String("trace_id", sc.TraceID().String()))
	}
	logger.LogAttrs(ctx, slog.LevelInfo, "request", attrs...)
}

// tagRoutes wraps the handler of every route of router, once, so that a
// request served by it tells the instrument middleware around the router
// its route template: finding the route again after the fact would match
// the request a second time.
func tagRoutes(router *mux.Router) {
	// Walk fails only with what the function returns, which is never an error.
	_ = router.Walk(func(route *mux.Route, _ *mux.Router, _ []*mux.Route) error {
		h := route.GetHandler()
		if h == nil {
			return nil // a subrouter's route; Walk visits its routes too
		}
		if _, done := h.(routeTag); done {
			return nil
		}
		tmpl, err := route.GetPathTemplate()
		if err != nil {
			return nil // no path: left to matchRoute
		}
		route.Handler(routeTag{template: tmpl, next: h})
		return nil
	})
}

// routeTag records its route template in the statusRecorder under the
// response writer, then serves the route.
type routeTag struct {
	template string
	next     http.Handler
}

func (t routeTag) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	for rw := w; rw != nil; {
		if rec, ok := rw.(*statusRecorder); ok {
			rec.route = t.template
			break
		}
		u, ok := rw.(interface{ Unwrap() http.ResponseWriter })
		if !ok {
			break
		}
		rw = u.Unwrap()
	}
	t.next.ServeHTTP(w, r)
}

// spanNames caches span names ("GET /api/products/{productId}") per
// standard method and route, so that a request does not build its own.
type spanNames struct{ names sync.Map } // [2]string{method, route} → string

// get returns the span name of a request: its method, and its route
// template when it matched one. label is methodLabel(method); names of
// other methods are built each time, as they are unbounded.
func (n *spanNames) get(method, label, route string) string {
	if route == unmatched || route == "" {
		return method
	}
	if label != method {
		return method + " " + route
	}
	k := [2]string{method, route}
	if v, ok := n.names.Load(k); ok {
		return v.(string)
	}
	name := method + " " + route
	n.names.Store(k, name)
	return name
}

// serveRecovering answers a panic with a 500 problem when nothing was
// written yet. It returns a value to panic with once the request is
// recorded, when the connection must be dropped: for http.ErrAbortHandler,
// which is how a handler asks net/http for that, and for a panic after part
// of the response went out, since only a dropped connection tells the
// client the response is not whole.
func serveRecovering(w *statusRecorder, r *http.Request, next http.Handler, logger *slog.Logger) (abort any) {
	defer func() {
		v := recover()
		if v == nil {
			return
		}
		if err, ok := v.(error); ok && errors.Is(err, http.ErrAbortHandler) {
			abort = v
			return
		}
		logger.ErrorContext(r.Context(), "panic serving request",
			"method", r.Method, "path", r.URL.Path, "panic", fmt.Sprint(v), "stack", string(debug.Stack()))
		if !w.wroteHeader {
			problem.Write(w, problem.Internal())
			return
		}
		w.status = http.StatusInternalServerError
		abort = http.ErrAbortHandler
	}()
	next.ServeHTTP(w, r)
	return nil
}

// currentRoute returns the template of the gorilla/mux route serving r
// when r is inside a router, and "" otherwise.
func currentRoute(r *http.Request) string {
	if route := mux.CurrentRoute(r); route != nil {
		if tmpl, err := route.GetPathTemplate(); err == nil {
			return tmpl
		}
	}
	return ""
}

// matchRoute returns the template of next's route that matches r when next
// is a gorilla/mux router, and "unmatched" otherwise.
func matchRoute(next http.Handler, r *http.Request) string {
	router, ok := next.(*mux.Router)
	if !ok {
		return unmatched
	}
	var match mux.RouteMatch
	if !router.Match(r, &match) || match.MatchErr != nil || match.Route == nil {
		return unmatched
	}
	tmpl, err := match.Route.GetPathTemplate()
	if err != nil {
		return unmatched
	}
	return tmpl
}

// methodLabel keeps the method label to the standard methods; anything
// else a client invents is "other".
func methodLabel(method string) string {
	switch method {
	case http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch,
		http.MethodDelete, http.MethodOptions, http.MethodConnect, http.MethodTrace:
		return method
	}
	return "other"
}

// statusRecorder remembers the status code written, and the route that
// served the request when a routeTag said so. Unwrap lets
// http.ResponseController reach the Flusher and deadlines underneath.
type statusRecorder struct {
	http.ResponseWriter
	status      int
	wroteHeader bool
	route       string // set by routeTag
}

func (s *statusRecorder) WriteHeader(code int) {
	if !s.wroteHeader && code >= 200 {
		s.status = code
		s.wroteHeader = true
	}
	s.ResponseWriter.WriteHeader(code)
}

func (s *statusRecorder) Write(b []byte) (int, error) {
	if !s.wroteHeader {
		s.status = http.StatusOK
		s.wroteHeader = true
	}
	return s.ResponseWriter.Write(b)
}

func (s *statusRecorder) Unwrap() http.ResponseWriter { return s.ResponseWriter }

func (s *statusRecorder) statusCode() int {
	if s.status == 0 {
		// A handler that wrote nothing has sent 200.
		return http.StatusOK
	}
	return s.status
}
