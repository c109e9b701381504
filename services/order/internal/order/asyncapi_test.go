package order

import (
	"context"
	"encoding/json"
	"reflect"
	"testing"

	"go.opentelemetry.io/otel/trace"

	"github.com/travluk/ecom/services/platform/messaging"
	"github.com/travluk/ecom/services/platform/messaging/asyncapitest"
)

// eventSource is the CloudEvents source of the order service's events
// (mongodb.EventSource, which this package cannot import).
const eventSource = "/order"

// TestAsyncAPI keeps services/asyncapi.yaml and the events the order
// service publishes in step: their payload types, and real events made by
// the use cases. What the service consumes is checked in amqpapi.
func TestAsyncAPI(t *testing.T) {
	doc := asyncapitest.Load(t)

	t.Run("document", func(t *testing.T) {
		doc.CheckEnvelope(t)
		doc.CheckExamples(t)
	})

	t.Run("publishes", func(t *testing.T) {
		doc.CheckSends(t, "order", EventConfirmed, EventCancelled)
		doc.CheckPayload(t, EventConfirmed, reflect.TypeFor[ConfirmedData]())
		doc.CheckPayload(t, EventCancelled, reflect.TypeFor[CancelledData]())
	})

	t.Run("events as made", func(t *testing.T) {
		svc, repo, _ := newTestService(t)
		ctx := context.Background()
		const (
			withReason    = "65f0c0ffee0000000000abc1"
			withoutReason = "65f0c0ffee0000000000abc2"
		)
		seed(t, svc, withoutReason, Cancelled) // admin, no note
		seed(t, svc, withReason, Confirmed)
		if _, err := svc.ChangeStatus(ctx, Actor{ID: "ada"}, withReason, Cancelled, "ordered twice"); err != nil {
			t.Fatal(err)
		}
		traced := trace.ContextWithSpanContext(ctx, trace.NewSpanContext(trace.SpanContextConfig{
			TraceID: trace.TraceID{0x4b, 0xf9, 1}, SpanID: trace.SpanID{0xb7, 0xad, 2}, TraceFlags: trace.FlagsSampled,
		}))
		seen := map[string]int{}
		for _, id := range []string{withReason, withoutReason} {
			for _, e := range repo.events[id] {
				want := map[string]reflect.Type{
					EventConfirmed: reflect.TypeFor[ConfirmedData](),
					EventCancelled: reflect.TypeFor[CancelledData](),
				}[e.Type]
				if got := reflect.TypeOf(e.Data); got != want {
					t.Errorf("%s carries %v, the document was checked against %v", e.Type, got, want)
				}
				ce, err := messaging.NewEvent(traced, eventSource, e.Type, id, e.Data)
				if err != nil {
					t.Fatal(err)
				}
				raw, err := json.Marshal(ce)
				if err != nil {
					t.Fatal(err)
				}
				if err := doc.Validate(raw); err != nil {
					t.Errorf("%s %s:\n%v", e.Type, raw, err)
				}
				seen[e.Type]++
			}
		}
		if seen[EventConfirmed] != 2 || seen[EventCancelled] != 2 {
			t.Errorf("events made: %v, want two of each", seen)
		}
	})
}
