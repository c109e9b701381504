package messaging

import (
	"context"
	"errors"
	"time"
)

// Reasons a queue gave up on an event, as RabbitMQ's x-death names them.
const (
	// ReasonRejected: the handler failed with a Permanent error, or the
	// body is not an event at all.
	ReasonRejected = "rejected"
	// ReasonDeliveryLimit: the handler failed on every delivery up to the
	// queue's delivery limit.
	ReasonDeliveryLimit = "delivery_limit"
)

// DeadLetter is an event a queue gave up on, as its dead-letter queue holds
// it.
type DeadLetter struct {
	// ID is the event's id, by which the dead letter is looked up and
	// replayed.
	ID string
	// Type is the event's type.
	Type string
	// Queue is the queue that gave up on it, as its Subscription names it.
	Queue string
	// DeadLetteredAt is when it was dead-lettered (to the second on
	// RabbitMQ).
	DeadLetteredAt time.Time
	// Deliveries is how often it was delivered before it was given up on;
	// 0 when unknown (RabbitMQ does not tell for a rejected event).
	Deliveries int
	// Reason is ReasonRejected or ReasonDeliveryLimit.
	Reason string
	// Error is the handler's last error, when known: the in-process bus
	// keeps it; RabbitMQ keeps only Reason.
	Error string
	// Event is the whole event; zero when the body is not an event.
	Event Event
}

// DeadLetterList is the oldest dead letters of a queue.
type DeadLetterList struct {
	// Items are the oldest dead letters, oldest first.
	Items []DeadLetter
	// Total is how many dead letters the queue holds, Items included.
	Total int
}

// DeadLetters lets an operator see what a consuming service's queues gave
// up on and hand it back once the cause is fixed. Looking never takes a
// dead letter away or changes their order.
type DeadLetters interface {
	// ListDeadLetters returns the oldest limit (at least 1) dead letters
	// of queue and how many there are. A queue nobody declared yet has
	// none.
	ListDeadLetters(ctx context.Context, queue string, limit int) (DeadLetterList, error)
	// DeadLetter returns the dead letter of queue with the event id id,
	// or an error wrapping ErrNoDeadLetter.
	DeadLetter(ctx context.Context, queue, id string) (DeadLetter, error)
	// ReplayDeadLetter puts the dead letter with the event id id back on
	// queue, and on that queue only, then removes it from the dead letters
	// and returns it; once it returned nil, a second replay of id fails
	// with ErrNoDeadLetter. It fails with an error wrapping ErrNoDeadLetter
	// when there is no such dead letter. On any other error the dead
	// letter is still there, and may also have been put back: the handler
	// must, as always, tolerate a duplicate.
	ReplayDeadLetter(ctx context.Context, queue, id string) (DeadLetter, error)
}

// ErrNoDeadLetter is what looking up or replaying an unknown dead letter
// fails with.
var ErrNoDeadLetter = errors.New("messaging: no such dead letter")

// ErrQueueNotConsumed is what a replay on the in-process bus fails with
// while no consumer serves the queue: there is nobody to hand it to.
var ErrQueueNotConsumed = errors.New("messaging: nobody consumes the queue")
