package amqpapi

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/travluk/ecom/services/order/internal/order"
	"github.com/travluk/ecom/services/platform/failpoint"
	"github.com/travluk/ecom/services/platform/messaging"
)

type handlers struct {
	svc      *order.Service
	log      *slog.Logger
	requests *prometheus.CounterVec
	// failpoints is nil but in the crash tests; see Subscriptions.
	failpoints *failpoint.Set
}

func newHandlers(svc *order.Service, log *slog.Logger, reg prometheus.Registerer) *handlers {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	h := &handlers{svc: svc, log: log, requests: prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "order_requests_handled_total",
		Help: "order.requested events handled, by outcome: created, duplicate (the order existed), rejected (dead-lettered as invalid) or retry.",
	}, []string{"outcome"})}
	if reg != nil {
		reg.MustRegister(h.requests)
	}
	return h
}

// requestedData is the payload of order.requested. Prices and quantities
// stay the exact JSON text until they are parsed as integers, never
// through a float.
type requestedData struct {
	OrderID         string          `json:"orderId"`
	CustomerID      string          `json:"customerId"`
	Items           []requestedItem `json:"items"`
	Currency        string          `json:"currency"`
	ShippingAddress string          `json:"shippingAddress"`
	RequestedAt     time.Time       `json:"requestedAt"`
}

type requestedItem struct {
	ProductID string          `json:"productId"`
	Name      string          `json:"name"`
	UnitPrice json.RawMessage `json:"unitPrice"`
	Quantity  json.RawMessage `json:"quantity"`
}

// orderRequested creates the order an order.requested event asks for. A
// redelivery, or a request arriving after the order moved on, finds the
// order existing and is acknowledged without any effect. Data that can
// never make an order is dead-lettered at once; a store outage is retried.
//
// ctx already carries the consumer span that continues the event's trace
// (the messaging package starts it), so order.confirmed, made under ctx,
// continues the same trace.
func (h *handlers) orderRequested(ctx context.Context, e messaging.Event) error {
	req, err := decodeRequested(e)
	if err != nil {
		h.requests.WithLabelValues("rejected").Inc()
		h.log.WarnContext(ctx, "order.requested rejected", "eventId", e.ID, "subject", e.Subject, "error", err)
		return messaging.Permanent(err)
	}
	created, err := h.svc.CreateFromRequest(ctx, req)
	var invalid *order.ValidationError
	switch {
	case errors.As(err, &invalid):
		h.requests.WithLabelValues("rejected").Inc()
		h.log.WarnContext(ctx, "order.requested rejected", "eventId", e.ID, "orderId", req.OrderID, "error", err)
		return messaging.Permanent(err)
	case err != nil:
		h.requests.WithLabelValues("retry").Inc()
		return err
	case created:
		h.requests.WithLabelValues("created").Inc()
		h.log.InfoContext(ctx, "order created", "orderId", req.OrderID, "customerId", req.CustomerID)
		// A crash here leaves an order whose order.requested was never
		// acknowledged: the redelivery must find it and change nothing.
		h.failpoints.Hit("order.after-create")
	default:
		h.requests.WithLabelValues("duplicate").Inc()
		h.log.DebugContext(ctx, "order.requested for an existing order", "orderId", req.OrderID, "eventId", e.ID)
	}
	return nil
}

// decodeRequested reads the payload. Unknown fields are ignored, so that
// the producer can add some without breaking this consumer; a subject
// other than the order id is refused.
func decodeRequested(e messaging.Event) (order.Request, error) {
	var d requestedData
	if err := json.Unmarshal(e.Data, &d); err != nil {
		return order.Request{}, fmt.Errorf("payload: %w", err)
	}
	if e.Subject != "" && e.Subject != d.OrderID {
		return order.Request{}, fmt.Errorf("subject %q is not the order id %q", e.Subject, d.OrderID)
	}
	r := order.Request{
		OrderID:         d.OrderID,
		CustomerID:      d.CustomerID,
		Currency:        d.Currency,
		ShippingAddress: d.ShippingAddress,
		RequestedAt:     d.RequestedAt,
		Items:           make([]order.RequestItem, len(d.Items)),
	}
	for i, it := range d.Items {
		// A JSON number's text, never a string: ParseMoney refuses quotes.
		price, err := order.ParseMoney(string(bytes.TrimSpace(it.UnitPrice)))
		if err != nil {
			return order.Request{}, fmt.Errorf("items[%d].unitPrice %s: %w", i, it.UnitPrice, err)
		}
		qty, err := strconv.ParseInt(string(bytes.TrimSpace(it.Quantity)), 10, 64)
		if err != nil {
			return order.Request{}, fmt.Errorf("items[%d].quantity %s: not a whole number", i, it.Quantity)
		}
		r.Items[i] = order.RequestItem{ProductID: it.ProductID, Name: it.Name, UnitPrice: price, Quantity: qty}
	}
	return r, nil
}
