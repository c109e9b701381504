package server

import (
	"context"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/travluk/ecom/services/platform/failpoint"
	"github.com/travluk/ecom/services/product/internal/product"
)

// sweepInterval is how often the sweeper looks for stuck purchases: a
// sixth of the timeout, between 100 ms and 5 s, so that a stuck purchase
// is rolled back at most about a sixth of the timeout late.
func sweepInterval(timeout time.Duration) time.Duration {
	return min(max(timeout/6, 100*time.Millisecond), product.DefaultSweepInterval)
}

// flowMetrics implements product.FlowMetrics with Prometheus counters.
type flowMetrics struct {
	reservations *prometheus.CounterVec
	requested    prometheus.Counter
}

func newFlowMetrics(reg prometheus.Registerer) *flowMetrics {
	m := &flowMetrics{
		reservations: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "product_reservations_total",
			Help: "Reservation attempts of buy lines, by outcome: reserved, out_of_stock or unknown_product.",
		}, []string{"outcome"}),
		requested: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "product_orders_created_total",
			Help: "Purchases with every line reserved whose order.requested was appended to the outbox.",
		}),
	}
	// Every outcome shows from the start, so rates work before the first
	// sale.
	for _, o := range []product.ReservationOutcome{product.Reserved, product.OutOfStock, product.UnknownProduct} {
		m.reservations.WithLabelValues(string(o))
	}
	reg.MustRegister(m.reservations, m.requested)
	return m
}

func (m *flowMetrics) Reservation(o product.ReservationOutcome) {
	m.reservations.WithLabelValues(string(o)).Inc()
}

func (m *flowMetrics) OrderRequested() { m.requested.Inc() }

// failPointEvents arms the crash tests' fail point "product.after-reserve"
// (dev/flowtest) on the flow's events, so that the core knows nothing of
// it: a buy asks for its order.requested once, after its last reservation
// and before it appends the event (product.Events), so a kill there leaves
// reservations without an order, which the sweeper must roll back.
type failPointEvents struct {
	product.Events
	failpoints *failpoint.Set
}

func (e failPointEvents) OrderRequested(ctx context.Context, p *product.Purchase) (product.OutboxEvent, error) {
	e.failpoints.Hit("product.after-reserve")
	return e.Events.OrderRequested(ctx, p)
}
