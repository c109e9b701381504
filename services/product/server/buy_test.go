package server_test

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	amqp "github.com/rabbitmq/amqp091-go"
	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"

	"github.com/travluk/ecom/dev/testenv"
	"github.com/travluk/ecom/services/platform/auth"
	"github.com/travluk/ecom/services/platform/auth/authtest"
	"github.com/travluk/ecom/services/platform/messaging"
	"github.com/travluk/ecom/services/platform/mongoconn"
	"github.com/travluk/ecom/services/product/internal/mongodb"
	"github.com/travluk/ecom/services/product/internal/product"
	"github.com/travluk/ecom/services/product/server"
)

// orderStandIn is the order service as far as the product service can
// tell: it consumes order.requested and answers order.confirmed, unless
// told to hold.
type orderStandIn struct {
	t    testing.TB
	bus  messaging.Bus
	hold atomic.Bool

	mu        sync.Mutex
	requested map[string]int // order id -> deliveries
}

func (o *orderStandIn) handle(ctx context.Context, e messaging.Event) error {
	var d struct {
		OrderID    string `json:"orderId"`
		CustomerID string `json:"customerId"`
	}
	if err := json.Unmarshal(e.Data, &d); err != nil {
		return messaging.Permanent(err)
	}
	o.mu.Lock()
	o.requested[d.OrderID]++
	o.mu.Unlock()
	if o.hold.Load() {
		return nil
	}
	return o.publish(ctx, "order.confirmed", d.OrderID)
}

// publish sends an order.confirmed or order.cancelled for orderID.
func (o *orderStandIn) publish(ctx context.Context, eventType, orderID string) error {
	data := map[string]any{"orderId": orderID, "customerId": "customer-1", "status": "confirmed", "confirmedAt": time.Now().UTC()}
	if eventType == "order.cancelled" {
		data = map[string]any{"orderId": orderID, "customerId": "customer-1", "items": []any{}, "cancelledAt": time.Now().UTC()}
	}
	e, err := messaging.NewEvent(ctx, "/order", eventType, orderID, data)
	if err != nil {
		return err
	}
	return o.bus.Publish(ctx, e)
}

func (o *orderStandIn) orders() map[string]int {
	o.mu.Lock()
	defer o.mu.Unlock()
	out := make(map[string]int, len(o.requested))
	for k, v := range o.requested {
		out[k] = v
	}
	return out
}

// queueBus gives a shared broker's queues names of the test's own.
type queueBus struct {
	messaging.Bus
	prefix string
}

func (b queueBus) Consume(ctx context.Context, subs ...messaging.Subscription) error {
	renamed := make([]messaging.Subscription, len(subs))
	for i, s := range subs {
		s.Queue = b.prefix + s.Queue
		renamed[i] = s
	}
	return b.Bus.Consume(ctx, renamed...)
}

// flow is one product service with a bus and an order stand-in.
type flow struct {
	t        testing.TB
	s        *service
	db       *mongo.Database
	orders   *orderStandIn
	admin    string
	customer string
}

func newFlow(t *testing.T, bus messaging.Bus, env map[string]string) *flow {
	t.Helper()
	iss := authtest.NewIssuer(t, testenv.Redis(t))
	e := baseEnv(t, iss)
	for k, v := range env {
		e[k] = v
	}
	orders := &orderStandIn{t: t, bus: bus, requested: map[string]int{}}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := bus.Consume(ctx, messaging.Subscription{Queue: "order", Types: []string{"order.requested"}, Handler: orders.handle}); err != nil {
			t.Errorf("order stand-in: %v", err)
		}
	}()
	t.Cleanup(func() { cancel(); <-done })
	s := startWith(t, e, server.Options{Bus: func(prometheus.Registerer) messaging.Bus { return bus }})
	mc, err := mongoconn.Connect(context.Background(), e["MONGODB_URI"])
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = mc.Disconnect(context.Background()) })
	admin, _ := iss.Token(t, "admin-1", auth.RoleAdmin)
	customer, _ := iss.Token(t, "customer-1", auth.RoleCustomer)
	return &flow{t: t, s: s, db: mc.Database(e["MONGODB_DATABASE"]), orders: orders, admin: admin, customer: customer}
}

func (f *flow) create(name string, stock int) string {
	f.t.Helper()
	r := f.s.do("POST", "/api/products", f.admin, fmt.Sprintf(`{"name":%q,"description":"","price":10,"stock":%d}`, name, stock))
	if r.status != http.StatusCreated {
		f.t.Fatalf("create: %s", r)
	}
	return r.json(f.t)["id"].(string)
}

func (f *flow) buy(productID string, q int) response {
	return f.s.do("POST", "/api/products/buy", f.customer, fmt.Sprintf(`{"items":[{"productId":%q,"quantity":%d}]}`, productID, q))
}

// units returns stock, reserved and sold of a product, and how many
// reservations it holds.
func (f *flow) units(productID string) [4]int64 {
	f.t.Helper()
	oid, _ := bson.ObjectIDFromHex(productID)
	var d struct {
		Stock, Reserved, Sold int64
		Reservations          bson.M
	}
	if err := f.db.Collection("products").FindOne(context.Background(), bson.D{{Key: "_id", Value: oid}}).Decode(&d); err != nil {
		f.t.Fatalf("product %s: %v", productID, err)
	}
	return [4]int64{d.Stock, d.Reserved, d.Sold, int64(len(d.Reservations))}
}

func (f *flow) statuses() map[string]int {
	f.t.Helper()
	cur, err := f.db.Collection("purchases").Find(context.Background(), bson.D{})
	if err != nil {
		f.t.Fatal(err)
	}
	var docs []struct{ Status string }
	if err := cur.All(context.Background(), &docs); err != nil {
		f.t.Fatal(err)
	}
	out := map[string]int{}
	for _, d := range docs {
		out[d.Status]++
	}
	return out
}

// eventually retries check until it returns "" or the time is up.
func eventually(t testing.TB, within time.Duration, check func() string) {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		msg := check()
		if msg == "" {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("after %v: %s", within, msg)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// race runs 200 concurrent buys of one unit of a product with 10 in
// stock: exactly 10 orders, 190 answers 409, and the stock all sold.
func race(t *testing.T, f *flow) {
	id := f.create("Limited Edition", 10)
	var (
		mu     sync.Mutex
		counts = map[int]int{}
		wg     sync.WaitGroup
	)
	began := time.Now()
	for range 200 {
		wg.Go(func() {
			r := f.buy(id, 1)
			mu.Lock()
			counts[r.status]++
			mu.Unlock()
		})
	}
	wg.Wait()
	t.Logf("200 concurrent buys in %v: %v", time.Since(began).Round(time.Millisecond), counts)
	if counts[http.StatusCreated] != 10 || counts[http.StatusConflict] != 190 {
		t.Errorf("answers %v, want 10 × 201 and 190 × 409", counts)
	}
	eventually(t, 10*time.Second, func() string {
		if got := f.units(id); got != [4]int64{0, 0, 10, 0} {
			return fmt.Sprintf("stock, reserved, sold, reservations = %v, want [0 0 10 0]", got)
		}
		if got := f.statuses(); got["confirmed"] != 10 || got["rejected"] != 190 || len(got) != 2 {
			return fmt.Sprintf("purchases %v", got)
		}
		if got := f.orders.orders(); len(got) != 10 {
			return fmt.Sprintf("the order service saw %d orders", len(got))
		}
		return ""
	})
}

// raceEnv gives the race a confirm wait long enough for a loaded machine:
// the test is about how many orders there are, not how fast they come.
var raceEnv = map[string]string{"BUY_CONFIRM_WAIT": "30s"}

func TestBuyRaceInProcessBus(t *testing.T) {
	race(t, newFlow(t, messaging.NewMemoryBus(messaging.MemoryOptions{}), raceEnv))
}

func TestBuyRaceRabbitMQ(t *testing.T) {
	url := testenv.AMQP(t)
	prefix := "test." + rand.Text()[:10] + "."
	rabbit := messaging.NewRabbit(url, messaging.RabbitOptions{Exchange: prefix + "events"})
	t.Cleanup(func() {
		_ = rabbit.Close()
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
		for _, q := range []string{"product", "order"} {
			for _, name := range []string{prefix + q, prefix + q + ".dlq"} {
				if _, err := ch.QueueDelete(name, false, false, false); err != nil {
					t.Logf("cleanup: delete queue %s: %v", name, err)
				}
			}
		}
		for _, x := range []string{prefix + "events", prefix + "events.dlx"} {
			_ = ch.ExchangeDelete(x, false, false)
		}
	})
	race(t, newFlow(t, queueBus{Bus: rabbit, prefix: prefix}, raceEnv))
}

// TestRedelivery delivers order.confirmed and order.cancelled twice and
// out of order: the stock goes back exactly once, and units of an order
// cancelled before its confirmation are never sold.
func TestRedelivery(t *testing.T) {
	bus := messaging.NewMemoryBus(messaging.MemoryOptions{})
	f := newFlow(t, bus, map[string]string{"BUY_CONFIRM_WAIT": "300ms"})
	ctx := context.Background()
	send := func(eventType, orderID string) {
		t.Helper()
		if err := f.orders.publish(ctx, eventType, orderID); err != nil {
			t.Fatalf("publish %s: %v", eventType, err)
		}
	}
	id := f.create("Lantern", 10)

	t.Run("confirmed, confirmed again, cancelled twice, confirmed", func(t *testing.T) {
		r := f.buy(id, 3)
		if r.status != http.StatusCreated {
			t.Fatalf("buy: %s", r)
		}
		order := r.json(t)["id"].(string)
		send("order.confirmed", order)
		if got := f.units(id); got != [4]int64{7, 0, 3, 0} {
			t.Errorf("after a second confirmation: %v", got)
		}
		send("order.cancelled", order)
		send("order.cancelled", order)
		if got := f.units(id); got != [4]int64{10, 0, 0, 0} {
			t.Errorf("after two cancellations: %v", got)
		}
		send("order.confirmed", order)
		if got := f.units(id); got != [4]int64{10, 0, 0, 0} {
			t.Errorf("after a late confirmation: %v", got)
		}
	})

	t.Run("cancelled before confirmed", func(t *testing.T) {
		f.orders.hold.Store(true)
		defer f.orders.hold.Store(false)
		r := f.buy(id, 4)
		if r.status != http.StatusAccepted {
			t.Fatalf("buy without confirmation: %s", r)
		}
		order := r.json(t)["orderId"].(string)
		if got := f.units(id); got != [4]int64{6, 4, 0, 1} {
			t.Errorf("while pending: %v", got)
		}
		send("order.cancelled", order)
		send("order.cancelled", order)
		send("order.confirmed", order)
		send("order.confirmed", order)
		if got := f.units(id); got != [4]int64{10, 0, 0, 0} {
			t.Errorf("after cancel, cancel, confirm, confirm: %v", got)
		}
	})

	t.Run("confirmation after the wait", func(t *testing.T) {
		f.orders.hold.Store(true)
		r := f.buy(id, 2)
		f.orders.hold.Store(false)
		if r.status != http.StatusAccepted {
			t.Fatalf("buy without confirmation: %s", r)
		}
		send("order.confirmed", r.json(t)["orderId"].(string))
		if got := f.units(id); got != [4]int64{8, 0, 2, 0} {
			t.Errorf("after the late confirmation: %v", got)
		}
	})

	if dead := bus.DeadLetters("product"); len(dead) != 0 {
		t.Errorf("dead letters: %v", dead)
	}
	// An event about an order the product service never requested is
	// dead-lettered, not retried for ever.
	send("order.confirmed", bson.NewObjectID().Hex())
	if dead := bus.DeadLetters("product"); len(dead) != 1 {
		t.Errorf("unknown order: %d dead letters", len(dead))
	}
}

// TestSweeper leaves a purchase stuck in reserving (its buy died between
// the reservation and the outbox write) and a reservation without a
// purchase: the sweeper releases both after PURCHASE_TIMEOUT.
func TestSweeper(t *testing.T) {
	f := newFlow(t, messaging.NewMemoryBus(messaging.MemoryOptions{}), map[string]string{"PURCHASE_TIMEOUT": "1s"})
	ctx := context.Background()
	id := f.create("Hammock", 5)
	purchases, reservations := mongodb.NewPurchases(f.db), mongodb.NewReservations(f.db)
	old := time.Now().Add(-time.Minute)
	stuck := &product.Purchase{CustomerID: "customer-1", BodyHash: "x", Status: product.StatusReserving,
		Lines: []product.PurchaseLine{{ProductID: id, Quantity: 2}}, CreatedAt: old, UpdatedAt: old}
	if err := purchases.Create(ctx, stuck); err != nil {
		t.Fatal(err)
	}
	if _, err := reservations.Reserve(ctx, id, stuck.OrderID, 2); err != nil {
		t.Fatal(err)
	}
	if _, err := reservations.Reserve(ctx, id, bson.NewObjectID().Hex(), 1); err != nil {
		t.Fatal(err)
	}
	if got := f.units(id); got != [4]int64{2, 3, 0, 2} {
		t.Fatalf("before the sweep: %v", got)
	}
	eventually(t, 5*time.Second, func() string {
		if got := f.units(id); got != [4]int64{5, 0, 0, 0} {
			return fmt.Sprintf("units %v", got)
		}
		p, err := purchases.ByID(ctx, stuck.OrderID)
		if err != nil || p.Status != product.StatusRejected || p.Reason != product.RejectTimeout {
			return fmt.Sprintf("purchase %+v, %v", p, err)
		}
		return ""
	})
	// A fresh purchase still reserving is left alone.
	fresh := &product.Purchase{CustomerID: "customer-1", BodyHash: "y", Status: product.StatusReserving,
		Lines: []product.PurchaseLine{{ProductID: id, Quantity: 1}}, CreatedAt: time.Now().Add(time.Hour), UpdatedAt: time.Now()}
	if err := purchases.Create(ctx, fresh); err != nil {
		t.Fatal(err)
	}
	if _, err := reservations.Reserve(ctx, id, fresh.OrderID, 1); err != nil {
		t.Fatal(err)
	}
	time.Sleep(500 * time.Millisecond)
	if got := f.units(id); got != [4]int64{4, 1, 0, 1} {
		t.Errorf("a purchase within its timeout was touched: %v", got)
	}
}
