package order

import (
	"slices"
	"time"
)

// Status is where an order stands.
type Status string

// The statuses of an order. Confirmed is the first: an order exists only
// once its stock was reserved.
const (
	Confirmed  Status = "confirmed"
	Processing Status = "processing"
	Shipped    Status = "shipped"
	Delivered  Status = "delivered"
	Cancelled  Status = "cancelled"
)

// Statuses lists every status, in the order of the happy path.
func Statuses() []Status { return []Status{Confirmed, Processing, Shipped, Delivered, Cancelled} }

// Valid reports whether s is one of Statuses.
func (s Status) Valid() bool { return slices.Contains(Statuses(), s) }

// CanMoveTo reports whether an order in status s may move to next. Staying
// in the same status is not a move.
func (s Status) CanMoveTo(next Status) bool {
	return slices.Contains(s.next(), next)
}

// next is the state machine: the statuses s may move to.
func (s Status) next() []Status {
	switch s {
	case Confirmed:
		return []Status{Processing, Cancelled}
	case Processing:
		return []Status{Shipped, Cancelled}
	case Shipped:
		return []Status{Delivered}
	}
	return nil
}

// BeforeShipping reports whether an order in status s has not left the
// warehouse and is still open: its owner may cancel it and its shipping
// address and notes may change.
func (s Status) BeforeShipping() bool { return s == Confirmed || s == Processing }

// Item is one line of an order, as priced when it was bought.
type Item struct {
	ProductID string
	Name      string
	UnitPrice Money
	Quantity  int64
	LineTotal Money
}

// HistoryEntry records one status an order entered, when, and why.
type HistoryEntry struct {
	Status Status
	At     time.Time
	Note   string
}

// Order is a customer's order.
type Order struct {
	ID              string
	CustomerID      string
	Items           []Item
	Quantity        int64 // total units over all items
	Total           Money
	Currency        string
	Status          Status
	History         []HistoryEntry
	ShippingAddress string
	Notes           string
	CreatedAt       time.Time
	UpdatedAt       time.Time
}

// Actor is who asks for a use case: the subject of a verified token.
type Actor struct {
	ID    string
	Admin bool
}

// canSee reports whether a may read o: its owner or an admin.
func (a Actor) canSee(o *Order) bool { return a.Admin || (a.ID != "" && a.ID == o.CustomerID) }
