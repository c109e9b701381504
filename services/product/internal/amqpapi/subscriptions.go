// Package amqpapi is the product service's message surface: the events it
// publishes (events.go) and the events it consumes, each turned into a use
// case of the order flow. A handler returns nil only once the effect is
// stored; an error has the event delivered again, and an event that can
// never be handled is dead-lettered at once (messaging.Permanent).
package amqpapi

import (
	"log/slog"

	"github.com/travluk/ecom/services/platform/messaging"
	"github.com/travluk/ecom/services/product/internal/product"
)

// Queue is the product service's queue, shared by its replicas.
const Queue = "product"

// Subscriptions returns every subscription of the product service: the
// queue "product" bound to order.confirmed (reservations become sales)
// and order.cancelled (the stock goes back, once).
func Subscriptions(flow *product.Flow, log *slog.Logger) []messaging.Subscription {
	h := newHandlers(flow, log)
	return []messaging.Subscription{
		{Queue: Queue, Types: []string{TypeOrderConfirmed, TypeOrderCancelled}, Handler: h.handle},
	}
}
