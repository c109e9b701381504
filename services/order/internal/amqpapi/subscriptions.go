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
	"github.com/travluk/ecom/services/platform/failpoint"
	"github.com/travluk/ecom/services/platform/messaging"
)

// Queue is the order service's queue, shared by its replicas.
const Queue = "order"

// Subscriptions returns every subscription of the order service: the
// queue "order" bound to order.requested, which creates the order.
// Metrics are registered with reg when it is not nil.
func Subscriptions(svc *order.Service, log *slog.Logger, reg prometheus.Registerer, opts ...Option) []messaging.Subscription {
	h := newHandlers(svc, log, reg)
	for _, o := range opts {
		o(h)
	}
	return []messaging.Subscription{
		{Queue: Queue, Types: []string{order.EventRequested}, Handler: h.orderRequested},
	}
}

// Option adjusts the handlers of Subscriptions.
type Option func(*handlers)

// WithFailPoints arms fp, which may kill the process at
// "order.after-create" (the order stored, its event not yet acknowledged),
// for the crash tests of dev/flowtest. Production passes none.
func WithFailPoints(fp *failpoint.Set) Option {
	return func(h *handlers) { h.failpoints = fp }
}
