package amqpapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"

	"github.com/travluk/ecom/services/platform/messaging"
	"github.com/travluk/ecom/services/product/internal/product"
)

type handlers struct {
	flow *product.Flow
	log  *slog.Logger
}

func newHandlers(flow *product.Flow, log *slog.Logger) *handlers {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &handlers{flow: flow, log: log}
}

// handle dispatches an event of the product queue by type.
func (h *handlers) handle(ctx context.Context, e messaging.Event) error {
	switch e.Type {
	case TypeOrderConfirmed:
		return h.orderConfirmed(ctx, e)
	case TypeOrderCancelled:
		return h.orderCancelled(ctx, e)
	}
	return messaging.Permanent(fmt.Errorf("product queue: unexpected event type %q", e.Type))
}

// orderConfirmed turns the order's reservations into sales and wakes the
// buy waiting for it. Redeliveries and late arrivals change nothing.
func (h *handlers) orderConfirmed(ctx context.Context, e messaging.Event) error {
	var d ConfirmedData
	if err := decode(e, &d); err != nil {
		return err
	}
	return h.outcome(ctx, e, d.OrderID, h.flow.Confirm(ctx, d.OrderID, d.ConfirmedAt))
}

// orderCancelled gives the order's units back to stock, exactly once.
func (h *handlers) orderCancelled(ctx context.Context, e messaging.Event) error {
	var d CancelledData
	if err := decode(e, &d); err != nil {
		return err
	}
	return h.outcome(ctx, e, d.OrderID, h.flow.Cancel(ctx, d.OrderID))
}

// outcome maps a use case's error to the broker's answer: an order the
// product service never requested cannot become known by waiting, so it is
// dead-lettered for an operator to see; anything else is retried.
func (h *handlers) outcome(ctx context.Context, e messaging.Event, orderID string, err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, product.ErrPurchaseNotFound):
		h.log.WarnContext(ctx, "event for an unknown order", "type", e.Type, "id", e.ID, "orderId", orderID)
		return messaging.Permanent(fmt.Errorf("%s %s: order %s: %w", e.Type, e.ID, orderID, err))
	default:
		h.log.WarnContext(ctx, "event handling failed; it will be delivered again", "type", e.Type, "id", e.ID, "orderId", orderID, "error", err)
		return err
	}
}

// decode reads the event's data into dst; data that does not fit, or names
// no order, can never be handled and is dead-lettered.
func decode(e messaging.Event, dst interface{ orderID() string }) error {
	if err := json.Unmarshal(e.Data, dst); err != nil {
		return messaging.Permanent(fmt.Errorf("%s %s: data: %w", e.Type, e.ID, err))
	}
	if id := dst.orderID(); id == "" || (e.Subject != "" && e.Subject != id) {
		return messaging.Permanent(fmt.Errorf("%s %s: orderId %q does not match subject %q", e.Type, e.ID, id, e.Subject))
	}
	return nil
}

func (d *ConfirmedData) orderID() string { return d.OrderID }
func (d *CancelledData) orderID() string { return d.OrderID }
