package order

import "time"

// Event types: the routing keys of the events the order flow exchanges.
const (
	// EventRequested is published by the product service when every line
	// of a purchase is reserved; the order service creates the order.
	EventRequested = "order.requested"
	// EventConfirmed is published when the order exists; the product
	// service turns the reservation into a sale.
	EventConfirmed = "order.confirmed"
	// EventCancelled is published when an order is cancelled; the product
	// service gives the stock back, once.
	EventCancelled = "order.cancelled"
)

// Event is a domain event a write appends to the order's outbox: its type
// and its JSON payload. The adapter wraps it in a CloudEvent whose subject
// is the order id.
type Event struct {
	Type string
	Data any
	// Seq is the event's place among its order's events: the index of the
	// status history entry that caused it. Statuses never repeat (the
	// state machine has no cycles), so it grows with every event of an
	// order, and the relay publishes an order's events in its order.
	Seq int
}

// ConfirmedData is the payload of order.confirmed.
type ConfirmedData struct {
	OrderID     string    `json:"orderId"`
	CustomerID  string    `json:"customerId"`
	Status      Status    `json:"status"`
	TotalAmount Money     `json:"totalAmount"`
	ConfirmedAt time.Time `json:"confirmedAt"`
}

// CancelledData is the payload of order.cancelled: the quantities the
// product service gives back.
type CancelledData struct {
	OrderID     string          `json:"orderId"`
	CustomerID  string          `json:"customerId"`
	Items       []CancelledItem `json:"items"`
	Reason      string          `json:"reason,omitempty"`
	CancelledAt time.Time       `json:"cancelledAt"`
}

// CancelledItem is one line of an order.cancelled payload.
type CancelledItem struct {
	ProductID string `json:"productId"`
	Quantity  int64  `json:"quantity"`
}

// Request is what order.requested asks for: an order for lines the
// product service has reserved under OrderID.
type Request struct {
	OrderID         string
	CustomerID      string
	Items           []RequestItem
	Currency        string
	ShippingAddress string
	RequestedAt     time.Time
}

// RequestItem is one reserved line of a Request.
type RequestItem struct {
	ProductID string
	Name      string
	UnitPrice Money
	Quantity  int64
}

func confirmedEvent(o *Order) Event {
	return Event{Type: EventConfirmed, Seq: 0, Data: ConfirmedData{
		OrderID: o.ID, CustomerID: o.CustomerID, Status: Confirmed, TotalAmount: o.Total, ConfirmedAt: o.CreatedAt,
	}}
}

func cancelledEvent(o *Order, reason string, at time.Time) Event {
	items := make([]CancelledItem, len(o.Items))
	for i, it := range o.Items {
		items[i] = CancelledItem{ProductID: it.ProductID, Quantity: it.Quantity}
	}
	return Event{Type: EventCancelled, Seq: len(o.History), Data: CancelledData{
		OrderID: o.ID, CustomerID: o.CustomerID, Items: items, Reason: reason, CancelledAt: at,
	}}
}
