package amqpapi

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/travluk/ecom/services/platform/messaging"
	"github.com/travluk/ecom/services/product/internal/product"
)

// Event types (routing keys) of the order flow, and the source the product
// service publishes under.
const (
	TypeOrderRequested = "order.requested"
	TypeOrderConfirmed = "order.confirmed"
	TypeOrderCancelled = "order.cancelled"
	Source             = "/product"
)

// RequestedData is the payload of order.requested, which the product
// service publishes when every line of a purchase is reserved.
type RequestedData struct {
	OrderID    string          `json:"orderId"`
	CustomerID string          `json:"customerId"`
	Items      []RequestedItem `json:"items"`
	Currency   string          `json:"currency"`
	// ShippingAddress is the buy's, left out when it named none.
	ShippingAddress string    `json:"shippingAddress,omitempty"`
	RequestedAt     time.Time `json:"requestedAt"`
}

// RequestedItem is one reserved line of order.requested, priced when it
// was reserved.
type RequestedItem struct {
	ProductID string `json:"productId"`
	Name      string `json:"name"`
	UnitPrice Money  `json:"unitPrice"`
	Quantity  int64  `json:"quantity"`
}

// Money is written as a JSON number with exactly two decimals, straight
// from the cents.
type Money product.Money

// MarshalJSON writes m as "19.99".
func (m Money) MarshalJSON() ([]byte, error) { return []byte(product.Money(m).String()), nil }

// ConfirmedData is the payload of order.confirmed as the product service
// reads it: only what it needs. Unknown fields are ignored, so the order
// service may add to it.
type ConfirmedData struct {
	OrderID     string    `json:"orderId"`
	CustomerID  string    `json:"customerId"`
	ConfirmedAt time.Time `json:"confirmedAt"`
}

// CancelledData is the payload of order.cancelled as the product service
// reads it. The items are informative: the units given back are the
// purchase's own lines, which the product service recorded itself.
type CancelledData struct {
	OrderID    string `json:"orderId"`
	CustomerID string `json:"customerId"`
	Items      []struct {
		ProductID string `json:"productId"`
		Quantity  int64  `json:"quantity"`
	} `json:"items"`
	Reason      string    `json:"reason,omitempty"`
	CancelledAt time.Time `json:"cancelledAt"`
}

// Events implements product.Events: it makes the CloudEvents the product
// service publishes.
type Events struct{}

// OrderRequested returns the order.requested CloudEvent of p, carrying
// the trace of ctx.
func (Events) OrderRequested(ctx context.Context, p *product.Purchase) (product.OutboxEvent, error) {
	data := RequestedData{
		OrderID: p.OrderID, CustomerID: p.CustomerID, Items: make([]RequestedItem, len(p.Lines)),
		Currency: product.Currency, ShippingAddress: p.ShippingAddress, RequestedAt: p.UpdatedAt.UTC(),
	}
	for i, l := range p.Lines {
		data.Items[i] = RequestedItem{ProductID: l.ProductID, Name: l.Name, UnitPrice: Money(l.UnitPrice), Quantity: l.Quantity}
	}
	e, err := messaging.NewEvent(ctx, Source, TypeOrderRequested, p.OrderID, data)
	if err != nil {
		return product.OutboxEvent{}, err
	}
	raw, err := json.Marshal(e)
	if err != nil {
		return product.OutboxEvent{}, fmt.Errorf("encode %s event: %w", TypeOrderRequested, err)
	}
	return product.OutboxEvent{ID: e.ID, JSON: raw}, nil
}
