package amqpapi_test

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
	"go.opentelemetry.io/otel/trace"

	"github.com/travluk/ecom/dev/testenv"
	"github.com/travluk/ecom/services/order/internal/amqpapi"
	"github.com/travluk/ecom/services/order/internal/mongodb"
	"github.com/travluk/ecom/services/order/internal/order"
	"github.com/travluk/ecom/services/platform/messaging"
	"github.com/travluk/ecom/services/platform/messaging/messagingtest"
)

type env struct {
	svc  *order.Service
	repo *mongodb.Orders
	bus  messagingtest.Bus
	subs []messaging.Subscription
}

func newEnv(t *testing.T) *env {
	t.Helper()
	client, err := mongo.Connect(options.Client().ApplyURI(testenv.Mongo(t)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = client.Disconnect(context.Background()) })
	repo := mongodb.NewOrders(client.Database(testenv.Database(t)))
	if err := repo.EnsureIndexes(context.Background()); err != nil {
		t.Fatal(err)
	}
	svc := order.NewService(repo, nil, nil)
	return &env{svc: svc, repo: repo, subs: amqpapi.Subscriptions(svc, nil, nil)}
}

// withMemoryBus consumes the subscriptions on an in-process bus.
func (e *env) withMemoryBus(t *testing.T) *messaging.MemoryBus {
	bus := messaging.NewMemoryBus(messaging.MemoryOptions{DeliveryLimit: 2})
	e.bus = bus
	messagingtest.Consume(t, bus, e.subs...)
	return bus
}

func requested(id string) map[string]any {
	return map[string]any{
		"orderId": id, "customerId": "ada", "currency": "EUR", "shippingAddress": "1 Loop St",
		"requestedAt": time.Now().UTC(),
		"items": []map[string]any{
			{"productId": "p1", "name": "Mug", "unitPrice": json.Number("19.99"), "quantity": 3},
			{"productId": "p2", "name": "Lamp", "unitPrice": json.Number("0.1"), "quantity": 1},
		},
	}
}

func newID() string { return fmt.Sprintf("%x", []byte(rand.Text()[:12])) }

func (e *env) publish(t *testing.T, subject string, data any) messaging.Event {
	t.Helper()
	ev, err := messaging.NewEvent(context.Background(), "/product", order.EventRequested, subject, data)
	if err != nil {
		t.Fatal(err)
	}
	e.publishEvent(t, ev)
	return ev
}

func (e *env) publishEvent(t *testing.T, ev messaging.Event) {
	t.Helper()
	messagingtest.Eventually(t, func() error {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		return e.bus.Publish(ctx, ev)
	})
}

func (e *env) pendingTypes(t *testing.T, id string) []string {
	t.Helper()
	pending, err := e.repo.Pending(context.Background(), 1000)
	if err != nil {
		t.Fatal(err)
	}
	var types []string
	for _, p := range pending {
		if p.AggregateID == id {
			types = append(types, p.Event.Type)
		}
	}
	return types
}

func TestOrderRequestedCreatesConfirmedOrder(t *testing.T) {
	e := newEnv(t)
	e.withMemoryBus(t)
	id := newID()
	e.publish(t, id, requested(id))
	o, err := e.repo.ByID(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	if o.Status != order.Confirmed || o.Total != 6007 || o.Quantity != 4 || o.CustomerID != "ada" || o.ShippingAddress != "1 Loop St" ||
		len(o.History) != 1 || o.Items[0].LineTotal != 5997 || o.Items[1].UnitPrice != 10 {
		t.Errorf("order = %+v", o)
	}
	pending, _ := e.repo.Pending(context.Background(), 10)
	if len(pending) != 1 || pending[0].Event.Type != order.EventConfirmed || pending[0].Event.Subject != id {
		t.Fatalf("outbox = %+v", pending)
	}
	var data map[string]any
	dec := json.NewDecoder(strings.NewReader(string(pending[0].Event.Data)))
	dec.UseNumber()
	if err := dec.Decode(&data); err != nil {
		t.Fatal(err)
	}
	if data["orderId"] != id || data["customerId"] != "ada" || data["status"] != "confirmed" ||
		data["totalAmount"] != json.Number("60.07") || data["confirmedAt"] == nil {
		t.Errorf("order.confirmed data = %s", pending[0].Event.Data)
	}
}

// TestRedelivery: order.requested delivered twice, and again after the
// order was cancelled, leaves exactly one order, in its latest status,
// and exactly one event of each kind.
func TestRedelivery(t *testing.T) {
	e := newEnv(t)
	e.withMemoryBus(t)
	ctx := context.Background()
	id := newID()
	first := e.publish(t, id, requested(id))
	e.publishEvent(t, first)        // the same event again
	e.publish(t, id, requested(id)) // a new event for the same order
	if got := e.pendingTypes(t, id); len(got) != 1 {
		t.Fatalf("after three deliveries: outbox %v, want one order.confirmed", got)
	}
	if _, err := e.svc.ChangeStatus(ctx, order.Actor{ID: "ada"}, id, order.Cancelled, "oops"); err != nil {
		t.Fatal(err)
	}
	e.publishEvent(t, first) // out of order: after the cancel
	o, err := e.repo.ByID(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if o.Status != order.Cancelled || len(o.History) != 2 {
		t.Errorf("order after a late redelivery: %s with %d history entries", o.Status, len(o.History))
	}
	if got := e.pendingTypes(t, id); strings.Join(got, ",") != order.EventConfirmed+","+order.EventCancelled {
		t.Errorf("outbox = %v, want order.confirmed then order.cancelled, once each", got)
	}
	page, err := e.repo.List(ctx, order.ListQuery{CustomerID: "ada", Limit: 10})
	if err != nil || len(page) != 1 {
		t.Errorf("orders of the customer: %d (%v), want 1", len(page), err)
	}
}

// TestMalformedRequests are dead-lettered at once and create nothing;
// the events behind them are still handled.
func TestMalformedRequests(t *testing.T) {
	e := newEnv(t)
	bus := e.withMemoryBus(t)
	id := newID()
	change := func(f func(m map[string]any)) map[string]any {
		m := requested(id)
		f(m)
		return m
	}
	tests := []struct {
		name    string
		subject string
		data    any
	}{
		{"not an object", id, []int{1, 2}},
		{"price with three decimals", id, change(func(m map[string]any) {
			m["items"].([]map[string]any)[0]["unitPrice"] = json.Number("1.001")
		})},
		{"price as a string", id, change(func(m map[string]any) { m["items"].([]map[string]any)[0]["unitPrice"] = "1.00" })},
		{"fractional quantity", id, change(func(m map[string]any) { m["items"].([]map[string]any)[0]["quantity"] = 1.5 })},
		{"no items", id, change(func(m map[string]any) { delete(m, "items") })},
		{"no customer", id, change(func(m map[string]any) { delete(m, "customerId") })},
		{"order id not an ObjectID", "x", change(func(m map[string]any) { m["orderId"] = "x" })},
		{"subject is another order", newID(), requested(id)},
	}
	for i, tt := range tests {
		e.publish(t, tt.subject, tt.data)
		if n := len(bus.DeadLetters(amqpapi.Queue)); n != i+1 {
			t.Errorf("%s: %d dead letters, want %d", tt.name, n, i+1)
		}
	}
	if _, err := e.repo.ByID(context.Background(), id); !errors.Is(err, order.ErrNotFound) {
		t.Errorf("a malformed request created an order: %v", err)
	}
	e.publish(t, id, requested(id))
	if _, err := e.repo.ByID(context.Background(), id); err != nil {
		t.Errorf("the valid request behind the poison: %v", err)
	}
}

// TestThroughRabbitMQ runs the subscription on the real broker, on a
// queue and exchange of its own: a duplicate and a poison message, then a
// good one, which is handled.
func TestThroughRabbitMQ(t *testing.T) {
	url := testenv.AMQP(t)
	e := newEnv(t)
	suffix := strings.ToLower(rand.Text()[:10])
	exchange := "test.order." + suffix
	rabbit := messaging.NewRabbit(url, messaging.RabbitOptions{Exchange: exchange, DeliveryLimit: 1, RetryDelay: 10 * time.Millisecond})
	t.Cleanup(func() { _ = rabbit.Close() })
	e.bus = rabbit
	for i := range e.subs {
		e.subs[i].Queue += ".test." + suffix
	}
	t.Cleanup(func() { deleteBrokerObjects(t, url, exchange, e.subs[0].Queue) })
	messagingtest.Consume(t, rabbit, e.subs...)

	poison := newID()
	bad := requested(poison)
	bad["items"] = "none"
	e.publish(t, poison, bad)
	id := newID()
	ev := e.publish(t, id, requested(id))
	e.publishEvent(t, ev)
	messagingtest.Eventually(t, func() error {
		_, err := e.repo.ByID(context.Background(), id)
		return err
	})
	time.Sleep(200 * time.Millisecond) // let the duplicate arrive
	if got := e.pendingTypes(t, id); len(got) != 1 {
		t.Errorf("outbox after a duplicate through RabbitMQ = %v", got)
	}
	if _, err := e.repo.ByID(context.Background(), poison); !errors.Is(err, order.ErrNotFound) {
		t.Errorf("the poison message made an order: %v", err)
	}
}

func deleteBrokerObjects(t *testing.T, url, exchange, queue string) {
	conn, err := amqp.Dial(url)
	if err != nil {
		t.Logf("cleanup: %v", err)
		return
	}
	defer conn.Close()
	ch, err := conn.Channel()
	if err != nil {
		t.Logf("cleanup: %v", err)
		return
	}
	for _, q := range []string{queue, queue + ".dlq"} {
		if _, err := ch.QueueDelete(q, false, false, false); err != nil {
			t.Logf("cleanup: delete queue %s: %v", q, err)
		}
	}
	for _, x := range []string{exchange, exchange + ".dlx"} {
		if err := ch.ExchangeDelete(x, false, false); err != nil {
			t.Logf("cleanup: delete exchange %s: %v", x, err)
		}
	}
}

// TestTraceCarried: order.confirmed continues the trace of the
// order.requested that caused it.
func TestTraceCarried(t *testing.T) {
	e := newEnv(t)
	e.withMemoryBus(t)
	sc := trace.NewSpanContext(trace.SpanContextConfig{
		TraceID: trace.TraceID{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16},
		SpanID:  trace.SpanID{1, 2, 3, 4, 5, 6, 7, 8}, TraceFlags: trace.FlagsSampled,
	})
	id := newID()
	ev, err := messaging.NewEvent(trace.ContextWithSpanContext(context.Background(), sc), "/product", order.EventRequested, id, requested(id))
	if err != nil {
		t.Fatal(err)
	}
	e.publishEvent(t, ev)
	pending, err := e.repo.Pending(context.Background(), 10)
	if err != nil || len(pending) != 1 {
		t.Fatalf("pending = %v, %v", pending, err)
	}
	if tp := pending[0].Event.TraceParent; !strings.Contains(tp, sc.TraceID().String()) {
		t.Errorf("order.confirmed traceparent %q does not continue trace %s", tp, sc.TraceID())
	}
}

// TestOrderRequestedShippingAddress: the order takes the buy's address
// from order.requested; an event without one (every event before buys
// carried it) still makes an order, with no address yet.
func TestOrderRequestedShippingAddress(t *testing.T) {
	e := newEnv(t)
	e.withMemoryBus(t)
	tests := []struct {
		name string
		addr any // nil: left out
		want string
	}{
		{"carried", "Ada Lovelace\r\n12 St James's Square\r\nLondon", "Ada Lovelace\r\n12 St James's Square\r\nLondon"},
		{"left out", nil, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			id := newID()
			data := requested(id)
			delete(data, "shippingAddress")
			if tt.addr != nil {
				data["shippingAddress"] = tt.addr
			}
			e.publish(t, id, data)
			o, err := e.repo.ByID(context.Background(), id)
			if err != nil {
				t.Fatalf("order not created: %v", err)
			}
			if o.ShippingAddress != tt.want {
				t.Errorf("shippingAddress = %q, want %q", o.ShippingAddress, tt.want)
			}
		})
	}
}
