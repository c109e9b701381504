package messaging_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/travluk/ecom/services/platform/messaging"
	"github.com/travluk/ecom/services/platform/messaging/messagingtest"
)

func TestMemoryBusConformance(t *testing.T) {
	messagingtest.Run(t, func(t *testing.T) messagingtest.Harness {
		bus := messaging.NewMemoryBus(messaging.MemoryOptions{DeliveryLimit: 3})
		return messagingtest.Harness{
			Bus:           bus,
			DeliveryLimit: 3,
			Queue:         func(name string) string { return name },
			DeadLetters:   func(_ *testing.T, queue string) []messaging.Event { return bus.DeadLetters(queue) },
		}
	})
}

// TestMemoryBusPublishWaitsForHandlers holds the promise DESIGN §3 asks of
// the in-process bus: a publish is confirmed only once handled.
func TestMemoryBusPublishWaitsForHandlers(t *testing.T) {
	bus := messaging.NewMemoryBus(messaging.MemoryOptions{})
	a, b := messagingtest.NewRecorder(nil), messagingtest.NewRecorder(nil)
	messagingtest.Consume(t, bus,
		messaging.Subscription{Queue: "a", Types: []string{"thing.*"}, Handler: a.Handle},
		messaging.Subscription{Queue: "b", Types: []string{"#"}, Handler: b.Handle},
	)
	e := messagingtest.Publish(t, bus, "thing.made", nil)
	if len(a.Handled()) != 1 || len(b.Handled()) != 1 {
		t.Errorf("after Publish returned, handled %d and %d, want 1 and 1", len(a.Handled()), len(b.Handled()))
	}
	if a.Calls(e.ID) != 1 {
		t.Errorf("handled %d times, want 1", a.Calls(e.ID))
	}
}

func TestMemoryBusTopicPatterns(t *testing.T) {
	tests := []struct {
		pattern, key string
		match        bool
	}{
		{"order.requested", "order.requested", true},
		{"order.requested", "order.confirmed", false},
		{"order.*", "order.confirmed", true},
		{"order.*", "order.confirmed.late", false},
		{"*.confirmed", "order.confirmed", true},
		{"#", "order.confirmed", true},
		{"order.#", "order", true},
		{"order.#", "order.a.b", true},
		{"#.b", "a.x.b", true},
		{"#.b", "a.x.c", false},
	}
	for _, tt := range tests {
		t.Run(tt.pattern+" "+tt.key, func(t *testing.T) {
			bus := messaging.NewMemoryBus(messaging.MemoryOptions{})
			rec := messagingtest.NewRecorder(nil)
			// The probe queue is declared with q, so once "probe" is
			// routable, q is there too.
			messagingtest.Consume(t, bus,
				messaging.Subscription{Queue: "q", Types: []string{tt.pattern}, Handler: rec.Handle},
				messaging.Subscription{Queue: "probe", Types: []string{"probe"}, Handler: rec.Handle},
			)
			messagingtest.Publish(t, bus, "probe", nil)
			e := messagingtest.NewEvent(t, context.Background(), tt.key, nil)
			err := bus.Publish(context.Background(), e)
			if tt.match && err != nil {
				t.Errorf("Publish = %v, want delivered", err)
			}
			if !tt.match && !errors.Is(err, messaging.ErrUnroutable) {
				t.Errorf("Publish = %v, want ErrUnroutable", err)
			}
		})
	}
}

func TestMemoryBusPublishHonoursContext(t *testing.T) {
	bus := messaging.NewMemoryBus(messaging.MemoryOptions{DeliveryLimit: 100})
	rec := messagingtest.NewRecorder(func(messaging.Event, int) error {
		time.Sleep(5 * time.Millisecond)
		return errors.New("down")
	})
	messagingtest.Consume(t, bus,
		messaging.Subscription{Queue: "q", Types: []string{"thing.made"}, Handler: rec.Handle},
		messaging.Subscription{Queue: "probe", Types: []string{"probe"}, Handler: func(context.Context, messaging.Event) error { return nil }},
	)
	messagingtest.Publish(t, bus, "probe", nil) // q is declared
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	began := time.Now()
	err := bus.Publish(ctx, messagingtest.NewEvent(t, context.Background(), "thing.made", nil))
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Publish = %v, want the context's deadline", err)
	}
	if took := time.Since(began); took > time.Second {
		t.Errorf("Publish took %v, want about 50ms", took)
	}
	if len(bus.DeadLetters("q")) != 0 {
		t.Error("an event whose publish was abandoned was dead-lettered")
	}
}

func TestMemoryBusMetrics(t *testing.T) {
	reg := prometheus.NewRegistry()
	bus := messaging.NewMemoryBus(messaging.MemoryOptions{DeliveryLimit: 1, Registry: reg})
	rec := messagingtest.NewRecorder(func(e messaging.Event, before int) error {
		if string(e.Data) == `"bad"` {
			return errors.New("fails")
		}
		return nil
	})
	messagingtest.Consume(t, bus, messaging.Subscription{Queue: "q", Types: []string{"thing.made"}, Handler: rec.Handle})
	messagingtest.Publish(t, bus, "thing.made", "good")
	messagingtest.Publish(t, bus, "thing.made", "bad")
	_ = bus.Publish(context.Background(), messagingtest.NewEvent(t, context.Background(), "nobody.listens", nil))

	pub := func(typ, outcome string) map[string]string { return map[string]string{"type": typ, "outcome": outcome} }
	con := func(outcome string) map[string]string {
		return map[string]string{"queue": "q", "type": "thing.made", "outcome": outcome}
	}
	tests := []struct {
		name   string
		metric string
		labels map[string]string
		want   float64
	}{
		{"published confirmed", "messages_published_total", pub("thing.made", "confirmed"), 2},
		{"published unroutable", "messages_published_total", pub("nobody.listens", "unroutable"), 1},
		{"consumed ack", "messages_consumed_total", con("ack"), 1},
		{"consumed retry", "messages_consumed_total", con("retry"), 1},
		{"consumed dead_letter", "messages_consumed_total", con("dead_letter"), 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := counterValue(t, reg, tt.metric, tt.labels); got != tt.want {
				t.Errorf("%s%v = %v, want %v", tt.metric, tt.labels, got, tt.want)
			}
		})
	}
}

// TestMemoryBusViews shares one bus between two services, each with its
// own registry: a publish counts in the publisher's, a delivery in the
// consumer's, and neither in the other's.
func TestMemoryBusViews(t *testing.T) {
	bus := messaging.NewMemoryBus(messaging.MemoryOptions{})
	pubReg, subReg := prometheus.NewRegistry(), prometheus.NewRegistry()
	publisher, consumer := bus.For(pubReg), bus.For(subReg)
	rec := messagingtest.NewRecorder(nil)
	messagingtest.Consume(t, consumer, messaging.Subscription{Queue: "q", Types: []string{"thing.made"}, Handler: rec.Handle})
	messagingtest.Publish(t, publisher, "thing.made", "one")

	published := map[string]string{"type": "thing.made", "outcome": "confirmed"}
	consumed := map[string]string{"queue": "q", "type": "thing.made", "outcome": "ack"}
	tests := []struct {
		name   string
		reg    *prometheus.Registry
		metric string
		labels map[string]string
		want   float64
	}{
		{"publisher counts its publish", pubReg, "messages_published_total", published, 1},
		{"consumer counts its delivery", subReg, "messages_consumed_total", consumed, 1},
		{"consumer did not publish", subReg, "messages_published_total", published, 0},
		{"publisher did not consume", pubReg, "messages_consumed_total", consumed, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := counterValue(t, tt.reg, tt.metric, tt.labels); got != tt.want {
				t.Errorf("%s%v = %v, want %v", tt.metric, tt.labels, got, tt.want)
			}
		})
	}
}
