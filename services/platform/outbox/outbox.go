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

// AggregateStore is a Store that can also return the pending events of
// one aggregate, cheaply (a look up by the aggregate's key). A relay over
// one serves NudgeAggregate with PendingOf instead of a scan of every
// outbox.
type AggregateStore interface {
	Store
	// PendingOf returns the pending events of the aggregate aggregateID,
	// oldest first; none when it has none or does not exist.
	PendingOf(ctx context.Context, aggregateID string) ([]Pending, error)
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
	// MaxNudged is how many aggregates NudgeAggregate remembers until the
	// next pass; past it a nudge asks for a full look at the store
	// instead. 1024 by default.
	MaxNudged int
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
	// aggregates is store when it is an AggregateStore, else nil.
	aggregates AggregateStore

	mu       sync.Mutex
	nudged   map[string]struct{} // aggregates to look at in the next pass
	nudgeAll bool                // the next pass must look at every outbox
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
	if o.MaxNudged <= 0 {
		o.MaxNudged = 1024
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	aggregates, _ := store.(AggregateStore)
	return &Relay{
		store:   store,
		pub:     pub,
		o:       o,
		logger:  o.Logger,
		metrics: newMetrics(o.Registry),
		// One slot: nudges that come while a pass runs fold into one more
		// pass, which sees every event they were about.
		nudges:     make(chan struct{}, 1),
		now:        time.Now,
		aggregates: aggregates,
		nudged:     make(map[string]struct{}),
	}
}

// Nudge tells the relay that an event was appended, so that it publishes
// within milliseconds rather than at the next poll. It never blocks.
func (r *Relay) Nudge() {
	r.mu.Lock()
	r.nudgeAll = true
	clear(r.nudged)
	r.mu.Unlock()
	r.wake()
}

// NudgeAggregate tells the relay that an event was appended to the outbox
// of the aggregate id. Like Nudge it never blocks, but when the store is
// an AggregateStore the pass it triggers looks only at the aggregates
// nudged so (PendingOf) rather than at every outbox; the poll still looks
// at every outbox, for what nobody nudged about. When MaxNudged
// aggregates wait already, or the store cannot look at one aggregate, it
// is a Nudge.
func (r *Relay) NudgeAggregate(id string) {
	if r.aggregates == nil {
		r.Nudge()
		return
	}
	r.mu.Lock()
	switch {
	case r.nudgeAll:
		// The full look coming covers id.
	case len(r.nudged) >= r.o.MaxNudged:
		r.nudgeAll = true
		clear(r.nudged)
	default:
		r.nudged[id] = struct{}{}
	}
	r.mu.Unlock()
	r.wake()
}

func (r *Relay) wake() {
	select {
	case r.nudges <- struct{}{}:
	default:
	}
}

// takeNudges returns, and forgets, what the nudges since the last call
// asked for: a look at every outbox (all), or at the aggregates ids.
func (r *Relay) takeNudges() (ids []string, all bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	all = r.nudgeAll
	r.nudgeAll = false
	if !all {
		ids = make([]string, 0, len(r.nudged))
		for id := range r.nudged {
			ids = append(ids, id)
		}
	}
	clear(r.nudged)
	return ids, all
}

// Run relays until ctx ends, then returns nil. A pass publishes every
// pending event; the next one starts on a nudge, at the poll interval, or
// at once while passes find full batches. A failed pass is logged and
// retried after a backoff; Run itself never fails.
//
// A pass looks at every outbox (Store.Pending) at the start, at the poll
// interval, after a full batch, after a failure and after a Nudge; a pass
// that only NudgeAggregate asked for looks at just the aggregates nudged.
// Nudges are taken at the start of a pass, so that one coming while a
// pass runs is served by the next.
func (r *Relay) Run(ctx context.Context) error {
	backoff := r.o.ErrorBackoff
	full := true
	for {
		var (
			more bool
			err  error
		)
		ids, all := r.takeNudges()
		if full || all {
			more, err = r.pass(ctx)
		} else {
			err = r.passOf(ctx, ids)
		}
		full = true
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
			} else {
				full = false
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
		r.metrics.errorInc(stagePending)
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

// passOf publishes the pending events of the aggregates ids, with
// PendingOf; its caller made sure that the store is an AggregateStore.
// It does not touch the pending and age gauges, which describe full looks.
func (r *Relay) passOf(ctx context.Context, ids []string) error {
	var (
		wg       sync.WaitGroup
		slots    = make(chan struct{}, r.o.Concurrency)
		mu       sync.Mutex
		firstErr error
	)
	for _, id := range ids {
		slots <- struct{}{}
		wg.Go(func() {
			defer func() { <-slots }()
			if err := r.relayOf(ctx, id); err != nil {
				mu.Lock()
				if firstErr == nil {
					firstErr = err
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	return firstErr
}

// relayOf publishes the pending events of the aggregate id.
func (r *Relay) relayOf(ctx context.Context, id string) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("outbox: relay panicked: %v\n%s", p, debug.Stack())
		}
	}()
	pending, err := r.aggregates.PendingOf(ctx, id)
	if err != nil {
		r.metrics.errorInc(stagePending)
		return fmt.Errorf("outbox: read pending events of %s: %w", id, err)
	}
	if len(pending) == 0 {
		return nil
	}
	return r.relayAggregate(ctx, pending)
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
			r.metrics.errorInc(stagePublish)
			return fmt.Errorf("outbox: publish %s of %s: %w", p.Event.ID, p.AggregateID, err)
		}
		r.metrics.publishedInc()
		if err := r.store.Remove(ctx, p.AggregateID, p.Event.ID); err != nil {
			// Published but still pending: it will be published again,
			// which consumers tolerate.
			r.metrics.errorInc(stageRemove)
			return fmt.Errorf("outbox: remove %s of %s: %w", p.Event.ID, p.AggregateID, err)
		}
	}
	return nil
}
