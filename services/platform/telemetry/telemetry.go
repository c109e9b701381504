// Package telemetry sets up OpenTelemetry tracing for a service: the W3C
// trace-context propagator always, and an OTLP/HTTP exporter when an
// endpoint is configured.
package telemetry

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
)

// Setup installs a tracer provider and the W3C tracecontext and baggage
// propagators as OpenTelemetry's process-wide defaults. Those are globals by
// OpenTelemetry's design: instrumentation in libraries (and httpserver)
// finds them there, so a service calls Setup once, first thing in run.
//
// Spans are exported over OTLP/HTTP only when getenv returns an
// OTEL_EXPORTER_OTLP_TRACES_ENDPOINT (the full URL) or
// OTEL_EXPORTER_OTLP_ENDPOINT (a base URL, to which /v1/traces is added);
// otherwise spans are still created, so trace ids propagate, but go
// nowhere, and those of traces started here are not even recorded.
// OTEL_SERVICE_NAME overrides service. The returned shutdown flushes spans
// still buffered; call it before the process exits. Setup fails only on an
// endpoint that is not a URL.
func Setup(ctx context.Context, service string, getenv func(string) string) (shutdown func(context.Context) error, err error) {
	if name := getenv("OTEL_SERVICE_NAME"); name != "" {
		service = name
	}
	res, err := resource.New(ctx,
		resource.WithAttributes(attribute.String("service.name", service)),
		resource.WithTelemetrySDK(),
	)
	if err != nil {
		return nil, fmt.Errorf("telemetry: resource: %w", err)
	}
	endpoint, err := tracesEndpoint(getenv)
	if err != nil {
		return nil, err
	}
	opts := []sdktrace.TracerProviderOption{sdktrace.WithResource(res)}
	// With nowhere to send spans, a trace this service starts is not
	// recorded (it still gets ids, which propagate, marked not sampled):
	// recording costs allocations on every request for nothing. A trace a
	// caller samples is still recorded, so its sampled flag travels on.
	root := sdktrace.NeverSample()
	if endpoint != "" {
		root = sdktrace.AlwaysSample()
		// New does not connect; an unreachable collector shows up as
		// export errors later, never as a service that will not start.
		exp, err := otlptracehttp.New(ctx, otlptracehttp.WithEndpointURL(endpoint))
		if err != nil {
			return nil, fmt.Errorf("telemetry: OTLP exporter: %w", err)
		}
		opts = append(opts, sdktrace.WithBatcher(exp))
	}
	opts = append(opts, sdktrace.WithSampler(sdktrace.ParentBased(root)))

	tp := sdktrace.NewTracerProvider(opts...)
	otel.SetTracerProvider(tp)
	otel.SetTextMapPropagator(propagation.NewCompositeTextMapPropagator(
		propagation.TraceContext{}, propagation.Baggage{}))
	return tp.Shutdown, nil
}

// tracesEndpoint returns the URL spans are posted to, or "" for none.
func tracesEndpoint(getenv func(string) string) (string, error) {
	name := "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"
	endpoint := getenv(name)
	if endpoint == "" {
		name = "OTEL_EXPORTER_OTLP_ENDPOINT"
		endpoint = getenv(name)
		if endpoint == "" {
			return "", nil
		}
		endpoint = strings.TrimRight(endpoint, "/") + "/v1/traces"
	}
	u, err := url.Parse(endpoint)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return "", fmt.Errorf("telemetry: %s=%q: %w", name, getenv(name), errors.New("not an http(s) URL"))
	}
	return endpoint, nil
}
