package messaging

import (
	"context"
	"errors"
	"fmt"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"
)

// deadLetterScanLimit bounds how many dead letters one look-up or replay
// holds at once while it searches a dead-letter queue for an id; a dead
// letter behind them is not found until those ahead are replayed.
const deadLetterScanLimit = 1000

// Browsing a dead-letter queue takes its messages with basic.get without
// acknowledging them, on a channel of its own, and then closes that
// channel: RabbitMQ puts every unacknowledged message back, in the order it
// had them, so looking loses and reorders nothing. Nothing consumes a
// dead-letter queue, so nobody else is handed them meanwhile; browses of
// one Rabbit take turns (browsing), since a second browse would not see
// what the first holds. A replay publishes the message with a confirm
// first and acknowledges its dead-letter copy only then: a crash between
// the two leaves a duplicate, never a loss.

// ListDeadLetters returns the oldest limit dead letters of queue's
// dead-letter queue and how many it holds.
func (r *Rabbit) ListDeadLetters(ctx context.Context, queue string, limit int) (DeadLetterList, error) {
	var list DeadLetterList
	err := r.browse(ctx, queue, max(limit, 1), func(d amqp.Delivery) bool {
		list.Items = append(list.Items, r.deadLetter(queue, d))
		list.Total = len(list.Items) + int(d.MessageCount)
		return false
	})
	return list, err
}

// DeadLetter returns the oldest dead letter of queue with the event id id,
// among the first deadLetterScanLimit.
func (r *Rabbit) DeadLetter(ctx context.Context, queue, id string) (DeadLetter, error) {
	var found *DeadLetter
	err := r.browse(ctx, queue, deadLetterScanLimit, func(d amqp.Delivery) bool {
		if dl := r.deadLetter(queue, d); dl.ID == id {
			found = &dl
		}
		return found != nil
	})
	if err != nil {
		return DeadLetter{}, err
	}
	if found == nil {
		return DeadLetter{}, fmt.Errorf("dead letter %s of %s: %w", id, queue, ErrNoDeadLetter)
	}
	return *found, nil
}

// ReplayDeadLetter publishes the oldest dead letter of queue with the event
// id id, among the first deadLetterScanLimit, through the default exchange
// to queue alone, waits for the broker's confirm, and only then
// acknowledges the dead-letter copy. Until the ack, the copy is held
// unacknowledged, so a concurrent replay of the same id on this broker
// does not find it.
func (r *Rabbit) ReplayDeadLetter(ctx context.Context, queue, id string) (DeadLetter, error) {
	var (
		found   *DeadLetter
		settled error
	)
	err := r.browse(ctx, queue, deadLetterScanLimit, func(d amqp.Delivery) bool {
		dl := r.deadLetter(queue, d)
		if dl.ID != id {
			return false
		}
		found = &dl
		settled = r.republish(ctx, queue, d)
		if settled == nil {
			if err := d.Ack(false); err != nil {
				settled = fmt.Errorf("replayed, but its dead-letter copy is still there (a second replay is a harmless duplicate): %w", err)
			}
		}
		return true
	})
	switch {
	case err != nil:
		return DeadLetter{}, err
	case found == nil:
		return DeadLetter{}, fmt.Errorf("replay %s of %s: %w", id, queue, ErrNoDeadLetter)
	case settled != nil:
		return DeadLetter{}, fmt.Errorf("replay %s of %s: %w", id, queue, settled)
	}
	r.logger.Info("messaging: dead letter replayed", "queue", r.o.QueuePrefix+queue, "id", id)
	return *found, nil
}

// republish sends a dead letter's body to its queue through the default
// exchange, so that no other queue bound to its type sees it twice, with
// fresh headers (a new delivery count), and waits for the confirm.
func (r *Rabbit) republish(ctx context.Context, queue string, d amqp.Delivery) error {
	s, err := r.session(ctx)
	if err != nil {
		return err
	}
	msg := amqp.Publishing{
		ContentType:  d.ContentType,
		DeliveryMode: amqp.Persistent,
		MessageId:    d.MessageId,
		Type:         d.Type,
		Timestamp:    d.Timestamp,
		Body:         d.Body,
	}
	done, err := s.publish(ctx, "", r.o.QueuePrefix+queue, msg)
	if err != nil {
		return err
	}
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// browse hands visit the messages of queue's dead-letter queue, oldest
// first, up to limit or until visit returns true, and then gives back
// every one visit did not acknowledge. A dead-letter queue that does not
// exist yet holds nothing.
func (r *Rabbit) browse(ctx context.Context, queue string, limit int, visit func(amqp.Delivery) bool) error {
	select {
	case r.browsing <- struct{}{}:
		defer func() { <-r.browsing }()
	case <-ctx.Done():
		return ctx.Err()
	}
	s, err := r.session(ctx)
	if err != nil {
		return err
	}
	ch, err := s.conn.Channel()
	if err != nil {
		return fmt.Errorf("messaging: open a channel to browse dead letters: %w", err)
	}
	// Closing the channel is what gives back the unacknowledged messages,
	// in their order.
	defer ch.Close()
	dlq := r.o.QueuePrefix + queue + ".dlq"
	for n := 0; n < limit; n++ {
		if err := ctx.Err(); err != nil {
			return err
		}
		d, ok, err := ch.Get(dlq, false)
		if amqpErr, isAMQP := errors.AsType[*amqp.Error](err); isAMQP && amqpErr.Code == amqp.NotFound {
			return nil
		}
		if err != nil {
			return fmt.Errorf("messaging: browse %s: %w", dlq, err)
		}
		if !ok || visit(d) {
			return nil
		}
	}
	return nil
}

// deadLetter describes one message of queue's dead-letter queue, from its
// body and the x-death entry RabbitMQ added when queue dead-lettered it.
func (r *Rabbit) deadLetter(queue string, d amqp.Delivery) DeadLetter {
	dl := DeadLetter{ID: d.MessageId, Type: d.Type, Queue: queue}
	if e, err := decodeEvent(d.Body); err == nil {
		dl.ID, dl.Type, dl.Event = e.ID, e.Type, e
	}
	deaths, _ := d.Headers["x-death"].([]any)
	for _, death := range deaths {
		t, ok := death.(amqp.Table)
		if !ok || t["queue"] != r.o.QueuePrefix+queue {
			continue
		}
		// The first entry for the queue is the latest death there.
		dl.Reason, _ = t["reason"].(string)
		if at, ok := t["time"].(time.Time); ok {
			dl.DeadLetteredAt = at.UTC()
		}
		if dl.Reason == ReasonDeliveryLimit {
			dl.Deliveries = r.o.DeliveryLimit + 1
		}
		break
	}
	return dl
}
