package messaging

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
)

// SpecVersion is the CloudEvents version every Event carries.
const SpecVersion = "1.0"

// ContentTypeJSON is the data content type of every Event NewEvent makes.
const ContentTypeJSON = "application/json"

// Event is a CloudEvents 1.0 event in JSON structured mode, with the W3C
// traceparent of the distributed-tracing extension. Its Type is also the
// routing key it is published with.
type Event struct {
	SpecVersion     string          `json:"specversion"`
	ID              string          `json:"id"`
	Source          string          `json:"source"`
	Type            string          `json:"type"`
	Time            time.Time       `json:"time"`
	Subject         string          `json:"subject,omitempty"`
	DataContentType string          `json:"datacontenttype"`
	TraceParent     string          `json:"traceparent,omitempty"`
	Data            json.RawMessage `json:"data"`
}

// NewEvent returns an event of eventType from source about subject, with
// data encoded as JSON, a random 128-bit id in hex, the current UTC time to
// the millisecond, and the traceparent of the span in ctx, if any. It fails
// only when data cannot be encoded or the event would not be valid.
func NewEvent(ctx context.Context, source, eventType, subject string, data any) (Event, error) {
	raw, err := json.Marshal(data)
	if err != nil {
		return Event{}, fmt.Errorf("messaging: encode %s data: %w", eventType, err)
	}
	id := make([]byte, 16)
	_, _ = rand.Read(id) // never fails (crypto/rand)
	e := Event{
		SpecVersion:     SpecVersion,
		ID:              hex.EncodeToString(id),
		Source:          source,
		Type:            eventType,
		Time:            time.Now().UTC().Truncate(time.Millisecond),
		Subject:         subject,
		DataContentType: ContentTypeJSON,
		Data:            raw,
	}
	carrier := propagation.MapCarrier{}
	// The W3C propagator itself, not the process-wide one: the field is
	// defined as a W3C traceparent whatever else a service propagates.
	propagation.TraceContext{}.Inject(ctx, carrier)
	e.TraceParent = carrier.Get("traceparent")
	if err := e.Validate(); err != nil {
		return Event{}, err
	}
	return e, nil
}

// Context returns ctx carrying the remote span context of the event's
// traceparent, so that spans a handler starts continue the trace of the
// code that made the event. Without a valid traceparent it returns ctx.
func (e Event) Context(ctx context.Context) context.Context {
	if e.TraceParent == "" {
		return ctx
	}
	return propagation.TraceContext{}.Extract(ctx, propagation.MapCarrier{"traceparent": e.TraceParent})
}

// Validate reports the first reason the event is not one this package
// publishes: a spec version other than 1.0, an empty id, source or type, a
// zero time, a content type other than JSON, data that is not JSON, or a
// malformed traceparent.
func (e Event) Validate() error {
	switch {
	case e.SpecVersion != SpecVersion:
		return fmt.Errorf("messaging: event %q: specversion %q, want %q", e.ID, e.SpecVersion, SpecVersion)
	case e.ID == "":
		return errors.New("messaging: event: empty id")
	case e.Source == "":
		return fmt.Errorf("messaging: event %s: empty source", e.ID)
	case e.Type == "":
		return fmt.Errorf("messaging: event %s: empty type", e.ID)
	case e.Time.IsZero():
		return fmt.Errorf("messaging: event %s: zero time", e.ID)
	case e.DataContentType != ContentTypeJSON:
		return fmt.Errorf("messaging: event %s: datacontenttype %q, want %q", e.ID, e.DataContentType, ContentTypeJSON)
	case len(e.Data) > 0 && !json.Valid(e.Data):
		return fmt.Errorf("messaging: event %s: data is not JSON", e.ID)
	}
	if e.TraceParent != "" {
		ctx := e.Context(context.Background())
		if !trace.SpanContextFromContext(ctx).IsValid() {
			return fmt.Errorf("messaging: event %s: malformed traceparent %q", e.ID, e.TraceParent)
		}
	}
	return nil
}

// decodeEvent reads a message body as an event. A body that is not a valid
// event can never be handled, however often it is delivered, so the error
// is permanent.
func decodeEvent(body []byte) (Event, error) {
	var e Event
	if err := json.Unmarshal(body, &e); err != nil {
		return Event{}, Permanent(fmt.Errorf("messaging: body is not a CloudEvent: %w", err))
	}
	if err := e.Validate(); err != nil {
		return Event{}, Permanent(err)
	}
	return e, nil
}

// Publisher publishes events.
type Publisher interface {
	// Publish returns nil only once the event is safely handed on: for
	// RabbitMQ, confirmed by the broker and routed to at least one queue.
	// Any error means the event may not have arrived and should be
	// published again later; it may also have arrived, so consumers must
	// tolerate duplicates.
	Publish(ctx context.Context, e Event) error
}

// Handler handles one event. Returning nil acknowledges it; an error has it
// delivered again, up to the delivery limit, after which it is
// dead-lettered; an error wrapped with Permanent dead-letters it at once.
// The same event may arrive more than once and out of order, so a handler
// must be idempotent.
type Handler func(ctx context.Context, e Event) error

// Subscription binds a handler to a queue and the event types routed to it.
type Subscription struct {
	// Queue is the durable queue, one per consuming service, such as
	// "order".
	Queue string
	// Types are the event types (routing keys) bound to the queue.
	Types []string
	// Handler handles every event arriving on the queue.
	Handler Handler
}

func (s Subscription) validate() error {
	switch {
	case s.Queue == "":
		return errors.New("messaging: subscription without a queue")
	case len(s.Types) == 0:
		return fmt.Errorf("messaging: subscription %q binds no event types", s.Queue)
	case s.Handler == nil:
		return fmt.Errorf("messaging: subscription %q has no handler", s.Queue)
	}
	return nil
}

// Subscriber consumes events.
type Subscriber interface {
	// Consume declares the queues of subs with their bindings and hands
	// every event arriving on them to their handlers until ctx ends,
	// reconnecting by itself when the broker goes away. It returns nil once
	// ctx ends and an error only for subscriptions it cannot serve.
	Consume(ctx context.Context, subs ...Subscription) error
}

// permanentError marks an error that redelivery cannot cure.
type permanentError struct{ err error }

func (p permanentError) Error() string { return p.err.Error() }
func (p permanentError) Unwrap() error { return p.err }

// Permanent marks err as one that no redelivery can cure, such as an event
// whose data is invalid: the event is dead-lettered at once. Permanent(nil)
// is nil.
func Permanent(err error) error {
	if err == nil {
		return nil
	}
	return permanentError{err}
}

// IsPermanent reports whether err, or an error it wraps, was marked with
// Permanent.
func IsPermanent(err error) bool {
	_, ok := errors.AsType[permanentError](err)
	return ok
}

// ErrUnroutable is returned by Publish when no queue is bound to the
// event's type, so the event would be lost.
var ErrUnroutable = errors.New("messaging: no queue is bound to the event type")

// Bus is what a service needs of its broker: publishing events, consuming
// its queues, and their dead letters. Rabbit and the views of a MemoryBus
// are Buses.
type Bus interface {
	Publisher
	Subscriber
	DeadLetters
}
