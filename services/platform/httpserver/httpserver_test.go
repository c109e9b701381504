package httpserver

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/gorilla/mux"
	"github.com/prometheus/client_golang/prometheus"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/propagation"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
)

// server is a running Run for one test.
type server struct {
	url    string
	cancel context.CancelFunc
	done   chan error
}

func start(t *testing.T, o Options) *server {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	addr := make(chan net.Addr, 1)
	o.Addr = "127.0.0.1:0"
	o.OnListen = func(a net.Addr) { addr <- a }
	s := &server{cancel: cancel, done: make(chan error, 1)}
	go func() { s.done <- Run(ctx, o) }()
	select {
	case a := <-addr:
		s.url = "http://" + a.String()
	case err := <-s.done:
		t.Fatalf("Run: %v", err)
	case <-time.After(5 * time.Second):
		t.Fatal("server did not start")
	}
	t.Cleanup(func() {
		cancel()
		select {
		case <-s.done:
		case <-time.After(15 * time.Second):
			t.Error("server did not stop")
		}
	})
	return s
}

func get(t *testing.T, url string) (int, http.Header, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, string(body)
}

func testRouter() *mux.Router {
	r := mux.NewRouter()
	r.HandleFunc("/items/{id}", func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, "item "+mux.Vars(r)["id"])
	}).Methods(http.MethodGet)
	r.HandleFunc("/panic", func(http.ResponseWriter, *http.Request) {
		panic("boom: secret internals")
	})
	return r
}

func TestHealthz(t *testing.T) {
	s := start(t, Options{Handler: testRouter()})
	code, hdr, body := get(t, s.url+"/healthz")
	if code != 200 || hdr.Get("Content-Type") != "application/json" || strings.TrimSpace(body) != `{"status":"ok"}` {
		t.Errorf("GET /healthz = %d %q %s", code, hdr.Get("Content-Type"), body)
	}
}

// TestProbeMethods checks that the probes answer HEAD as GET without a body,
// and other methods with a 405 problem naming the methods they serve.
func TestProbeMethods(t *testing.T) {
	s := start(t, Options{Handler: testRouter()})
	tests := []struct {
		method, path string
		status       int
		allow        string
	}{
		{"HEAD", "/healthz", 200, ""},
		{"HEAD", "/readyz", 200, ""},
		{"HEAD", "/metrics", 200, ""},
		{"POST", "/healthz", 405, "GET, HEAD"},
		{"DELETE", "/readyz", 405, "GET, HEAD"},
		{"PUT", "/metrics", 405, "GET, HEAD"},
	}
	for _, tt := range tests {
		t.Run(tt.method+" "+tt.path, func(t *testing.T) {
			req, _ := http.NewRequest(tt.method, s.url+tt.path, nil)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			body, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != tt.status || resp.Header.Get("Allow") != tt.allow {
				t.Errorf("%s %s = %d Allow %q, want %d Allow %q", tt.method, tt.path,
					resp.StatusCode, resp.Header.Get("Allow"), tt.status, tt.allow)
			}
			if tt.method == "HEAD" && len(body) != 0 {
				t.Errorf("HEAD %s sent %d body bytes", tt.path, len(body))
			}
			if tt.status == 405 && resp.Header.Get("Content-Type") != "application/problem+json" {
				t.Errorf("405 Content-Type = %q", resp.Header.Get("Content-Type"))
			}
		})
	}
}

func TestReadyz(t *testing.T) {
	ok := func(context.Context) error { return nil }
	fail := func(context.Context) error { return errors.New("dial tcp 10.1.2.3:6379: connection refused") }
	slowButFine := func(ctx context.Context) error {
		select {
		case <-time.After(700 * time.Millisecond):
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	hangs := func(context.Context) error { select {} }

	tests := []struct {
		name       string
		checks     []Check
		wantStatus int
		want       map[string]any
		maxTime    time.Duration
	}{
		{
			name:       "all pass",
			checks:     []Check{{Name: "mongodb", Probe: ok}, {Name: "redis", Probe: ok}},
			wantStatus: 200,
			want:       map[string]any{"status": "ok", "checks": map[string]any{"mongodb": "ok", "redis": "ok"}},
		},
		{
			name:       "no checks",
			wantStatus: 200,
			want:       map[string]any{"status": "ok", "checks": map[string]any{}},
		},
		{
			name:       "one fails",
			checks:     []Check{{Name: "mongodb", Probe: ok}, {Name: "redis", Probe: fail}},
			wantStatus: 503,
			want: map[string]any{
				"type": "https://travluk.dev/problems/not_ready", "title": "Service Unavailable", "status": 503.0,
				"code": "not_ready", "detail": "Failing checks: redis.",
				"errors": []any{map[string]any{"field": "redis", "message": "failed"}},
			},
		},
		{
			name:       "an optional check fails: degraded but ready",
			checks:     []Check{{Name: "mongodb", Probe: ok}, {Name: "redis", Probe: fail, Optional: true}},
			wantStatus: 200,
			want:       map[string]any{"status": "degraded", "checks": map[string]any{"mongodb": "ok", "redis": "failed"}},
		},
		{
			name:       "a required check fails beside a failing optional one",
			checks:     []Check{{Name: "mongodb", Probe: fail}, {Name: "redis", Probe: fail, Optional: true}},
			wantStatus: 503,
			want: map[string]any{
				"type": "https://travluk.dev/problems/not_ready", "title": "Service Unavailable", "status": 503.0,
				"code": "not_ready", "detail": "Failing checks: mongodb.",
				"errors": []any{map[string]any{"field": "mongodb", "message": "failed"}},
			},
		},
		{
			name:       "checks run concurrently",
			checks:     []Check{{Name: "a", Probe: slowButFine}, {Name: "b", Probe: slowButFine}, {Name: "c", Probe: slowButFine}},
			wantStatus: 200,
			want:       map[string]any{"status": "ok", "checks": map[string]any{"a": "ok", "b": "ok", "c": "ok"}},
			maxTime:    1500 * time.Millisecond,
		},
		{
			name:       "a hung check that never passed times out after 2s",
			checks:     []Check{{Name: "rabbitmq", Probe: hangs}, {Name: "mongodb", Probe: fail}},
			wantStatus: 503,
			want: map[string]any{
				"type": "https://travluk.dev/problems/not_ready", "title": "Service Unavailable", "status": 503.0,
				"code": "not_ready", "detail": "Failing checks: mongodb, rabbitmq.",
				"errors": []any{
					map[string]any{"field": "mongodb", "message": "failed"},
					map[string]any{"field": "rabbitmq", "message": "no answer within 2s"},
				},
			},
			maxTime: 2500 * time.Millisecond,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := start(t, Options{Handler: testRouter(), Checks: tt.checks})
			began := time.Now()
			code, _, body := get(t, s.url+"/readyz")
			if tt.maxTime > 0 && time.Since(began) > tt.maxTime {
				t.Errorf("/readyz took %v, want under %v", time.Since(began), tt.maxTime)
			}
			if code != tt.wantStatus {
				t.Errorf("status = %d, want %d", code, tt.wantStatus)
			}
			var got map[string]any
			if err := json.Unmarshal([]byte(body), &got); err != nil {
				t.Fatalf("body %q: %v", body, err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("body mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

// TestReadyzFirstDial: a dependency whose first connection takes longer
// than a ping (a Sentinel lookup, an AMQP handshake on a busy node) does
// not fail the first readiness probe, while one that has answered before
// and then hangs is reported within the usual second.
func TestReadyzFirstDial(t *testing.T) {
	var (
		dialed   = make(chan struct{})
		dialOnce sync.Once
		hang     atomic.Bool
	)
	// Like the drivers' lazy pools: the first caller starts the dial, and
	// every caller waits for it or for its own deadline.
	lazy := func(ctx context.Context) error {
		dialOnce.Do(func() {
			go func() { time.Sleep(1300 * time.Millisecond); close(dialed) }()
		})
		select {
		case <-dialed:
		case <-ctx.Done():
			return ctx.Err()
		}
		if hang.Load() {
			<-ctx.Done()
			return ctx.Err()
		}
		return nil
	}
	s := start(t, Options{Handler: testRouter(), Checks: []Check{{Name: "redis", Probe: lazy}}})

	if code, _, body := get(t, s.url+"/readyz"); code != 200 {
		t.Fatalf("first /readyz while the first dial takes 1.3s = %d %s, want 200", code, body)
	}
	hang.Store(true)
	began := time.Now()
	code, _, body := get(t, s.url+"/readyz")
	if code != 503 || !strings.Contains(body, "no answer within 1s") {
		t.Errorf("/readyz once the dependency hangs = %d %s, want 503 naming 1s", code, body)
	}
	if took := time.Since(began); took > 1500*time.Millisecond {
		t.Errorf("/readyz took %v once the check had passed, want about 1s", took)
	}
}

func TestMetrics(t *testing.T) {
	reg := prometheus.NewRegistry()
	s := start(t, Options{Handler: testRouter(), Registry: reg})
	for _, path := range []string{"/items/1", "/items/2", "/nowhere/42", "/panic"} {
		get(t, s.url+path)
	}
	_, _, body := get(t, s.url+"/metrics")
	for _, want := range []string{
		`http_requests_total{code="200",method="GET",route="/items/{id}"} 2`,
		`http_requests_total{code="404",method="GET",route="unmatched"} 1`,
		`http_requests_total{code="500",method="GET",route="/panic"} 1`,
		`http_request_duration_seconds_count{method="GET",route="/items/{id}"} 2`,
		"go_goroutines",
		"process_cpu_seconds_total",
	} {
		if !strings.Contains(body, want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
	if strings.Contains(body, "/nowhere/42") {
		t.Error("/metrics labels an unmatched path with the path itself")
	}
}

func TestPanicIsProblem(t *testing.T) {
	s := start(t, Options{Handler: testRouter()})
	code, hdr, body := get(t, s.url+"/panic")
	if code != 500 || hdr.Get("Content-Type") != "application/problem+json" {
		t.Errorf("GET /panic = %d %q", code, hdr.Get("Content-Type"))
	}
	if strings.Contains(body, "secret") || strings.Contains(body, "boom") {
		t.Errorf("500 body carries internals: %s", body)
	}
	// The server goes on serving after a panic.
	if code, _, _ := get(t, s.url+"/items/7"); code != 200 {
		t.Errorf("GET after panic = %d", code)
	}
}

func TestInstrumentAsRouterMiddleware(t *testing.T) {
	reg := prometheus.NewRegistry()
	r := testRouter()
	r.Use(Instrument(reg))
	// Instrumenting twice with one registry reuses the metrics.
	_ = Instrument(reg)
	srv := &http.Server{Handler: r}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })
	get(t, "http://"+ln.Addr().String()+"/items/3")
	n, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var found bool
	for _, mf := range n {
		if mf.GetName() != "http_requests_total" {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "route" && l.GetValue() == "/items/{id}" {
					found = true
				}
			}
		}
	}
	if !found {
		t.Error("no http_requests_total sample for route /items/{id}")
	}
}

func TestGracefulShutdown(t *testing.T) {
	entered := make(chan struct{})
	release := make(chan struct{})
	r := mux.NewRouter()
	r.HandleFunc("/slow", func(w http.ResponseWriter, r *http.Request) {
		close(entered)
		<-release
		_, _ = io.WriteString(w, "finished")
	})
	s := start(t, Options{Handler: r})

	type result struct {
		code int
		body string
		err  error
	}
	slow := make(chan result, 1)
	go func() {
		resp, err := http.Get(s.url + "/slow")
		if err != nil {
			slow <- result{err: err}
			return
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		slow <- result{code: resp.StatusCode, body: string(b)}
	}()
	<-entered
	s.cancel()

	// While draining, the port stays open: probes are answered, and the
	// readiness probe says "stopping" without touching the stores.
	waitFor(t, func() bool {
		code, _, body := get(t, s.url+"/readyz")
		return code == 200 && strings.Contains(body, `"stopping"`)
	})
	if code, _, _ := get(t, s.url+"/healthz"); code != 200 {
		t.Errorf("/healthz while draining = %d, want 200", code)
	}

	select {
	case err := <-s.done:
		t.Fatalf("Run returned %v with a request in flight", err)
	case <-time.After(300 * time.Millisecond):
	}
	close(release)
	res := <-slow
	if res.err != nil || res.code != 200 || res.body != "finished" {
		t.Errorf("in-flight request = %d %q %v, want 200 finished", res.code, res.body, res.err)
	}
	select {
	case err := <-s.done:
		if err != nil {
			t.Errorf("Run = %v, want nil", err)
		}
		s.done <- err // let the cleanup see it too
	case <-time.After(5 * time.Second):
		t.Fatal("Run did not return after the last request finished")
	}
	if _, err := http.Get(s.url + "/healthz"); err == nil {
		t.Error("the port still answers after Run returned")
	}
}

// listen starts a Server without serving it yet.
func listen(t *testing.T, o Options) (*Server, string) {
	t.Helper()
	addr := make(chan net.Addr, 1)
	o.Addr = "127.0.0.1:0"
	o.OnListen = func(a net.Addr) { addr <- a }
	s, err := Listen(context.Background(), o)
	if err != nil {
		t.Fatalf("Listen: %v", err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s, "http://" + (<-addr).String()
}

func TestProbesBeforeServe(t *testing.T) {
	t.Run("requests wait for Serve and then succeed", func(t *testing.T) {
		s, url := listen(t, Options{StartWait: 5 * time.Second})
		type answer struct {
			code int
			body string
			at   time.Time
		}
		paths := []string{"/healthz", "/readyz", "/items/1"}
		answers := make(map[string]chan answer)
		for _, path := range paths {
			answers[path] = make(chan answer, 1)
			go func() {
				code, _, body := get(t, url+path)
				answers[path] <- answer{code, body, time.Now()}
			}()
		}
		time.Sleep(200 * time.Millisecond) // the requests are waiting now
		served := time.Now()
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() {
			done <- s.Serve(ctx, testRouter(), Check{Name: "mongodb", Probe: func(context.Context) error { return nil }})
		}()
		for _, path := range paths {
			a := <-answers[path]
			if a.code != 200 || a.at.Before(served) {
				t.Errorf("%s = %d %s at %v, want 200 after Serve (%v)", path, a.code, a.body, a.at, served)
			}
		}
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Serve = %v", err)
		}
	})
	t.Run("a request gives up after StartWait", func(t *testing.T) {
		_, url := listen(t, Options{StartWait: 100 * time.Millisecond})
		for _, path := range []string{"/healthz", "/readyz", "/items/1"} {
			code, hdr, body := get(t, url+path)
			if code != 503 || hdr.Get("Retry-After") != "1" || !strings.Contains(body, `"starting"`) {
				t.Errorf("%s before Serve = %d Retry-After %q %s, want 503 starting", path, code, hdr.Get("Retry-After"), body)
			}
		}
	})
}

func TestCloseWaitsForTheNextReadinessProbe(t *testing.T) {
	s, url := listen(t, Options{})
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- s.Serve(ctx, testRouter()) }()

	// A poller like the kubelet: /readyz every 300 ms on a new connection
	// each time, until refused.
	const period = 300 * time.Millisecond
	kubelet := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
	var lastAnswered atomic.Int64
	polling := make(chan struct{})
	go func() {
		defer close(polling)
		for range 100 {
			resp, err := kubelet.Get(url + "/readyz")
			if err != nil {
				return
			}
			resp.Body.Close()
			lastAnswered.Store(time.Now().UnixNano())
			time.Sleep(period)
		}
	}()
	waitFor(t, func() bool { return lastAnswered.Load() != 0 })
	time.Sleep(2 * period) // two polls seen: the server knows the period

	cancel()
	if err := <-served; err != nil {
		t.Fatalf("Serve = %v", err)
	}
	closing := time.Now()
	if err := s.Close(); err != nil {
		t.Fatalf("Close = %v", err)
	}
	closed := time.Now()
	<-polling // the next poll was refused
	last := time.Unix(0, lastAnswered.Load())
	if last.Before(closing) {
		t.Errorf("the last probe answered came at %v, before Close began (%v): Close did not wait for it", last, closing)
	}
	if waited := closed.Sub(closing); waited > 2*period+time.Second {
		t.Errorf("Close took %v, want about one period (%v)", waited, period)
	}
}

func TestCloseWithoutProbesIsImmediate(t *testing.T) {
	s, url := listen(t, Options{})
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- s.Serve(ctx, testRouter()) }()
	waitFor(t, func() bool { code, _, _ := get(t, url+"/readyz"); return code == 200 })
	cancel()
	<-served
	began := time.Now()
	if err := s.Close(); err != nil {
		t.Fatalf("Close = %v", err)
	}
	if took := time.Since(began); took > 2*time.Second {
		t.Errorf("Close took %v with nothing polling /readyz, want no wait", took)
	}
}

// waitFor polls cond every 10 ms for up to 5 s.
func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met within 5s")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestShutdownTimeout(t *testing.T) {
	entered := make(chan struct{})
	r := mux.NewRouter()
	r.HandleFunc("/stuck", func(w http.ResponseWriter, r *http.Request) {
		close(entered)
		time.Sleep(2 * time.Second)
	})
	s := start(t, Options{Handler: r, ShutdownTimeout: 200 * time.Millisecond})
	go func() {
		if resp, err := http.Get(s.url + "/stuck"); err == nil {
			resp.Body.Close()
		}
	}()
	<-entered
	s.cancel()
	select {
	case err := <-s.done:
		if err == nil {
			t.Error("Run = nil, want a shutdown timeout error")
		}
		s.done <- err
	case <-time.After(2 * time.Second):
		t.Fatal("Run did not give up after ShutdownTimeout")
	}
}

func TestRunListenError(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	err = Run(context.Background(), Options{Addr: ln.Addr().String(), Handler: http.NotFoundHandler()})
	if err == nil {
		t.Fatal("Run on a taken address = nil, want an error")
	}
}

func TestServerSpan(t *testing.T) {
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
	prevTP, prevProp := otel.GetTracerProvider(), otel.GetTextMapPropagator()
	otel.SetTracerProvider(tp)
	otel.SetTextMapPropagator(propagation.TraceContext{})
	t.Cleanup(func() {
		otel.SetTracerProvider(prevTP)
		otel.SetTextMapPropagator(prevProp)
	})

	s := start(t, Options{Handler: testRouter()})
	req, _ := http.NewRequest(http.MethodGet, s.url+"/items/9", nil)
	req.Header.Set("traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()

	spans := rec.Ended()
	if len(spans) != 1 {
		t.Fatalf("%d spans ended, want 1", len(spans))
	}
	sp := spans[0]
	got := struct {
		Name, TraceID, ParentID string
		Kind                    trace.SpanKind
	}{sp.Name(), sp.SpanContext().TraceID().String(), sp.Parent().SpanID().String(), sp.SpanKind()}
	want := struct {
		Name, TraceID, ParentID string
		Kind                    trace.SpanKind
	}{"GET /items/{id}", "4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7", trace.SpanKindServer}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("span mismatch (-want +got):\n%s", diff)
	}
	attrs := make(map[string]string)
	for _, kv := range sp.Attributes() {
		attrs[string(kv.Key)] = kv.Value.String()
	}
	wantAttrs := map[string]string{
		"http.request.method":       "GET",
		"url.path":                  "/items/9",
		"http.route":                "/items/{id}",
		"http.response.status_code": "200",
	}
	if diff := cmp.Diff(wantAttrs, attrs); diff != "" {
		t.Errorf("span attributes (-want +got):\n%s", diff)
	}
}

// TestRouteLabels checks the route label of requests that reach their
// route's handler, that a router middleware refuses or wraps, that no route
// matches, and that a route matches with the wrong method; and that a
// request served by its route is matched once, not again for its label.
func TestRouteLabels(t *testing.T) {
	var matches atomic.Int64
	r := mux.NewRouter()
	r.HandleFunc("/items/{id}", func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, "item")
	}).Methods(http.MethodGet).MatcherFunc(func(*http.Request, *mux.RouteMatch) bool {
		matches.Add(1)
		return true
	})
	sub := r.PathPrefix("/admin").Subrouter()
	sub.HandleFunc("/users/{id}", func(w http.ResponseWriter, _ *http.Request) {
		_, _ = io.WriteString(w, "user")
	})
	sub.Use(func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.Header.Get("Authorization") == "" {
				http.Error(w, "no", http.StatusUnauthorized)
				return
			}
			next.ServeHTTP(wrappedWriter{w}, r) // the tag must see through it
		})
	})
	reg := prometheus.NewRegistry()
	s := start(t, Options{Handler: r, Registry: reg})

	for _, tt := range []struct {
		method, path, auth string
		wantCode           int
	}{
		{http.MethodGet, "/items/1", "", 200},
		{http.MethodGet, "/admin/users/7", "", 401},
		{http.MethodGet, "/admin/users/8", "Bearer x", 200},
		{http.MethodGet, "/nowhere", "", 404},
		{http.MethodPost, "/items/2", "", 405},
	} {
		req, _ := http.NewRequest(tt.method, s.url+tt.path, nil)
		if tt.auth != "" {
			req.Header.Set("Authorization", tt.auth)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != tt.wantCode {
			t.Errorf("%s %s = %d, want %d", tt.method, tt.path, resp.StatusCode, tt.wantCode)
		}
	}
	_, _, body := get(t, s.url+"/metrics")
	for _, want := range []string{
		`http_requests_total{code="200",method="GET",route="/items/{id}"} 1`,
		`http_requests_total{code="401",method="GET",route="/admin/users/{id}"} 1`,
		`http_requests_total{code="200",method="GET",route="/admin/users/{id}"} 1`,
		`http_requests_total{code="404",method="GET",route="unmatched"} 1`,
		`http_requests_total{code="405",method="POST",route="unmatched"} 1`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
	// One match of GET /items/1, one of POST /items/2 (which then fails
	// on the method and is matched again for its label).
	if got := matches.Load(); got > 3 {
		t.Errorf("the route's matcher ran %d times for 2 requests, want at most 3 (GET /items/1 matched once)", got)
	}
}

// wrappedWriter hides the writer under it but for Unwrap, as middleware
// that wraps response writers do.
type wrappedWriter struct{ http.ResponseWriter }

func (w wrappedWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }
