package outbox

import (
	"errors"
	"fmt"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Stages of a relay failure, the stage label of outbox_errors_total.
const (
	stagePending = "pending" // reading the pending events
	stagePublish = "publish"
	stageRemove  = "remove" // removing a confirmed event
)

// errorStages are every stage, for the series that exist from the start.
var errorStages = [...]string{stagePending, stagePublish, stageRemove}

// metrics shows how the outbox keeps up. A nil *metrics records nothing.
type metrics struct {
	pending   prometheus.Gauge
	oldestAge prometheus.Gauge
	published prometheus.Counter
	errors    *prometheus.CounterVec
}

// newMetrics registers the outbox metrics in reg, or reuses the ones
// already there; a nil reg means none.
func newMetrics(reg prometheus.Registerer) *metrics {
	if reg == nil {
		return nil
	}
	m := &metrics{
		pending: register(reg, prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "outbox_pending",
			Help: "Events waiting in outboxes at the relay's last full look (at most one batch).",
		})),
		oldestAge: register(reg, prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "outbox_oldest_age_seconds",
			Help: "Age of the oldest event waiting at the relay's last full look; 0 when none.",
		})),
		published: register(reg, prometheus.NewCounter(prometheus.CounterOpts{
			Name: "outbox_published_total",
			Help: "Outbox events published and confirmed.",
		})),
		errors: register(reg, prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "outbox_errors_total",
			Help: "Relay failures, by stage (pending, publish, remove).",
		}, []string{"stage"})),
	}
	// Every stage shows from the start at 0, so that the first failure is
	// an increase rate() sees, not a new series it cannot.
	for _, stage := range errorStages {
		m.errors.WithLabelValues(stage)
	}
	return m
}

// observe records what a full look at the store found.
func (m *metrics) observe(pending []Pending, now time.Time) {
	if m == nil {
		return
	}
	m.pending.Set(float64(len(pending)))
	var oldest time.Time
	for _, p := range pending {
		if oldest.IsZero() || p.Event.Time.Before(oldest) {
			oldest = p.Event.Time
		}
	}
	age := 0.0
	if !oldest.IsZero() {
		age = max(now.Sub(oldest).Seconds(), 0)
	}
	m.oldestAge.Set(age)
}

func (m *metrics) publishedInc() {
	if m != nil {
		m.published.Inc()
	}
}

func (m *metrics) errorInc(stage string) {
	if m != nil {
		m.errors.WithLabelValues(stage).Inc()
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
		panic(fmt.Sprintf("outbox: register metrics: %v", err))
	}
	return c
}
