// Package amqpapi is the order service's message surface: the events it
// consumes, each turned into a use case of the core. A handler returns nil
// only once the effect is stored; an error makes the broker redeliver, and
// an event that can never be handled is dead-lettered at once
// (messaging.Permanent).
package amqpapi

import (
	"log/slog"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/travluk/ecom/services/order/internal/order"
	"github.com/travluk/ecom/services/platform/messaging"
)

// Queue is the order service's queue, shared by its replicas.
const Queue = "order"

// Subscriptions returns every subscription of the order service: the
// queue "order" bound to order.requested, which creates the order.
// Metrics are registered with reg when it is not nil.
func Subscriptions(svc *order.Service, log *slog.Logger, reg prometheus.Registerer) []messaging.Subscription {
	h := newHandlers(svc, log, reg)
	return []messaging.Subscription{
		{Queue: Queue, Types: []string{order.EventRequested}, Handler: h.orderRequested},
	}
}
