package amqpapi

import (
	"context"
	"reflect"
	"testing"
	"time"

	"go.opentelemetry.io/otel/trace"

	"github.com/travluk/ecom/services/platform/messaging/asyncapitest"
	"github.com/travluk/ecom/services/product/internal/product"
)

// TestAsyncAPI keeps services/asyncapi.yaml and the product service's
// events in step: what it publishes, what it reads of what it consumes,
// and the queue it consumes from.
func TestAsyncAPI(t *testing.T) {
	doc := asyncapitest.Load(t)

	t.Run("document", func(t *testing.T) {
		doc.CheckEnvelope(t)
		doc.CheckExamples(t)
	})

	t.Run("publishes", func(t *testing.T) {
		doc.CheckSends(t, "product", TypeOrderRequested)
		doc.CheckPayload(t, TypeOrderRequested, reflect.TypeFor[RequestedData]())
	})

	t.Run("order.requested as made", func(t *testing.T) {
		at := time.Date(2026, 1, 1, 10, 0, 0, 123_000_000, time.FixedZone("CET", 3600))
		p := &product.Purchase{
			OrderID: "65a1f0c2e4b0a1b2c3d4e5f6", CustomerID: "cust-42", Status: product.StatusRequested,
			Lines: []product.PurchaseLine{
				{ProductID: "65a1f0c2e4b0a1b2c3d40001", Name: "Rain jacket", UnitPrice: 8990, Quantity: 1},
				{ProductID: "65a1f0c2e4b0a1b2c3d40002", Name: "Wool socks", UnitPrice: 1250, Quantity: 1000},
				{ProductID: "65a1f0c2e4b0a1b2c3d40003", Name: "Sticker", UnitPrice: 1, Quantity: 7},
			},
			CreatedAt: at, UpdatedAt: at,
		}
		traced := trace.ContextWithSpanContext(context.Background(), trace.NewSpanContext(trace.SpanContextConfig{
			TraceID: trace.TraceID{0x4b, 0xf9, 1}, SpanID: trace.SpanID{0x00, 0xf0, 2}, TraceFlags: trace.FlagsSampled,
		}))
		for name, ctx := range map[string]context.Context{"traced": traced, "untraced": context.Background()} {
			e, err := Events{}.OrderRequested(ctx, p)
			if err != nil {
				t.Fatal(err)
			}
			if err := doc.Validate(e.JSON); err != nil {
				t.Errorf("%s order.requested %s:\n%v", name, e.JSON, err)
			}
		}
	})

	t.Run("consumes", func(t *testing.T) {
		doc.CheckReceives(t, "product", Subscriptions(nil, nil))
		doc.CheckConsumer(t, TypeOrderConfirmed, reflect.TypeFor[ConfirmedData]())
		doc.CheckConsumer(t, TypeOrderCancelled, reflect.TypeFor[CancelledData]())
	})
}
