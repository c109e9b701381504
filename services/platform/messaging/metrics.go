package messaging

import (
	"errors"
	"fmt"
	"strings"
	"time"

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
	lag       *prometheus.HistogramVec
}

// lagBuckets run from the milliseconds a healthy flow takes (DESIGN §3: a
// nudged relay publishes at once) to the quarter of an hour a consumer
// outage or a stuck relay can build up, where the consumer-lag alert must
// still see a difference.
var lagBuckets = []float64{0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 900}

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
		lag: register(reg, prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "messages_consume_lag_seconds",
			Help:    "Time from an event's creation (its CloudEvents time, when its producer put it in the outbox) to its first delivery to a consumer, by queue and type.",
			Buckets: lagBuckets,
		}, []string{"queue", "type"})),
	}
}

func (m *metrics) publishedInc(eventType, outcome string) {
	if m != nil {
		m.published.WithLabelValues(eventType, outcome).Inc()
	}
}

// consumedInit makes the series of every outcome of sub's queue exist at 0
// for each event type it names exactly (a pattern names no type), and for
// bodies that are no event at all when malformed is set, so that the
// first dead letter after a start is an increase that increase() and
// rate() see, not a new series they cannot.
func (m *metrics) consumedInit(sub Subscription, malformed bool) {
	if m == nil {
		return
	}
	for _, t := range sub.Types {
		if strings.ContainsAny(t, "*#") {
			continue
		}
		for _, outcome := range []string{consumeAck, consumeRetry, consumeDeadLetter} {
			m.consumed.WithLabelValues(sub.Queue, t, outcome)
		}
	}
	if malformed {
		m.consumed.WithLabelValues(sub.Queue, malformedEventType, consumeDeadLetter)
	}
}

func (m *metrics) consumedInc(queue, eventType, outcome string) {
	if m != nil {
		m.consumed.WithLabelValues(queue, eventType, outcome).Inc()
	}
}

// consumeLag records how long an event took from its creation to its first
// delivery. Redeliveries are left out: their wait is the retry delay, which
// messages_consumed_total{outcome="retry"} already shows. An event time
// ahead of now (clocks of two pods disagree) counts as no lag.
func (m *metrics) consumeLag(queue string, e Event, now time.Time) {
	if m != nil && !e.Time.IsZero() {
		m.lag.WithLabelValues(queue, e.Type).Observe(max(now.Sub(e.Time).Seconds(), 0))
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
