package server_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/travluk/ecom/dev/shoptest"
	"github.com/travluk/ecom/dev/testenv"
	"github.com/travluk/ecom/services/order/server"
	"github.com/travluk/ecom/services/platform/auth"
	"github.com/travluk/ecom/services/platform/auth/authtest"
	"github.com/travluk/ecom/services/platform/messaging"
	"github.com/travluk/ecom/services/platform/messaging/messagingtest"
)

// brokenHandlers stands for a bug in the service's handlers: while broken
// is set, every event its queues deliver fails with an error no retry can
// cure before the real handler sees it. Clearing it is the fix.
type brokenHandlers struct {
	messaging.Bus
	broken *atomic.Bool
}

func (b brokenHandlers) Consume(ctx context.Context, subs ...messaging.Subscription) error {
	wrapped := make([]messaging.Subscription, len(subs))
	for i, s := range subs {
		handle := s.Handler
		s.Handler = func(ctx context.Context, e messaging.Event) error {
			if b.broken.Load() {
				return messaging.Permanent(fmt.Errorf("bug: cannot handle %s", e.Type))
			}
			return handle(ctx, e)
		}
		wrapped[i] = s
	}
	return b.Bus.Consume(ctx, wrapped...)
}

// TestDeadLetterReplayCreatesTheOrderOnce is an admin's repair, on the
// in-process bus and on RabbitMQ: order.requested meets a broken handler
// and is dead-lettered; the admin API lists and shows it; the handler is
// fixed and the event replayed; the order then exists, confirmed once, the
// dead letters are empty and a second replay is 404.
func TestDeadLetterReplayCreatesTheOrderOnce(t *testing.T) {
	tests := []struct {
		name string
		// buses returns the service's bus constructor (wrapping the bus
		// in broken handlers), the bus the test plays the product service
		// on, and the prefix of the queues' names on the broker.
		buses func(t *testing.T, broken *atomic.Bool) (func(prometheus.Registerer) messaging.Bus, messaging.Bus, string)
	}{
		{"in-process bus", func(t *testing.T, broken *atomic.Bool) (func(prometheus.Registerer) messaging.Bus, messaging.Bus, string) {
			bus := messaging.NewMemoryBus(messaging.MemoryOptions{})
			return func(reg prometheus.Registerer) messaging.Bus { return brokenHandlers{bus.For(reg), broken} }, bus, ""
		}},
		{"RabbitMQ", func(t *testing.T, broken *atomic.Bool) (func(prometheus.Registerer) messaging.Bus, messaging.Bus, string) {
			url := testenv.AMQP(t)
			exchange, prefix := shoptest.AMQPNamespace(t, url, "order-dead-letters")
			o := messaging.RabbitOptions{Exchange: exchange, QueuePrefix: prefix, RetryDelay: 10 * time.Millisecond, Name: "test"}
			standIn := messaging.NewRabbit(url, o)
			t.Cleanup(func() { standIn.Close() })
			return func(reg prometheus.Registerer) messaging.Bus {
				o := o
				o.Registry = reg
				r := messaging.NewRabbit(url, o)
				t.Cleanup(func() { r.Close() })
				return brokenHandlers{r, broken}
			}, standIn, prefix
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var broken atomic.Bool
			broken.Store(true)
			newBus, standIn, prefix := tt.buses(t, &broken)
			product := messagingtest.NewRecorder(nil)
			messagingtest.Consume(t, standIn, messaging.Subscription{
				Queue: "product", Types: []string{"order.confirmed", "order.cancelled"}, Handler: product.Handle,
			})
			iss := authtest.NewIssuer(t, testenv.Redis(t))
			s := start(t, baseEnv(t, iss), server.Options{Bus: newBus})
			admin, _ := iss.Token(t, "admin-1", auth.RoleAdmin)
			customer, _ := iss.Token(t, "ada", auth.RoleCustomer)

			requested := orderRequested(t, "65f0c0ffee00000000000d01")
			// Unroutable until the service has declared its queue.
			messagingtest.Eventually(t, func() error { return standIn.Publish(context.Background(), requested) })

			var page struct {
				Items []struct{ ID, Type, Queue, Reason string } `json:"items"`
				Total int                                        `json:"total"`
			}
			messagingtest.Eventually(t, func() error {
				shoptest.Decode(t, shoptest.Call(t, "GET", s.base+"/api/orders/dead-letters", admin, "", http.StatusOK), &page)
				if page.Total != 1 || len(page.Items) != 1 {
					return fmt.Errorf("dead letters %+v, want the order.requested", page)
				}
				return nil
			})
			if d := page.Items[0]; d.ID != requested.ID || d.Type != "order.requested" || d.Queue != "order" || d.Reason != "rejected" {
				t.Errorf("dead letter = %+v, want %s order.requested of queue order, rejected", d, requested.ID)
			}
			shoptest.Call(t, "GET", s.base+"/api/orders/dead-letters", customer, "", http.StatusForbidden)
			var one struct {
				Event messaging.Event `json:"event"`
			}
			shoptest.Decode(t, shoptest.Call(t, "GET", s.base+"/api/orders/dead-letters/"+requested.ID, admin, "", http.StatusOK), &one)
			if one.Event.ID != requested.ID || string(one.Event.Data) != string(requested.Data) {
				t.Errorf("dead letter's event = %+v, want the one published", one.Event)
			}
			shoptest.Call(t, "GET", s.base+"/api/orders/"+requested.Subject, admin, "", http.StatusNotFound)

			broken.Store(false)
			shoptest.Call(t, "POST", s.base+"/api/orders/dead-letters/"+requested.ID+"/replay", admin, "", http.StatusAccepted)
			shoptest.Call(t, "POST", s.base+"/api/orders/dead-letters/"+requested.ID+"/replay", admin, "", http.StatusNotFound)
			shoptest.Decode(t, shoptest.Call(t, "GET", s.base+"/api/orders/dead-letters", admin, "", http.StatusOK), &page)
			if page.Total != 0 || len(page.Items) != 0 {
				t.Errorf("dead letters after the replay: %+v, want none", page)
			}
			messagingtest.Eventually(t, func() error {
				if r := s.do("GET", "/api/orders/"+requested.Subject, admin, ""); r.status != http.StatusOK {
					return fmt.Errorf("the replayed order: %s", r)
				}
				return nil
			})

			// A later order, once confirmed, bounds the wait for a
			// duplicate of the first: the replay's effect happened once.
			later := orderRequested(t, "65f0c0ffee00000000000d02")
			if err := standIn.Publish(context.Background(), later); err != nil {
				t.Fatal(err)
			}
			messagingtest.Eventually(t, func() error {
				if confirmedFor(product, later.Subject) == 0 {
					return errors.New("the later order is not confirmed yet")
				}
				return nil
			})
			if n := confirmedFor(product, requested.Subject); n != 1 {
				t.Errorf("order.confirmed for the replayed order %d times, want 1", n)
			}
			metrics := string(s.do("GET", "/metrics", "", "").body)
			for _, want := range []string{
				`order_requests_handled_total{outcome="created"} 2`,
				`messages_consumed_total{outcome="dead_letter",queue="` + prefix + `order",type="order.requested"} 1`,
			} {
				if !strings.Contains(metrics, want) {
					t.Errorf("/metrics lacks %s", want)
				}
			}
			if strings.Contains(metrics, `order_requests_handled_total{outcome="duplicate"} 1`) {
				t.Error("the replayed event was handled as a duplicate: it was delivered twice")
			}
		})
	}
}

// orderRequested returns the order.requested the product service would
// publish for order id, by ada.
func orderRequested(t *testing.T, id string) messaging.Event {
	t.Helper()
	request := map[string]any{
		"orderId": id, "customerId": "ada", "currency": "EUR", "requestedAt": time.Now().UTC(),
		"items": []map[string]any{{"productId": "p1", "name": "Mug", "unitPrice": json.Number("12.50"), "quantity": 2}},
	}
	ev, err := messaging.NewEvent(context.Background(), "/product", "order.requested", id, request)
	if err != nil {
		t.Fatal(err)
	}
	return ev
}

// confirmedFor counts the order.confirmed events the product side handled
// for order id.
func confirmedFor(product *messagingtest.Recorder, id string) int {
	n := 0
	for _, e := range product.Handled() {
		if e.Type == "order.confirmed" && e.Subject == id {
			n++
		}
	}
	return n
}
