package telemetry

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/propagation"
)

func env(vars map[string]string) func(string) string {
	return func(k string) string { return vars[k] }
}

// restoreGlobals puts back OpenTelemetry's defaults that Setup replaces.
func restoreGlobals(t *testing.T) {
	tp, prop := otel.GetTracerProvider(), otel.GetTextMapPropagator()
	t.Cleanup(func() {
		otel.SetTracerProvider(tp)
		otel.SetTextMapPropagator(prop)
	})
}

func TestSetupWithoutExporter(t *testing.T) {
	restoreGlobals(t)
	shutdown, err := Setup(context.Background(), "customer", env(nil))
	if err != nil {
		t.Fatal(err)
	}
	defer shutdown(context.Background())

	// An incoming traceparent is continued, and a new one is injected.
	in := propagation.HeaderCarrier(http.Header{})
	in.Set("traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")
	ctx := otel.GetTextMapPropagator().Extract(context.Background(), in)
	ctx, span := otel.Tracer("test").Start(ctx, "work")
	defer span.End()
	if got := span.SpanContext().TraceID().String(); got != "4bf92f3577b34da6a3ce929d0e0e4736" {
		t.Errorf("trace id = %s, want the incoming one", got)
	}
	if !span.IsRecording() {
		t.Error("span of a sampled incoming trace is not recording")
	}
	out := propagation.HeaderCarrier(http.Header{})
	otel.GetTextMapPropagator().Inject(ctx, out)
	if got := out.Get("traceparent"); !strings.HasPrefix(got, "00-4bf92f3577b34da6a3ce929d0e0e4736-") || !strings.HasSuffix(got, "-01") {
		t.Errorf("traceparent injected = %q, want the incoming trace, sampled", got)
	}

	// A trace started here has ids to propagate but, with nowhere to
	// export it, is not recorded and says so downstream.
	rootCtx, root := otel.Tracer("test").Start(context.Background(), "root")
	defer root.End()
	if root.IsRecording() || !root.SpanContext().IsValid() {
		t.Errorf("root span: recording %t, valid ids %t; want not recording, valid ids", root.IsRecording(), root.SpanContext().IsValid())
	}
	out = propagation.HeaderCarrier(http.Header{})
	otel.GetTextMapPropagator().Inject(rootCtx, out)
	if got := out.Get("traceparent"); !strings.HasSuffix(got, "-00") || !strings.Contains(got, root.SpanContext().TraceID().String()) {
		t.Errorf("traceparent injected = %q, want trace %s, not sampled", got, root.SpanContext().TraceID())
	}
}

func TestSetupExportsOverOTLPHTTP(t *testing.T) {
	restoreGlobals(t)
	var (
		mu    sync.Mutex
		paths []string
	)
	collector := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		paths = append(paths, r.Method+" "+r.URL.Path)
		mu.Unlock()
		w.WriteHeader(http.StatusOK)
	}))
	defer collector.Close()

	shutdown, err := Setup(context.Background(), "customer", env(map[string]string{
		"OTEL_EXPORTER_OTLP_ENDPOINT": collector.URL + "/",
		"OTEL_SERVICE_NAME":           "customer-test",
	}))
	if err != nil {
		t.Fatal(err)
	}
	_, span := otel.Tracer("test").Start(context.Background(), "work")
	span.End()
	if err := shutdown(context.Background()); err != nil {
		t.Fatalf("shutdown: %v", err)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(paths) == 0 || paths[0] != "POST /v1/traces" {
		t.Errorf("collector saw %v, want POST /v1/traces", paths)
	}
}

func TestSetupBadEndpoint(t *testing.T) {
	restoreGlobals(t)
	tests := []map[string]string{
		{"OTEL_EXPORTER_OTLP_ENDPOINT": "collector:4318"},
		{"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "://nope"},
	}
	for _, vars := range tests {
		if _, err := Setup(context.Background(), "customer", env(vars)); err == nil {
			t.Errorf("Setup(%v) = nil error", vars)
		}
	}
}
