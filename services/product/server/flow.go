package server

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"

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
