package messaging

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// MemoryOptions configure a MemoryBus.
type MemoryOptions struct {
	// DeliveryLimit is how many times a failed event is delivered again
	// before it is dead-lettered, as RabbitMQ's x-delivery-limit: a handler
	// that always fails sees an event DeliveryLimit+1 times. Zero means 5.
	DeliveryLimit int
	// Logger receives retries and dead letters; nil discards.
	Logger *slog.Logger
	// Registry receives the messaging metrics of this bus's own publishes
	// and consumers (not of the views For returns); nil means none.
	Registry prometheus.Registerer
}

// MemoryBus is an in-process Publisher and Subscriber for running every
// service in one process. It keeps the promise RabbitMQ keeps with
// confirms, in the only way a process without a broker can: Publish
// returns nil only once every queue bound to the event's type has handled
// it (or dead-lettered it), so an outbox that drops an event after Publish
// never loses it, even if the process dies a moment later.
//
// Handlers run in the publisher's goroutine; redeliveries happen at once,
// within the same Publish. Events travel as JSON, as on the wire.
//
// Services sharing one bus each take their own view of it with For, so
// that, as with RabbitMQ, a publish is counted in the publishing service's
// registry and a delivery in the consuming service's.
type MemoryBus struct {
	shared  *memoryShared
	metrics *metrics // this view's: its publishes and the queues it consumes
}

// memoryShared is what every view of one bus shares: its queues and dead
// letters.
type memoryShared struct {
	limit  int
	logger *slog.Logger

	mu     sync.Mutex
	queues map[string]*memoryQueue
	dead   map[string][]DeadLetter // by queue, oldest first; they outlive Consume, not the process
}

type memoryQueue struct {
	ctx     context.Context // the consumer's, for its handlers
	sub     Subscription
	metrics *metrics // of the view that consumes the queue
}

// NewMemoryBus returns an empty bus: until Consume declares a queue, every
// Publish fails as unroutable.
func NewMemoryBus(o MemoryOptions) *MemoryBus {
	if o.DeliveryLimit <= 0 {
		o.DeliveryLimit = 5
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	return &MemoryBus{
		shared: &memoryShared{
			limit:  o.DeliveryLimit,
			logger: o.Logger,
			queues: make(map[string]*memoryQueue),
			dead:   make(map[string][]DeadLetter),
		},
		metrics: newMetrics(o.Registry),
	}
}

// For returns a view of the bus for one service: the same queues and dead
// letters, with the messaging metrics of its publishes and of the queues it
// consumes registered in reg (none when reg is nil) instead of the bus's
// own Registry. It returns a Bus so that it can be handed to a service as
// its bus constructor (server.Options.Bus).
func (b *MemoryBus) For(reg prometheus.Registerer) Bus {
	return &MemoryBus{shared: b.shared, metrics: newMetrics(reg)}
}

// Publish hands e to the handler of every queue bound to its type, one
// queue after another, and returns nil once each has handled it or
// dead-lettered it. It fails with ErrUnroutable when no queue is bound, and
// with ctx's error when ctx ends before every queue is done; the event may
// then have reached some queues, as with a broker.
func (b *MemoryBus) Publish(ctx context.Context, e Event) error {
	if err := e.Validate(); err != nil {
		b.metrics.publishedInc(e.Type, publishFailed)
		return err
	}
	// Through JSON, as on the wire: a handler never shares memory with the
	// publisher and sees exactly what a RabbitMQ consumer would.
	body, err := json.Marshal(e)
	if err != nil {
		b.metrics.publishedInc(e.Type, publishFailed)
		return fmt.Errorf("messaging: encode event %s: %w", e.ID, err)
	}
	queues := b.matching(e.Type)
	if len(queues) == 0 {
		b.metrics.publishedInc(e.Type, publishUnroutable)
		return fmt.Errorf("publish %s %s: %w", e.Type, e.ID, ErrUnroutable)
	}
	for _, q := range queues {
		if err := b.deliver(ctx, q, body); err != nil {
			b.metrics.publishedInc(e.Type, publishFailed)
			return fmt.Errorf("publish %s %s: %w", e.Type, e.ID, err)
		}
	}
	b.metrics.publishedInc(e.Type, publishConfirmed)
	return nil
}

// deliver hands one event to q's handler until it succeeds, fails for
// good or runs out of deliveries. It fails only when ctx ends first.
func (b *MemoryBus) deliver(ctx context.Context, q *memoryQueue, body []byte) error {
	name, shared := q.sub.Queue, b.shared
	for delivery := 0; ; delivery++ {
		if err := ctx.Err(); err != nil {
			return err
		}
		e, err := decodeEvent(body)
		if err == nil {
			if delivery == 0 {
				q.metrics.consumeLag(name, e, time.Now())
			}
			err = handle(q.ctx, name, q.sub.Handler, e)
		}
		outcome, reason := consumeAck, ""
		switch {
		case err == nil:
		case IsPermanent(err):
			outcome, reason = consumeDeadLetter, ReasonRejected
		case delivery >= shared.limit:
			outcome, reason = consumeDeadLetter, ReasonDeliveryLimit
		default:
			outcome = consumeRetry
		}
		q.metrics.consumedInc(name, e.Type, outcome)
		switch outcome {
		case consumeAck:
			return nil
		case consumeDeadLetter:
			shared.logger.Warn("messaging: event dead-lettered", "queue", name, "type", e.Type, "id", e.ID, "deliveries", delivery+1, "err", err)
			shared.mu.Lock()
			shared.dead[name] = append(shared.dead[name], DeadLetter{
				ID: e.ID, Type: e.Type, Queue: name, DeadLetteredAt: time.Now().UTC(),
				Deliveries: delivery + 1, Reason: reason, Error: err.Error(), Event: e,
			})
			shared.mu.Unlock()
			return nil
		}
		shared.logger.Info("messaging: handler failed; delivering again", "queue", name, "type", e.Type, "id", e.ID, "deliveries", delivery+1, "err", err)
	}
}

// matching returns the queues bound to eventType, in name order so that
// delivery is repeatable.
func (b *MemoryBus) matching(eventType string) []*memoryQueue {
	b.shared.mu.Lock()
	defer b.shared.mu.Unlock()
	var qs []*memoryQueue
	for _, q := range b.shared.queues {
		for _, pattern := range q.sub.Types {
			if topicMatch(pattern, eventType) {
				qs = append(qs, q)
				break
			}
		}
	}
	slices.SortFunc(qs, func(a, b *memoryQueue) int { return strings.Compare(a.sub.Queue, b.sub.Queue) })
	return qs
}

// Consume declares the queues of subs and serves them until ctx ends. It
// fails at once for an invalid subscription or a queue that another
// Consume of this bus already serves.
func (b *MemoryBus) Consume(ctx context.Context, subs ...Subscription) error {
	if len(subs) == 0 {
		return fmt.Errorf("messaging: Consume without subscriptions")
	}
	shared := b.shared
	shared.mu.Lock()
	for i, s := range subs {
		err := s.validate()
		if err == nil && shared.queues[s.Queue] != nil {
			err = fmt.Errorf("messaging: queue %q is already consumed on this bus", s.Queue)
		}
		if err != nil {
			for _, added := range subs[:i] {
				delete(shared.queues, added.Queue)
			}
			shared.mu.Unlock()
			return err
		}
		shared.queues[s.Queue] = &memoryQueue{ctx: ctx, sub: s, metrics: b.metrics}
	}
	for _, s := range subs {
		// The bus encodes every event itself: none arrives malformed.
		b.metrics.consumedInit(s, false)
	}
	shared.mu.Unlock()

	<-ctx.Done()
	shared.mu.Lock()
	for _, s := range subs {
		delete(shared.queues, s.Queue)
	}
	shared.mu.Unlock()
	return nil
}

// DeadLetters returns the events dead-lettered on queue so far, oldest
// first. It is meant for tests.
func (b *MemoryBus) DeadLetters(queue string) []Event {
	b.shared.mu.Lock()
	defer b.shared.mu.Unlock()
	var out []Event
	for _, d := range b.shared.dead[queue] {
		out = append(out, d.Event)
	}
	return out
}

// ListDeadLetters returns the oldest limit dead letters of queue and how
// many there are.
func (b *MemoryBus) ListDeadLetters(_ context.Context, queue string, limit int) (DeadLetterList, error) {
	b.shared.mu.Lock()
	defer b.shared.mu.Unlock()
	dead := b.shared.dead[queue]
	return DeadLetterList{Items: slices.Clone(dead[:min(max(limit, 1), len(dead))]), Total: len(dead)}, nil
}

// DeadLetter returns the oldest dead letter of queue with the event id id.
func (b *MemoryBus) DeadLetter(_ context.Context, queue, id string) (DeadLetter, error) {
	b.shared.mu.Lock()
	defer b.shared.mu.Unlock()
	for _, d := range b.shared.dead[queue] {
		if d.ID == id {
			return d, nil
		}
	}
	return DeadLetter{}, fmt.Errorf("dead letter %s of %s: %w", id, queue, ErrNoDeadLetter)
}

// ReplayDeadLetter takes the oldest dead letter of queue with the event id
// id out of the dead letters and hands it to the queue's handler, as a
// Publish would but to that queue only, returning once it was handled or
// dead-lettered again. Taken out first, it cannot be replayed twice at
// once; when it cannot be handed on (nobody consumes the queue:
// ErrQueueNotConsumed, or ctx ends) it goes back where it was.
func (b *MemoryBus) ReplayDeadLetter(ctx context.Context, queue, id string) (DeadLetter, error) {
	shared := b.shared
	shared.mu.Lock()
	i := slices.IndexFunc(shared.dead[queue], func(d DeadLetter) bool { return d.ID == id })
	if i < 0 {
		shared.mu.Unlock()
		return DeadLetter{}, fmt.Errorf("replay %s of %s: %w", id, queue, ErrNoDeadLetter)
	}
	d := shared.dead[queue][i]
	q := shared.queues[queue]
	if q == nil {
		shared.mu.Unlock()
		return DeadLetter{}, fmt.Errorf("replay %s of %s: %w", id, queue, ErrQueueNotConsumed)
	}
	shared.dead[queue] = slices.Delete(shared.dead[queue], i, i+1)
	shared.mu.Unlock()

	body, err := json.Marshal(d.Event)
	if err == nil {
		err = b.deliver(ctx, q, body)
	}
	if err != nil {
		shared.mu.Lock()
		dead := shared.dead[queue]
		shared.dead[queue] = slices.Insert(dead, min(i, len(dead)), d)
		shared.mu.Unlock()
		return DeadLetter{}, fmt.Errorf("replay %s of %s: %w", id, queue, err)
	}
	return d, nil
}

// topicMatch reports whether routing key matches an AMQP topic binding
// pattern: words separated by dots, "*" standing for exactly one word and
// "#" for zero or more.
func topicMatch(pattern, key string) bool {
	return matchWords(strings.Split(pattern, "."), strings.Split(key, "."))
}

func matchWords(p, k []string) bool {
	if len(p) == 0 {
		return len(k) == 0
	}
	if p[0] == "#" {
		for i := 0; i <= len(k); i++ {
			if matchWords(p[1:], k[i:]) {
				return true
			}
		}
		return false
	}
	if len(k) == 0 || (p[0] != "*" && p[0] != k[0]) {
		return false
	}
	return matchWords(p[1:], k[1:])
}
