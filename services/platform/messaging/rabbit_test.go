package messaging_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/travluk/ecom/dev/testenv"
	"github.com/travluk/ecom/services/platform/messaging"
	"github.com/travluk/ecom/services/platform/messaging/messagingtest"
)

// testOptions keep every wait of a test in milliseconds.
func testOptions(exchange string) messaging.RabbitOptions {
	return messaging.RabbitOptions{
		Exchange:          exchange,
		DeliveryLimit:     2,
		RetryDelay:        5 * time.Millisecond,
		ReconnectDelay:    10 * time.Millisecond,
		ReconnectMaxDelay: 200 * time.Millisecond,
		DialTimeout:       2 * time.Second,
		Name:              "test",
	}
}

// broker is a test's own corner of the real RabbitMQ: an exchange and
// queues named after a random prefix, deleted when the test ends.
type broker struct {
	t      testing.TB
	url    string
	prefix string
	admin  *amqp.Connection

	mu     sync.Mutex
	queues []string
}

func newBroker(t testing.TB) *broker {
	t.Helper()
	raw := testenv.AMQP(t)
	admin, err := amqp.Dial(raw)
	if err != nil {
		t.Fatalf("connect to RabbitMQ: %v", err)
	}
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	br := &broker{t: t, url: raw, prefix: "t-" + hex.EncodeToString(b), admin: admin}
	t.Cleanup(br.cleanup)
	return br
}

// exchange is the name of the test's exchange.
func (b *broker) exchange() string { return b.prefix + ".events" }

// queue returns the name of the test's queue called name; it and its
// dead-letter queue are deleted when the test ends.
func (b *broker) queue(name string) string {
	q := b.prefix + "." + name
	b.mu.Lock()
	b.queues = append(b.queues, q, q+".dlq")
	b.mu.Unlock()
	return q
}

func (b *broker) channel() *amqp.Channel {
	b.t.Helper()
	ch, err := b.admin.Channel()
	if err != nil {
		b.t.Fatal(err)
	}
	return ch
}

func (b *broker) cleanup() {
	defer b.admin.Close()
	ch, err := b.admin.Channel()
	if err != nil {
		b.t.Logf("cleanup: %v", err)
		return
	}
	defer ch.Close()
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, q := range b.queues {
		if _, err := ch.QueueDelete(q, false, false, false); err != nil {
			b.t.Logf("cleanup: delete queue %s: %v", q, err)
			return // the channel is closed by the error
		}
	}
	for _, x := range []string{b.exchange(), b.exchange() + ".dlx"} {
		if err := ch.ExchangeDelete(x, false, false); err != nil {
			b.t.Logf("cleanup: delete exchange %s: %v", x, err)
			return
		}
	}
}

// peek returns the messages in queue without taking them: they go back
// when the channel closes.
func (b *broker) peek(queue string) []amqp.Delivery {
	b.t.Helper()
	ch := b.channel()
	defer ch.Close()
	var out []amqp.Delivery
	for {
		d, ok, err := ch.Get(queue, false)
		if err != nil {
			b.t.Fatalf("get from %s: %v", queue, err)
		}
		if !ok {
			return out
		}
		out = append(out, d)
	}
}

// deadLetters returns the events in queue's dead-letter queue.
func (b *broker) deadLetters(t *testing.T, queue string) []messaging.Event {
	var out []messaging.Event
	for _, d := range b.peek(queue + ".dlq") {
		var e messaging.Event
		if err := json.Unmarshal(d.Body, &e); err != nil {
			t.Errorf("dead letter %q is not an event: %v", d.Body, err)
		}
		out = append(out, e)
	}
	return out
}

// rabbit returns a Rabbit on the test's exchange, closed when the test
// ends.
func (b *broker) rabbit(url string, change func(*messaging.RabbitOptions)) *messaging.Rabbit {
	o := testOptions(b.exchange())
	if change != nil {
		change(&o)
	}
	r := messaging.NewRabbit(url, o)
	b.t.Cleanup(func() { r.Close() })
	return r
}

func TestRabbitConformance(t *testing.T) {
	messagingtest.Run(t, func(t *testing.T) messagingtest.Harness {
		b := newBroker(t)
		return messagingtest.Harness{
			Bus:           b.rabbit(b.url, nil),
			DeliveryLimit: testOptions("").DeliveryLimit,
			Queue:         b.queue,
			DeadLetters:   b.deadLetters,
		}
	})
}

// bindQueue declares a plain queue of the test bound to eventType, with
// args, so that a test can look at what was published.
func (b *broker) bindQueue(name, eventType string, args amqp.Table) string {
	b.t.Helper()
	q := b.queue(name)
	ch := b.channel()
	defer ch.Close()
	if err := ch.ExchangeDeclare(b.exchange(), amqp.ExchangeTopic, true, false, false, false, nil); err != nil {
		b.t.Fatal(err)
	}
	if _, err := ch.QueueDeclare(q, true, false, false, false, args); err != nil {
		b.t.Fatal(err)
	}
	if err := ch.QueueBind(q, eventType, b.exchange(), false, nil); err != nil {
		b.t.Fatal(err)
	}
	return q
}

// TestRabbitPublishConfirmed checks that a nil from Publish means the event
// is in its queue, persistent, as a CloudEvent, and counted.
func TestRabbitPublishConfirmed(t *testing.T) {
	b := newBroker(t)
	q := b.bindQueue("plain", "thing.made", nil)
	reg := prometheus.NewRegistry()
	r := b.rabbit(b.url, func(o *messaging.RabbitOptions) { o.Registry = reg })
	ctx := context.Background()

	e := messagingtest.NewEvent(t, ctx, "thing.made", map[string]string{"k": "v"})
	if err := r.Publish(ctx, e); err != nil {
		t.Fatalf("Publish: %v", err)
	}
	msgs := b.peek(q)
	if len(msgs) != 1 {
		t.Fatalf("queue holds %d messages right after Publish returned, want 1", len(msgs))
	}
	m := msgs[0]
	if m.DeliveryMode != amqp.Persistent || m.MessageId != e.ID || m.Type != e.Type || m.ContentType != "application/cloudevents+json" {
		t.Errorf("message properties: mode %d, id %q, type %q, content type %q", m.DeliveryMode, m.MessageId, m.Type, m.ContentType)
	}
	var got messaging.Event
	if err := json.Unmarshal(m.Body, &got); err != nil || got.ID != e.ID || string(got.Data) != `{"k":"v"}` {
		t.Errorf("body %s (%v), want the event", m.Body, err)
	}

	unroutable := messagingtest.NewEvent(t, ctx, "nobody.listens", nil)
	if err := r.Publish(ctx, unroutable); !errors.Is(err, messaging.ErrUnroutable) {
		t.Errorf("Publish unroutable = %v, want ErrUnroutable", err)
	}
	for _, c := range []struct {
		typ, outcome string
		want         float64
	}{{"thing.made", "confirmed", 1}, {"nobody.listens", "unroutable", 1}} {
		if got := counterValue(t, reg, "messages_published_total", map[string]string{"type": c.typ, "outcome": c.outcome}); got != c.want {
			t.Errorf("messages_published_total{%s,%s} = %v, want %v", c.typ, c.outcome, got, c.want)
		}
	}
}

// TestRabbitPublishNacked fills a queue that refuses more: the broker's
// nack must reach the caller as an error.
func TestRabbitPublishNacked(t *testing.T) {
	b := newBroker(t)
	b.bindQueue("full", "thing.made", amqp.Table{"x-max-length": int64(1), amqp.QueueOverflowArg: amqp.QueueOverflowRejectPublish})
	r := b.rabbit(b.url, nil)
	ctx := context.Background()
	if err := r.Publish(ctx, messagingtest.NewEvent(t, ctx, "thing.made", 1)); err != nil {
		t.Fatalf("first Publish: %v", err)
	}
	err := r.Publish(ctx, messagingtest.NewEvent(t, ctx, "thing.made", 2))
	if err == nil || errors.Is(err, messaging.ErrUnroutable) {
		t.Errorf("Publish to a full queue = %v, want a nack error", err)
	}
	// The channel survives a nack.
	if err := r.Publish(ctx, messagingtest.NewEvent(t, ctx, "nobody.listens", nil)); !errors.Is(err, messaging.ErrUnroutable) {
		t.Errorf("Publish after a nack = %v, want ErrUnroutable", err)
	}
}

// TestRabbitPoison sends bodies that are no events straight to the queue:
// they are dead-lettered at once, without reaching the handler, and the
// event behind them is handled.
func TestRabbitPoison(t *testing.T) {
	b := newBroker(t)
	r := b.rabbit(b.url, nil)
	rec := messagingtest.NewRecorder(nil)
	q := b.queue("poisoned")
	messagingtest.Consume(t, r, messaging.Subscription{Queue: q, Types: []string{"thing.made"}, Handler: rec.Handle})
	messagingtest.Publish(t, r, "thing.made", "first") // the queue is there

	ch := b.channel()
	defer ch.Close()
	for _, body := range []string{"not json", `{"specversion":"1.0","id":"x"}`} {
		if err := ch.Publish(b.exchange(), "thing.made", false, false, amqp.Publishing{Body: []byte(body)}); err != nil {
			t.Fatal(err)
		}
	}
	good := messagingtest.Publish(t, r, "thing.made", "after")
	rec.WaitHandled(t, 2)
	if rec.Calls(good.ID) != 1 {
		t.Errorf("event behind the poison handled %d times, want 1", rec.Calls(good.ID))
	}
	messagingtest.Eventually(t, func() error {
		dead := b.peek(q + ".dlq")
		if len(dead) != 2 {
			return fmt.Errorf("%d dead letters, want 2", len(dead))
		}
		for _, d := range dead {
			// "rejected" is a dead letter at first sight; running out of
			// deliveries would say "delivery_limit".
			deaths, _ := d.Headers["x-death"].([]any)
			if len(deaths) == 0 || deaths[0].(amqp.Table)["reason"] != "rejected" {
				return fmt.Errorf("dead letter %q has x-death %v, want reason rejected", d.Body, deaths)
			}
		}
		return nil
	})
	if got := len(rec.Handled()); got != 2 {
		t.Errorf("handler saw %d events, want only the 2 valid ones", got)
	}
}

// TestRabbitQueuePrefix subscribes to "orders" with a QueuePrefix: the
// queue and its dead-letter queue exist on the broker under the prefixed
// names only, and events flow through them.
func TestRabbitQueuePrefix(t *testing.T) {
	b := newBroker(t)
	q := b.queue("orders") // registers the prefixed names for cleanup
	prefix := strings.TrimSuffix(q, "orders")
	r := b.rabbit(b.url, func(o *messaging.RabbitOptions) { o.QueuePrefix = prefix })
	rec := messagingtest.NewRecorder(nil)
	messagingtest.Consume(t, r, messaging.Subscription{Queue: "orders", Types: []string{"thing.made"}, Handler: rec.Handle})
	e := messagingtest.Publish(t, r, "thing.made", "prefixed")
	rec.WaitHandled(t, 1)
	if rec.Calls(e.ID) != 1 {
		t.Errorf("event handled %d times, want 1", rec.Calls(e.ID))
	}
	for _, name := range []string{q, q + ".dlq"} {
		ch := b.channel()
		if _, err := ch.QueueDeclarePassive(name, true, false, false, false, nil); err != nil {
			t.Errorf("queue %s: %v", name, err)
		}
		ch.Close()
	}
	// The unprefixed name was never declared (a passive declare of a
	// missing queue closes the channel with 404).
	ch := b.channel()
	defer ch.Close()
	if _, err := ch.QueueDeclarePassive("orders", true, false, false, false, nil); err == nil {
		t.Error(`queue "orders" exists without the prefix`)
	}
}

// TestRabbitReconnect cuts the TCP connections of a publisher and a
// consumer: publishing fails promptly meanwhile, and both work again
// once the connection can be made.
func TestRabbitReconnect(t *testing.T) {
	b := newBroker(t)
	u, err := url.Parse(b.url)
	if err != nil {
		t.Fatal(err)
	}
	proxy := testenv.NewTCPProxy(t, u.Host)
	u.Host = proxy.Addr()
	r := b.rabbit(u.String(), nil)
	rec := messagingtest.NewRecorder(nil)
	messagingtest.Consume(t, r, messaging.Subscription{Queue: b.queue("resilient"), Types: []string{"thing.made"}, Handler: rec.Handle})
	messagingtest.Publish(t, r, "thing.made", "before")
	rec.WaitHandled(t, 1)

	proxy.Cut()
	check := r.Check()
	for i := range 3 {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		began := time.Now()
		err := r.Publish(ctx, messagingtest.NewEvent(t, ctx, "thing.made", "during"))
		took := time.Since(began)
		cancel()
		if err == nil {
			t.Fatalf("Publish %d during the cut = nil", i)
		}
		t.Logf("Publish %d during the cut: %v after %v", i, err, took)
		if took > 500*time.Millisecond {
			t.Errorf("Publish %d during the cut took %v to fail, want it prompt", i, took)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	if err := check.Probe(ctx); err == nil {
		t.Error("readiness check passes during the cut")
	}
	cancel()

	proxy.Restore()
	after := messagingtest.Publish(t, r, "thing.made", "after")
	// A publish that failed may still have arrived (the error means "not
	// known to have arrived"), so look for this event among all handled.
	messagingtest.Eventually(t, func() error {
		if rec.Calls(after.ID) != 1 {
			return fmt.Errorf("event published after the cut handled %d times, want 1", rec.Calls(after.ID))
		}
		return nil
	})
	if err := check.Probe(context.Background()); err != nil {
		t.Errorf("readiness check after the cut: %v", err)
	}
}

// TestRabbitPrefetch holds every handler: no more events than the
// prefetch may be in hand at once, and all arrive once released.
func TestRabbitPrefetch(t *testing.T) {
	const prefetch, events = 3, 10
	b := newBroker(t)
	r := b.rabbit(b.url, func(o *messaging.RabbitOptions) { o.Prefetch = prefetch })
	release := make(chan struct{})
	var inFlight, most atomic.Int32
	rec := messagingtest.NewRecorder(func(messaging.Event, int) error {
		n := inFlight.Add(1)
		defer inFlight.Add(-1)
		for {
			m := most.Load()
			if n <= m || most.CompareAndSwap(m, n) {
				break
			}
		}
		<-release
		return nil
	})
	messagingtest.Consume(t, r, messaging.Subscription{Queue: b.queue("bounded"), Types: []string{"thing.made"}, Handler: rec.Handle})
	for i := range events {
		messagingtest.Publish(t, r, "thing.made", i)
	}
	messagingtest.Eventually(t, func() error {
		if n := inFlight.Load(); n != prefetch {
			return fmt.Errorf("%d handlers running, want %d", n, prefetch)
		}
		return nil
	})
	time.Sleep(100 * time.Millisecond) // room for a delivery beyond the bound
	if m := most.Load(); m != prefetch {
		t.Errorf("at most %d handlers ran at once, want exactly the prefetch %d", m, prefetch)
	}
	close(release)
	rec.WaitHandled(t, events)
}

// TestRabbitUnreachable needs no broker: with nothing listening, Publish
// and the readiness check fail at once, and Consume still ends with its
// context.
func TestRabbitUnreachable(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	r := messaging.NewRabbit("amqp://guest:guest@"+addr+"/", testOptions("x"))
	defer r.Close()
	ctx := context.Background()
	for i := range 3 {
		began := time.Now()
		err := r.Publish(ctx, messagingtest.NewEvent(t, ctx, "thing.made", nil))
		if err == nil {
			t.Fatal("Publish with no broker = nil")
		}
		if strings.Contains(err.Error(), "guest:guest") {
			t.Errorf("error %q shows the password", err)
		}
		if took := time.Since(began); took > 500*time.Millisecond {
			t.Errorf("Publish %d took %v to fail", i, took)
		}
	}
	if err := r.Check().Probe(ctx); err == nil {
		t.Error("readiness check passes with no broker")
	}
	cctx, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
	defer cancel()
	if err := r.Consume(cctx, messaging.Subscription{Queue: "q", Types: []string{"a"}, Handler: func(context.Context, messaging.Event) error { return nil }}); err != nil {
		t.Errorf("Consume = %v, want nil once its context ended", err)
	}
	if cctx.Err() == nil {
		t.Error("Consume returned before its context ended")
	}
}

// BenchmarkRabbitPublish measures Publish with its confirm into a quorum
// queue: one publisher at a time (the latency), and 16 at once on the same
// Rabbit (the throughput).
func BenchmarkRabbitPublish(b *testing.B) {
	for _, parallel := range []int{1, 16} {
		b.Run(fmt.Sprintf("publishers=%d", parallel), func(b *testing.B) {
			br := newBroker(b)
			r := br.rabbit(br.url, nil)
			br.bindQueue("bench", "thing.made", amqp.Table{amqp.QueueTypeArg: amqp.QueueTypeQuorum})
			ctx := context.Background()
			e := messagingtest.NewEvent(b, ctx, "thing.made", map[string]string{"orderId": "0123456789abcdef01234567"})
			if err := r.Publish(ctx, e); err != nil {
				b.Fatal(err)
			}
			b.ResetTimer()
			began := time.Now()
			var wg sync.WaitGroup
			for w := range parallel {
				wg.Go(func() {
					// Worker w takes every parallel-th of the b.N publishes.
					for i := w; i < b.N; i += parallel {
						if err := r.Publish(ctx, e); err != nil {
							b.Error(err)
							return
						}
					}
				})
			}
			wg.Wait()
			b.ReportMetric(float64(b.N)/time.Since(began).Seconds(), "events/s")
		})
	}
}
