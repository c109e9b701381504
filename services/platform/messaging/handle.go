package messaging

import (
	"context"
	"fmt"
	"runtime/debug"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"
)

const instrumentationName = "github.com/travluk/ecom/services/platform/messaging"

// handle runs h for an event that arrived on queue inside a consumer span
// that continues the event's trace (through the tracer provider that
// telemetry.Setup installs), and turns a panic into an error so that one
// bad event costs a redelivery, not the consumer.
func handle(ctx context.Context, queue string, h Handler, e Event) (err error) {
	ctx, span := otel.GetTracerProvider().Tracer(instrumentationName).Start(e.Context(ctx), queue+" process",
		trace.WithSpanKind(trace.SpanKindConsumer),
		trace.WithAttributes(
			attribute.String("messaging.destination.name", queue),
			attribute.String("messaging.message.id", e.ID),
			attribute.String("cloudevents.event_type", e.Type),
			attribute.String("cloudevents.event_subject", e.Subject),
		))
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("messaging: handler panicked: %v\n%s", p, debug.Stack())
		}
		if err != nil {
			span.RecordError(err)
			span.SetStatus(codes.Error, err.Error())
		}
		span.End()
	}()
	return h(ctx, e)
}
