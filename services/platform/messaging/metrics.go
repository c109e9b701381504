package messaging

import (
	"errors"
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
)

// Outcomes of a publish, the outcome label of messages_published_total.
const (
	publishConfirmed   = "confirmed"
	publishUnroutable  = "unroutable"
	publishNacked      = "nacked"
	publishFailed      = "error"
	consumeAck         = "ack"
	consumeRetry       = "retry"
	consumeDeadLetter  = "dead_letter"
	malformedEventType = "malformed" // type label of a body that is no event
)

// metrics counts messages published and consumed. A nil *metrics counts
// nothing, so that code using it needs no checks.
type metrics struct {
	published *prometheus.CounterVec
	consumed  *prometheus.CounterVec
}

// newMetrics registers the messaging metrics in reg, or reuses the ones
// already there, so that a publisher and a subscriber can share a registry.
// A nil reg means no metrics.
func newMetrics(reg prometheus.Registerer) *metrics {
	if reg == nil {
		return nil
	}
	return &metrics{
		published: register(reg, prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "messages_published_total",
			Help: "Events published, by type and outcome (confirmed, unroutable, nacked, error).",
		}, []string{"type", "outcome"})),
		consumed: register(reg, prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "messages_consumed_total",
			Help: "Events consumed, by queue, type and outcome (ack, retry, dead_letter).",
		}, []string{"queue", "type", "outcome"})),
	}
}

func (m *metrics) publishedInc(eventType, outcome string) {
	if m != nil {
		m.published.WithLabelValues(eventType, outcome).Inc()
	}
}

func (m *metrics) consumedInc(queue, eventType, outcome string) {
	if m != nil {
		m.consumed.WithLabelValues(queue, eventType, outcome).Inc()
	}
}

func register[C prometheus.Collector](reg prometheus.Registerer, c C) C {
	if err := reg.Register(c); err != nil {
		if are, ok := errors.AsType[prometheus.AlreadyRegisteredError](err); ok {
			if existing, ok := are.ExistingCollector.(C); ok {
				return existing
			}
		}
		// A clash with a different collector of the same name is a wiring
		// bug that must show at startup.
		panic(fmt.Sprintf("messaging: register metrics: %v", err))
	}
	return c
}
