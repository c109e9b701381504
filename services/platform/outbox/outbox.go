// Package outbox relays events that writers stored next to their state
// (the outbox inside the aggregate) to a messaging.Publisher.
//
// The rule it keeps: an event leaves its outbox only after the publisher
// confirmed it, so a crash at any moment loses nothing; it may be published
// twice (a crash between the confirm and the removal, or two replicas
// relaying at once), which consumers tolerate. The relay never stops on an
// error: it logs it, backs off and tries again.
package outbox

import (
	"context"
	"fmt"
	"log/slog"
	"runtime/debug"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/travluk/ecom/services/platform/messaging"
)

// Pending is an event waiting in the outbox of the aggregate it belongs to.
type Pending struct {
	AggregateID string
	Event       messaging.Event
}

// Store is where the outboxes live.
type Store interface {
	// Pending returns up to limit pending events, oldest first.
	Pending(ctx context.Context, limit int) ([]Pending, error)
	// Remove takes an event out of its aggregate's outbox. Removing an
	// event that is not there is not an error.
	Remove(ctx context.Context, aggregateID, eventID string) error
}

// RelayOptions configure a Relay. Every zero value means its default.
type RelayOptions struct {
	// PollInterval is how often the relay looks for events nobody nudged
	// it about (left by a crash, or by another replica's writer); 1 s by
	// default.
	PollInterval time.Duration
	// Batch is how many events one look at the store takes; 100 by
	// default.
	Batch int
	// Concurrency is how many aggregates' events are published at once;
	// the events of one aggregate always go one after another, in order.
	// 16 by default.
	Concurrency int
	// ErrorBackoff is the first wait after a failed pass, doubling up to
	// PollInterval while failures go on; 100 ms by default.
	ErrorBackoff time.Duration
	// Logger receives errors; nil discards.
	Logger *slog.Logger
	// Registry receives the outbox metrics; nil means none.
	Registry prometheus.Registerer
}

// Relay publishes pending outbox events and removes each once confirmed.
type Relay struct {
	store   Store
	pub     messaging.Publisher
	o       RelayOptions
	logger  *slog.Logger
	metrics *metrics
	nudges  chan struct{}
	now     func() time.Time
}

// NewRelay returns a relay from store to pub; Run starts it.
func NewRelay(store Store, pub messaging.Publisher, o RelayOptions) *Relay {
	if o.PollInterval <= 0 {
		o.PollInterval = time.Second
	}
	if o.Batch <= 0 {
		o.Batch = 100
	}
	if o.Concurrency <= 0 {
		o.Concurrency = 16
	}
	if o.ErrorBackoff <= 0 {
		o.ErrorBackoff = 100 * time.Millisecond
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	return &Relay{
		store:   store,
		pub:     pub,
		o:       o,
		logger:  o.Logger,
		metrics: newMetrics(o.Registry),
		// One slot: nudges that come while a pass runs fold into one more
		// pass, which sees every event they were about.
		nudges: make(chan struct{}, 1),
		now:    time.Now,
	}
}

// Nudge tells the relay that an event was appended, so that it publishes
// within milliseconds rather than at the next poll. It never blocks.
func (r *Relay) Nudge() {
	select {
	case r.nudges <- struct{}{}:
	default:
	}
}

// Run relays until ctx ends, then returns nil. A pass publishes every
// pending event; the next one starts on a nudge, at the poll interval, or
// at once while passes find full batches. A failed pass is logged and
// retried after a backoff; Run itself never fails.
func (r *Relay) Run(ctx context.Context) error {
	backoff := r.o.ErrorBackoff
	for {
		more, err := r.pass(ctx)
		if ctx.Err() != nil {
			return nil
		}
		wait := r.o.PollInterval
		switch {
		case err != nil:
			r.logger.Error("outbox: relay pass failed; retrying", "in", backoff, "err", err)
			wait = backoff
			backoff = min(2*backoff, r.o.PollInterval)
		case more:
			backoff = r.o.ErrorBackoff
			continue
		default:
			backoff = r.o.ErrorBackoff
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil
		case <-r.nudges:
			// After a failure a nudge does not cut the backoff short:
			// writers nudge on every append, and a broker that is away
			// would be hammered.
			if err != nil {
				select {
				case <-t.C:
				case <-ctx.Done():
					return nil
				}
			}
			t.Stop()
		case <-t.C:
		}
	}
}

// pass publishes one batch of pending events. more reports a full batch
// published without error, so that another pass should follow at once.
// A panic in the store or publisher becomes an error.
func (r *Relay) pass(ctx context.Context) (more bool, err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("outbox: relay panicked: %v\n%s", p, debug.Stack())
		}
	}()
	pending, err := r.store.Pending(ctx, r.o.Batch)
	if err != nil {
		r.metrics.errorInc("pending")
		return false, fmt.Errorf("outbox: read pending events: %w", err)
	}
	r.metrics.observe(pending, r.now())
	if len(pending) == 0 {
		return false, nil
	}

	// The events of one aggregate go in order, one after another; the
	// aggregates are independent of each other.
	var order []string
	byAggregate := make(map[string][]Pending)
	for _, p := range pending {
		if _, ok := byAggregate[p.AggregateID]; !ok {
			order = append(order, p.AggregateID)
		}
		byAggregate[p.AggregateID] = append(byAggregate[p.AggregateID], p)
	}
	var (
		wg       sync.WaitGroup
		slots    = make(chan struct{}, r.o.Concurrency)
		mu       sync.Mutex
		firstErr error
	)
	for _, id := range order {
		slots <- struct{}{}
		wg.Go(func() {
			defer func() { <-slots }()
			if err := r.relayAggregate(ctx, byAggregate[id]); err != nil {
				mu.Lock()
				if firstErr == nil {
					firstErr = err
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	return firstErr == nil && len(pending) == r.o.Batch, firstErr
}

// relayAggregate publishes the events of one aggregate in order, removing
// each once confirmed, and stops at the first failure so that a later event
// never overtakes an earlier one.
func (r *Relay) relayAggregate(ctx context.Context, events []Pending) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("outbox: relay panicked: %v\n%s", p, debug.Stack())
		}
	}()
	for _, p := range events {
		if err := r.pub.Publish(ctx, p.Event); err != nil {
			r.metrics.errorInc("publish")
			return fmt.Errorf("outbox: publish %s of %s: %w", p.Event.ID, p.AggregateID, err)
		}
		r.metrics.publishedInc()
		if err := r.store.Remove(ctx, p.AggregateID, p.Event.ID); err != nil {
			// Published but still pending: it will be published again,
			// which consumers tolerate.
			r.metrics.errorInc("remove")
			return fmt.Errorf("outbox: remove %s of %s: %w", p.Event.ID, p.AggregateID, err)
		}
	}
	return nil
}
