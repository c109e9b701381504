package order

import (
	"context"
	"errors"
	"time"
)

// Repository stores orders, each with its outbox: the events a write
// appended, kept in the order's own document until the relay has
// published them. Errors wrap ErrUnavailable when the store cannot be
// reached.
type Repository interface {
	// Insert stores o under o.ID with events in its outbox, in one write.
	// An id that is taken is ErrAlreadyExists and changes nothing.
	Insert(ctx context.Context, o *Order, events []Event) error
	// ByID returns the order, or ErrNotFound (also for a malformed id).
	ByID(ctx context.Context, id string) (*Order, error)
	// List returns up to q.Limit orders matching q, newest first (by
	// creation time, then id), strictly after q.After when it is set.
	List(ctx context.Context, q ListQuery) ([]*Order, error)
	// ChangeStatus moves the order from status from to entry.Status,
	// appends entry to its history and event (when not nil) to its outbox,
	// in one write that happens only while the status is still from, and
	// returns the order as written. An unknown id is ErrNotFound; a status
	// other than from is ErrStatusChanged and changes nothing.
	ChangeStatus(ctx context.Context, id string, from Status, entry HistoryEntry, event *Event) (*Order, error)
	// UpdateDetails sets the details that are not nil, and updatedAt to
	// at, in one write that happens only while the order is before
	// shipping, and returns the order as written. An unknown id is
	// ErrNotFound; an order past that point is ErrAlreadyShipped.
	UpdateDetails(ctx context.Context, id string, d Details, at time.Time) (*Order, error)
}

// ErrStatusChanged is the repository's answer to a status change whose
// expected current status no longer holds: someone else moved the order
// first.
var ErrStatusChanged = errors.New("order status changed since it was read")

// Clock tells the time; tests pass a fixed one.
type Clock func() time.Time

// Details are the fields of an order its owner may still change before
// shipping. Nil means unchanged.
type Details struct {
	ShippingAddress *string
	Notes           *string
}
