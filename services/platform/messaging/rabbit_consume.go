package messaging

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"
)

// Consume declares the topology of subs and hands every event arriving on
// their queues to their handlers, up to Prefetch at once per queue, until
// ctx ends. When the connection is lost it connects again with backoff, as
// often as it takes. Each queue is a durable quorum queue bound to the
// exchange for its types, with a delivery limit and a dead-letter queue
// "<queue>.dlq", both named with QueuePrefix in front.
//
// A handler's nil acknowledges the event. Its error returns the event to
// the queue after RetryDelay (doubling per delivery), until the delivery
// limit dead-letters it; a Permanent error, or a body that is not a valid
// event, dead-letters it at once. When ctx ends, Consume stops taking
// events, lets the handlers running finish and acknowledges what they
// handled, then returns nil. It fails at once, without connecting, for
// invalid subscriptions.
func (r *Rabbit) Consume(ctx context.Context, subs ...Subscription) error {
	if len(subs) == 0 {
		return errors.New("messaging: Consume without subscriptions")
	}
	seen := make(map[string]bool)
	for _, s := range subs {
		if err := s.validate(); err != nil {
			return err
		}
		if seen[s.Queue] {
			return fmt.Errorf("messaging: queue %q subscribed twice", s.Queue)
		}
		seen[s.Queue] = true
	}
	if r.o.QueuePrefix != "" {
		// Every name below (declarations, logs, metrics) is the queue's
		// real name on the broker.
		prefixed := make([]Subscription, len(subs))
		for i, s := range subs {
			s.Queue = r.o.QueuePrefix + s.Queue
			prefixed[i] = s
		}
		subs = prefixed
	}
	for _, s := range subs {
		r.metrics.consumedInit(s, true)
	}
	delay := r.o.ReconnectDelay
	for {
		established, err := r.consumeSession(ctx, subs)
		if ctx.Err() != nil {
			return nil
		}
		if established {
			delay = r.o.ReconnectDelay
		}
		r.logger.Warn("messaging: consumer disconnected; reconnecting", "in", delay, "err", err)
		t := time.NewTimer(delay)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil
		case <-t.C:
		}
		delay = min(2*delay, r.o.ReconnectMaxDelay)
	}
}

// consumerTag names the one consumer on each channel, so that it can be
// cancelled.
const consumerTag = "travluk"

// consumeSession serves subs over one connection until ctx ends (nil) or
// the connection or a channel is lost (its error). established tells
// whether it got as far as consuming.
func (r *Rabbit) consumeSession(ctx context.Context, subs []Subscription) (established bool, err error) {
	conn, err := r.dial(ctx, "consumer")
	if err != nil {
		return false, err
	}
	defer conn.Close()
	connClosed := conn.NotifyClose(make(chan *amqp.Error, 1))

	// lost is closed when the session ends for any reason; held retries
	// then give their event back at once rather than on a dead channel.
	lost := make(chan struct{})
	var (
		loops    sync.WaitGroup // one per subscription, reading deliveries
		handlers sync.WaitGroup // one per event in hand
		stopped  = make(chan error, len(subs))
		channels []*amqp.Channel
	)
	defer func() {
		// Stop the deliveries first, then let the handlers finish and
		// settle their events while the connection is still up.
		for _, ch := range channels {
			_ = ch.Cancel(consumerTag, false)
		}
		close(lost)
		loops.Wait()
		handlers.Wait()
	}()

	for _, sub := range subs {
		ch, deliveries, err := r.openConsumer(conn, sub)
		if err != nil {
			return false, err
		}
		channels = append(channels, ch)
		loops.Go(func() {
			for d := range deliveries {
				handlers.Go(func() { r.process(ctx, lost, sub, d) })
			}
			stopped <- fmt.Errorf("messaging: consumer channel of %q closed", sub.Queue)
		})
	}

	select {
	case <-ctx.Done():
		return true, nil
	case err := <-connClosed:
		return true, fmt.Errorf("messaging: consumer connection closed: %v", err)
	case err := <-stopped:
		return true, err
	}
}

// openConsumer opens a channel for sub, declares its topology and starts
// consuming with the prefetch bound.
func (r *Rabbit) openConsumer(conn *amqp.Connection, sub Subscription) (*amqp.Channel, <-chan amqp.Delivery, error) {
	ch, err := conn.Channel()
	if err != nil {
		return nil, nil, fmt.Errorf("messaging: open channel for %q: %w", sub.Queue, err)
	}
	if err := r.declare(conn, ch, sub); err != nil {
		return nil, nil, err
	}
	if err := ch.Qos(r.o.Prefetch, 0, false); err != nil {
		return nil, nil, fmt.Errorf("messaging: prefetch for %q: %w", sub.Queue, err)
	}
	deliveries, err := ch.Consume(sub.Queue, consumerTag, false, false, false, false, nil)
	if err != nil {
		return nil, nil, fmt.Errorf("messaging: consume %q: %w", sub.Queue, err)
	}
	return ch, deliveries, nil
}

// declare makes sure the exchanges, sub's queue with its bindings, and its
// dead-letter queue exist; declaring what exists already changes nothing.
// The dead-letter routing key is the queue's name, so that each
// dead-letter queue receives only its own queue's dead letters.
func (r *Rabbit) declare(conn *amqp.Connection, ch *amqp.Channel, sub Subscription) error {
	dlq := sub.Queue + ".dlq"
	steps := []struct {
		what string
		do   func() error
	}{
		{"exchange " + r.o.Exchange, func() error {
			return ch.ExchangeDeclare(r.o.Exchange, amqp.ExchangeTopic, true, false, false, false, nil)
		}},
		{"exchange " + r.dlx, func() error {
			return ch.ExchangeDeclare(r.dlx, amqp.ExchangeTopic, true, false, false, false, nil)
		}},
		{"queue " + dlq, func() error { return declareDeadLetterQueue(conn, ch, dlq) }},
		{"binding of " + dlq, func() error { return ch.QueueBind(dlq, sub.Queue, r.dlx, false, nil) }},
		{"queue " + sub.Queue, func() error {
			_, err := ch.QueueDeclare(sub.Queue, true, false, false, false, amqp.Table{
				amqp.QueueTypeArg:           amqp.QueueTypeQuorum,
				"x-delivery-limit":          int64(r.o.DeliveryLimit),
				"x-dead-letter-exchange":    r.dlx,
				"x-dead-letter-routing-key": sub.Queue,
				// At-least-once dead-lettering keeps a message in its
				// queue until the dead-letter queue has it; RabbitMQ
				// requires reject-publish overflow for it.
				"x-dead-letter-strategy": "at-least-once",
				amqp.QueueOverflowArg:    amqp.QueueOverflowRejectPublish,
			})
			return err
		}},
	}
	for _, t := range sub.Types {
		steps = append(steps, struct {
			what string
			do   func() error
		}{"binding " + t + " of " + sub.Queue, func() error { return ch.QueueBind(sub.Queue, t, r.o.Exchange, false, nil) }})
	}
	for _, s := range steps {
		if err := s.do(); err != nil {
			return fmt.Errorf("messaging: declare %s: %w", s.what, err)
		}
	}
	return nil
}

// deadLetterDeliveryLimit is the delivery limit of a dead-letter queue: one
// no browse ever reaches. Browsing (ListDeadLetters) hands each message out
// and takes it back, and from RabbitMQ 4.0 to 4.2 every such return counts
// towards a quorum queue's delivery limit, which defaults to 20 when none
// is set; a dead-letter queue has no dead-letter exchange of its own, so a
// message over the limit would be dropped.
const deadLetterDeliveryLimit = 1 << 30

// declareDeadLetterQueue declares dlq, a quorum queue with
// deadLetterDeliveryLimit, unless it exists already: RabbitMQ refuses to
// redeclare a queue with other arguments, so a dead-letter queue declared
// before this limit existed keeps none, and on RabbitMQ 4.0–4.2 needs an
// operator policy (delivery-limit) to be browsed safely more than 20 times.
// The passive look-up goes on a channel of its own because a queue that is
// not there closes the channel that asked.
func declareDeadLetterQueue(conn *amqp.Connection, ch *amqp.Channel, dlq string) error {
	probe, err := conn.Channel()
	if err != nil {
		return err
	}
	_, err = probe.QueueDeclarePassive(dlq, true, false, false, false, nil)
	if err == nil {
		return probe.Close()
	}
	if amqpErr, ok := errors.AsType[*amqp.Error](err); !ok || amqpErr.Code != amqp.NotFound {
		return err
	}
	_, err = ch.QueueDeclare(dlq, true, false, false, false, amqp.Table{
		amqp.QueueTypeArg:  amqp.QueueTypeQuorum,
		"x-delivery-limit": int64(deadLetterDeliveryLimit),
	})
	return err
}

// process handles one delivery and settles it: ack, dead-letter, or back
// to the queue after the retry delay.
func (r *Rabbit) process(ctx context.Context, lost <-chan struct{}, sub Subscription, d amqp.Delivery) {
	e, err := decodeEvent(d.Body)
	previous := deliveryCount(d)
	if err == nil {
		if previous == 0 {
			r.metrics.consumeLag(sub.Queue, e, time.Now())
		}
		err = handle(ctx, sub.Queue, sub.Handler, e)
	}
	eventType := e.Type
	if eventType == "" {
		eventType = malformedEventType
	}
	log := r.logger.With("queue", sub.Queue, "type", eventType, "id", d.MessageId, "deliveries", previous+1)

	var settle error
	switch {
	case err == nil:
		r.metrics.consumedInc(sub.Queue, eventType, consumeAck)
		settle = d.Ack(false)
	case IsPermanent(err):
		r.metrics.consumedInc(sub.Queue, eventType, consumeDeadLetter)
		log.Warn("messaging: event dead-lettered", "err", err)
		settle = d.Nack(false, false)
	case previous >= r.o.DeliveryLimit:
		// Returning it is what makes the broker dead-letter it.
		r.metrics.consumedInc(sub.Queue, eventType, consumeDeadLetter)
		log.Warn("messaging: event dead-lettered after its delivery limit", "err", err)
		settle = d.Nack(false, true)
	default:
		r.metrics.consumedInc(sub.Queue, eventType, consumeRetry)
		delay := r.o.RetryDelay << min(previous, 5)
		log.Info("messaging: handler failed; delivering again", "in", delay, "err", err)
		t := time.NewTimer(delay)
		select {
		case <-t.C:
		case <-lost:
			t.Stop()
		}
		settle = d.Nack(false, true)
	}
	if settle != nil {
		// The channel is gone; the broker delivers the event again.
		log.Debug("messaging: settling an event failed", "err", settle)
	}
}

// deliveryCount returns how many times the broker delivered d before, from
// the x-delivery-count header quorum queues set on redeliveries.
func deliveryCount(d amqp.Delivery) int {
	switch n := d.Headers["x-delivery-count"].(type) {
	case int64:
		return int(n)
	case int32:
		return int(n)
	case int:
		return n
	}
	return 0
}
