package outbox_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/travluk/ecom/services/platform/messaging"
	"github.com/travluk/ecom/services/platform/messaging/messagingtest"
	"github.com/travluk/ecom/services/platform/outbox"
)

// store is an in-memory outbox. It fails a test that removes an event the
// publisher has not confirmed.
type store struct {
	t         *testing.T
	confirmed func(id string) bool

	mu         sync.Mutex
	pending    []outbox.Pending
	failLooks  int  // Pending calls still to fail
	panicLooks int  // Pending calls still to panic
	looks      int  // Pending calls so far
	failRemove bool // every Remove fails
}

func (s *store) add(aggregateID string, events ...messaging.Event) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, e := range events {
		s.pending = append(s.pending, outbox.Pending{AggregateID: aggregateID, Event: e})
	}
}

func (s *store) Pending(_ context.Context, limit int) ([]outbox.Pending, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.looks++
	if s.panicLooks > 0 {
		s.panicLooks--
		panic("store bug")
	}
	if s.failLooks > 0 {
		s.failLooks--
		return nil, errors.New("store away")
	}
	return slices.Clone(s.pending[:min(limit, len(s.pending))]), nil
}

func (s *store) Remove(_ context.Context, aggregateID, eventID string) error {
	if !s.confirmed(eventID) {
		s.t.Errorf("Remove(%s, %s) before the publisher confirmed it", aggregateID, eventID)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.failRemove {
		return errors.New("store away")
	}
	s.pending = slices.DeleteFunc(s.pending, func(p outbox.Pending) bool {
		return p.AggregateID == aggregateID && p.Event.ID == eventID
	})
	return nil
}

func (s *store) left() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var ids []string
	for _, p := range s.pending {
		ids = append(ids, string(p.Event.Data))
	}
	return ids
}

// publisher confirms events unless fail says otherwise, and records what
// it confirmed, in order.
type publisher struct {
	fail func(e messaging.Event, attempt int) error

	mu        sync.Mutex
	attempts  map[string]int
	confirmed []messaging.Event
	at        map[string]time.Time
}

func newPublisher(fail func(messaging.Event, int) error) *publisher {
	return &publisher{fail: fail, attempts: make(map[string]int), at: make(map[string]time.Time)}
}

func (p *publisher) Publish(_ context.Context, e messaging.Event) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	attempt := p.attempts[e.ID]
	p.attempts[e.ID]++
	if p.fail != nil {
		if err := p.fail(e, attempt); err != nil {
			return err
		}
	}
	p.confirmed = append(p.confirmed, e)
	p.at[e.ID] = time.Now()
	return nil
}

func (p *publisher) isConfirmed(id string) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	_, ok := p.at[id]
	return ok
}

func (p *publisher) confirmedData() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	var out []string
	for _, e := range p.confirmed {
		out = append(out, string(e.Data))
	}
	return out
}

func (p *publisher) confirmedAt(id string) (time.Time, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	t, ok := p.at[id]
	return t, ok
}

func newStore(t *testing.T, pub *publisher) *store {
	return &store{t: t, confirmed: pub.isConfirmed}
}

// event returns an event whose data is the JSON string name, for readable
// comparisons.
func event(t *testing.T, name string) messaging.Event {
	t.Helper()
	return messagingtest.NewEvent(t, context.Background(), "thing.made", name)
}

// run starts the relay until the test ends, and checks that Run returns
// nil promptly once its context ends.
func run(t *testing.T, r *outbox.Relay) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("Run = %v, want nil", err)
			}
		case <-time.After(2 * time.Second):
			t.Error("Run did not return after its context ended")
		}
	})
}

// fast are options that keep every wait of a test in milliseconds.
func fast(o outbox.RelayOptions) outbox.RelayOptions {
	if o.PollInterval == 0 {
		o.PollInterval = 20 * time.Millisecond
	}
	o.ErrorBackoff = 2 * time.Millisecond
	return o
}

func TestRelayRemovesOnlyAfterConfirm(t *testing.T) {
	pub := newPublisher(func(e messaging.Event, _ int) error {
		if string(e.Data) == `"b"` {
			return errors.New("broker refused")
		}
		return nil
	})
	s := newStore(t, pub)
	s.add("1", event(t, "a"))
	s.add("2", event(t, "b"))
	s.add("3", event(t, "c"))
	run(t, outbox.NewRelay(s, pub, fast(outbox.RelayOptions{})))
	messagingtest.Eventually(t, func() error {
		if left := s.left(); !slices.Equal(left, []string{`"b"`}) {
			return fmt.Errorf("left in the outbox: %v, want only the unconfirmed b", left)
		}
		return nil
	})
}

func TestRelayRetriesAfterPublisherError(t *testing.T) {
	pub := newPublisher(func(_ messaging.Event, attempt int) error {
		if attempt < 3 {
			return errors.New("broker away")
		}
		return nil
	})
	s := newStore(t, pub)
	s.add("1", event(t, "a"))
	run(t, outbox.NewRelay(s, pub, fast(outbox.RelayOptions{PollInterval: time.Hour})))
	messagingtest.Eventually(t, func() error {
		if left := s.left(); len(left) != 0 {
			return fmt.Errorf("left in the outbox: %v", left)
		}
		return nil
	})
}

// TestRelayKeepsAggregateOrder fails the second event of an aggregate
// once: the third must not overtake it.
func TestRelayKeepsAggregateOrder(t *testing.T) {
	pub := newPublisher(func(e messaging.Event, attempt int) error {
		if string(e.Data) == `"x2"` && attempt == 0 {
			return errors.New("broker hiccup")
		}
		return nil
	})
	s := newStore(t, pub)
	s.add("x", event(t, "x1"), event(t, "x2"), event(t, "x3"))
	s.add("y", event(t, "y1"))
	run(t, outbox.NewRelay(s, pub, fast(outbox.RelayOptions{})))
	messagingtest.Eventually(t, func() error {
		if left := s.left(); len(left) != 0 {
			return fmt.Errorf("left in the outbox: %v", left)
		}
		return nil
	})
	var x []string
	for _, d := range pub.confirmedData() {
		if d[1] == 'x' {
			x = append(x, d)
		}
	}
	if diff := cmp.Diff([]string{`"x1"`, `"x2"`, `"x3"`}, x); diff != "" {
		t.Errorf("aggregate x published out of order (-want +got):\n%s", diff)
	}
}

// TestRelayNudgeLatency measures the time from a writer's nudge to the
// confirmed publish, with polling far away.
func TestRelayNudgeLatency(t *testing.T) {
	pub := newPublisher(nil)
	s := newStore(t, pub)
	r := outbox.NewRelay(s, pub, fast(outbox.RelayOptions{PollInterval: time.Hour}))
	run(t, r)
	var worst time.Duration
	for i := range 20 {
		e := event(t, fmt.Sprint(i))
		s.add(fmt.Sprint(i), e)
		nudged := time.Now()
		r.Nudge()
		messagingtest.Eventually(t, func() error {
			if _, ok := pub.confirmedAt(e.ID); !ok {
				return errors.New("not published yet")
			}
			return nil
		})
		at, _ := pub.confirmedAt(e.ID)
		worst = max(worst, at.Sub(nudged))
	}
	t.Logf("worst nudge-to-confirm latency over 20 events: %v", worst)
	if worst > 50*time.Millisecond {
		t.Errorf("worst nudge-to-confirm latency %v, want milliseconds", worst)
	}
}

func TestRelayPollCatchesMissedNudges(t *testing.T) {
	pub := newPublisher(nil)
	s := newStore(t, pub)
	run(t, outbox.NewRelay(s, pub, fast(outbox.RelayOptions{PollInterval: 30 * time.Millisecond})))
	time.Sleep(10 * time.Millisecond) // the first pass found nothing
	s.add("1", event(t, "a"))         // and nobody nudges
	messagingtest.Eventually(t, func() error {
		if left := s.left(); len(left) != 0 {
			return fmt.Errorf("left in the outbox: %v", left)
		}
		return nil
	})
}

// TestRelayDrainsBatchAfterBatch has more events than a batch: one nudge
// publishes them all without waiting for the poll.
func TestRelayDrainsBatchAfterBatch(t *testing.T) {
	pub := newPublisher(nil)
	s := newStore(t, pub)
	for i := range 7 {
		s.add(fmt.Sprint(i), event(t, fmt.Sprint(i)))
	}
	r := outbox.NewRelay(s, pub, fast(outbox.RelayOptions{PollInterval: time.Hour, Batch: 2}))
	run(t, r)
	messagingtest.Eventually(t, func() error {
		if left := s.left(); len(left) != 0 {
			return fmt.Errorf("left in the outbox: %v", left)
		}
		return nil
	})
}

// TestRelayNeverDies feeds the relay store errors, a panic and failed
// removals; it keeps going and publishes once the store works.
func TestRelayNeverDies(t *testing.T) {
	pub := newPublisher(nil)
	s := newStore(t, pub)
	s.failLooks, s.panicLooks, s.failRemove = 2, 1, true
	s.add("1", event(t, "a"))
	run(t, outbox.NewRelay(s, pub, fast(outbox.RelayOptions{})))
	messagingtest.Eventually(t, func() error {
		if len(pub.confirmedData()) < 2 {
			return errors.New("not yet published twice (removal keeps failing)")
		}
		return nil
	})
	s.mu.Lock()
	s.failRemove = false
	s.mu.Unlock()
	messagingtest.Eventually(t, func() error {
		if left := s.left(); len(left) != 0 {
			return fmt.Errorf("left in the outbox: %v", left)
		}
		return nil
	})
}

func TestRelayMetrics(t *testing.T) {
	reg := prometheus.NewRegistry()
	var fail sync.Map
	pub := newPublisher(func(e messaging.Event, _ int) error {
		if _, ok := fail.Load(string(e.Data)); ok {
			return errors.New("broker away")
		}
		return nil
	})
	s := newStore(t, pub)
	old := event(t, "old")
	old.Time = time.Now().Add(-10 * time.Second)
	fail.Store(`"old"`, true)
	s.add("1", old)
	s.add("2", event(t, "new"))
	run(t, outbox.NewRelay(s, pub, fast(outbox.RelayOptions{Registry: reg})))

	messagingtest.Eventually(t, func() error {
		got := map[string]bool{
			"outbox_published_total == 1":     value(t, reg, "outbox_published_total") == 1,
			"outbox_errors_total >= 1":        value(t, reg, "outbox_errors_total") >= 1,
			"outbox_pending == 1":             value(t, reg, "outbox_pending") == 1,
			"outbox_oldest_age_seconds > 9.5": value(t, reg, "outbox_oldest_age_seconds") > 9.5,
		}
		for what, ok := range got {
			if !ok {
				return fmt.Errorf("with one event failing: not %s", what)
			}
		}
		return nil
	})

	fail.Delete(`"old"`)
	messagingtest.Eventually(t, func() error {
		if p, age := value(t, reg, "outbox_pending"), value(t, reg, "outbox_oldest_age_seconds"); p != 0 || age != 0 {
			return fmt.Errorf("outbox_pending %v, outbox_oldest_age_seconds %v after draining, want 0 and 0", p, age)
		}
		return nil
	})
	if got := value(t, reg, "outbox_published_total"); got != 2 {
		t.Errorf("outbox_published_total = %v, want 2", got)
	}
}

// value returns the sum of the samples of the metric called name in reg.
func value(t *testing.T, reg *prometheus.Registry, name string) float64 {
	t.Helper()
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	sum := 0.0
	for _, f := range families {
		if f.GetName() != name {
			continue
		}
		for _, m := range f.GetMetric() {
			sum += m.GetGauge().GetValue() + m.GetCounter().GetValue()
		}
	}
	return sum
}

// TestRelayWithMemoryBus relays through the in-process bus: an event stays
// in the outbox while no consumer is there (unroutable), and leaves it
// once handled.
func TestRelayWithMemoryBus(t *testing.T) {
	bus := messaging.NewMemoryBus(messaging.MemoryOptions{})
	rec := messagingtest.NewRecorder(nil)
	s := &store{t: t, confirmed: func(id string) bool {
		for _, e := range rec.Handled() {
			if e.ID == id {
				return true // the bus confirms only what was handled
			}
		}
		return false
	}}
	r := outbox.NewRelay(s, bus, fast(outbox.RelayOptions{PollInterval: 20 * time.Millisecond}))
	run(t, r)
	e := event(t, "a")
	s.add("1", e)
	r.Nudge()
	time.Sleep(50 * time.Millisecond)
	if left := s.left(); len(left) != 1 {
		t.Fatalf("left in the outbox with no consumer: %v, want the event", left)
	}
	messagingtest.Consume(t, bus, messaging.Subscription{Queue: "things", Types: []string{"thing.made"}, Handler: rec.Handle})
	got := rec.WaitHandled(t, 1)
	if got[0].ID != e.ID {
		t.Errorf("handled %s, want %s", got[0].ID, e.ID)
	}
	messagingtest.Eventually(t, func() error {
		if left := s.left(); len(left) != 0 {
			return fmt.Errorf("left in the outbox: %v", left)
		}
		return nil
	})
}

// aggregateStore is a store that can look at one aggregate's outbox, and
// records the aggregates it was asked about.
type aggregateStore struct {
	*store
	of []string // PendingOf calls so far, by aggregate (under store.mu)
}

func (s *aggregateStore) PendingOf(_ context.Context, aggregateID string) ([]outbox.Pending, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.of = append(s.of, aggregateID)
	var out []outbox.Pending
	for _, p := range s.pending {
		if p.AggregateID == aggregateID {
			out = append(out, p)
		}
	}
	return out, nil
}

// calls returns how many full looks and which aggregate looks were made.
func (s *aggregateStore) calls() (looks int, of []string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.looks, slices.Clone(s.of)
}

var _ outbox.AggregateStore = (*aggregateStore)(nil)

// drained waits until every event in s has left it.
func drained(t *testing.T, s *store) {
	t.Helper()
	messagingtest.Eventually(t, func() error {
		if left := s.left(); len(left) != 0 {
			return fmt.Errorf("left in the outbox: %v", left)
		}
		return nil
	})
}

// TestRelayNudgeAggregateLooksAtItOnly: after the first full look, a
// targeted nudge publishes its aggregate's events, in order, with
// PendingOf alone, and leaves the aggregates nobody nudged to the poll.
func TestRelayNudgeAggregateLooksAtItOnly(t *testing.T) {
	pub := newPublisher(func(e messaging.Event, attempt int) error {
		if string(e.Data) == `"x2"` && attempt == 0 {
			return errors.New("broker hiccup") // the retry is a full look
		}
		return nil
	})
	s := &aggregateStore{store: newStore(t, pub)}
	r := outbox.NewRelay(s, pub, fast(outbox.RelayOptions{PollInterval: time.Hour}))
	run(t, r)
	messagingtest.Eventually(t, func() error {
		if looks, _ := s.calls(); looks != 1 {
			return fmt.Errorf("%d full looks, want the first one", looks)
		}
		return nil
	})

	s.add("y", event(t, "y1")) // nobody nudges about y
	s.add("z", event(t, "z1"), event(t, "z2"))
	r.NudgeAggregate("z")
	messagingtest.Eventually(t, func() error {
		if got := pub.confirmedData(); !slices.Equal(got, []string{`"z1"`, `"z2"`}) {
			return fmt.Errorf("published %v, want z1 and z2", got)
		}
		return nil
	})
	time.Sleep(20 * time.Millisecond)
	looks, of := s.calls()
	if looks != 1 || !slices.Equal(of, []string{"z"}) {
		t.Errorf("full looks %d, PendingOf %v; want 1 and [z]", looks, of)
	}
	if left := s.left(); !slices.Equal(left, []string{`"y1"`}) {
		t.Errorf("left in the outbox: %v, want y1 (never nudged, polled an hour later)", left)
	}

	// A failure in a targeted pass: the order holds, and the retry looks
	// at everything.
	s.add("x", event(t, "x1"), event(t, "x2"), event(t, "x3"))
	r.NudgeAggregate("x")
	drained(t, s.store)
	var x []string
	for _, d := range pub.confirmedData() {
		if d[1] == 'x' {
			x = append(x, d)
		}
	}
	if diff := cmp.Diff([]string{`"x1"`, `"x2"`, `"x3"`}, x); diff != "" {
		t.Errorf("aggregate x published out of order (-want +got):\n%s", diff)
	}
	if looks, _ := s.calls(); looks < 2 {
		t.Errorf("%d full looks after a failed targeted pass, want a full retry", looks)
	}
}

// TestRelayPollCatchesMissedAggregateNudges: targeted nudges do not stop
// the poll's full looks, which find what a nudge was not about.
func TestRelayPollCatchesMissedAggregateNudges(t *testing.T) {
	pub := newPublisher(nil)
	s := &aggregateStore{store: newStore(t, pub)}
	r := outbox.NewRelay(s, pub, fast(outbox.RelayOptions{PollInterval: 30 * time.Millisecond}))
	run(t, r)
	time.Sleep(10 * time.Millisecond) // the first pass found nothing
	s.add("1", event(t, "a"))
	r.NudgeAggregate("2") // the wrong aggregate: the nudge is missed
	drained(t, s.store)
	for i := range 5 {
		id := fmt.Sprint(10 + i)
		s.add(id, event(t, id))
		r.NudgeAggregate(id)
		time.Sleep(10 * time.Millisecond)
	}
	drained(t, s.store)
	messagingtest.Eventually(t, func() error {
		if looks, of := s.calls(); looks < 3 || len(of) == 0 {
			return fmt.Errorf("full looks %d, PendingOf %v; want polls and targeted looks both", looks, of)
		}
		return nil
	})
}

// TestRelayNudgeAggregateOverflow: past MaxNudged waiting aggregates, a
// targeted nudge becomes a full look.
func TestRelayNudgeAggregateOverflow(t *testing.T) {
	started, release := make(chan struct{}), make(chan struct{})
	pub := newPublisher(func(e messaging.Event, _ int) error {
		if string(e.Data) == `"block"` {
			close(started)
			<-release
		}
		return nil
	})
	s := &aggregateStore{store: newStore(t, pub)}
	s.add("0", event(t, "block"))
	r := outbox.NewRelay(s, pub, fast(outbox.RelayOptions{PollInterval: time.Hour, MaxNudged: 2}))
	run(t, r)
	<-started // the first full pass is busy publishing
	for _, id := range []string{"a", "b", "c"} {
		s.add(id, event(t, id))
		r.NudgeAggregate(id)
	}
	close(release)
	drained(t, s.store)
	looks, of := s.calls()
	if looks != 2 || len(of) != 0 {
		t.Errorf("full looks %d, PendingOf %v; want 2 (start, overflow) and none", looks, of)
	}
}

// TestRelayNudgeAggregateWithoutAggregateStore: over a plain Store a
// targeted nudge is a nudge.
func TestRelayNudgeAggregateWithoutAggregateStore(t *testing.T) {
	pub := newPublisher(nil)
	s := newStore(t, pub)
	r := outbox.NewRelay(s, pub, fast(outbox.RelayOptions{PollInterval: time.Hour}))
	run(t, r)
	time.Sleep(10 * time.Millisecond)
	s.add("1", event(t, "a"))
	r.NudgeAggregate("1")
	drained(t, s)
}
