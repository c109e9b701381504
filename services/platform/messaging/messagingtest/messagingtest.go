// Package messagingtest holds the conformance suite every implementation of
// messaging.Publisher and messaging.Subscriber must pass, so that the
// in-process bus of a one-machine run behaves as RabbitMQ does.
package messagingtest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"go.opentelemetry.io/otel/trace"

	"github.com/travluk/ecom/services/platform/messaging"
)

// Bus is an implementation under test.
type Bus = messaging.Bus

// Harness is an implementation prepared for one test.
type Harness struct {
	// Bus is used by this test only: no other test sees its events.
	Bus Bus
	// DeliveryLimit is the delivery limit Bus was made with.
	DeliveryLimit int
	// Queue returns the name of the queue the test calls name, unique to
	// the test where queues are shared (RabbitMQ), and removed when the
	// test ends.
	Queue func(name string) string
	// DeadLetters returns the events dead-lettered on queue so far, oldest
	// first.
	DeadLetters func(t *testing.T, queue string) []messaging.Event
}

// wait bounds every wait of the suite: RabbitMQ on a loaded machine takes
// milliseconds, never seconds.
const wait = 5 * time.Second

// Run runs the suite against the harnesses newHarness makes, one per
// subtest.
func Run(t *testing.T, newHarness func(t *testing.T) Harness) {
	tests := []struct {
		name string
		run  func(t *testing.T, h Harness)
	}{
		{"publish and consume", testPublishConsume},
		{"routing by type", testRouting},
		{"unroutable", testUnroutable},
		{"redelivery after a handler error", testRedelivery},
		{"dead letter after the limit, later events still handled", testDeadLetterAfterLimit},
		{"permanent error dead-letters at once", testPermanent},
		{"traceparent carried", testTraceParent},
		{"invalid subscriptions refused", testInvalidSubscriptions},
		{"dead letters listed, inspected and replayed once", testDeadLetterReplay},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { tt.run(t, newHarness(t)) })
	}
}

// Recorder is a handler that records the events it handled, and fails those
// its Fail function (if any) says should fail.
type Recorder struct {
	// Fail, if set, decides the handler's answer to an event, given how
	// many times this event was handled before.
	Fail func(e messaging.Event, before int) error

	mu      sync.Mutex
	calls   map[string]int
	handled []messaging.Event
	ctxs    []context.Context
	changed chan struct{}
}

// NewRecorder returns a recorder with no events.
func NewRecorder(fail func(e messaging.Event, before int) error) *Recorder {
	return &Recorder{Fail: fail, calls: make(map[string]int), changed: make(chan struct{}, 1)}
}

// Handle is the messaging.Handler.
func (r *Recorder) Handle(ctx context.Context, e messaging.Event) error {
	r.mu.Lock()
	before := r.calls[e.ID]
	r.calls[e.ID]++
	r.mu.Unlock()
	var err error
	if r.Fail != nil {
		err = r.Fail(e, before)
	}
	r.mu.Lock()
	if err == nil {
		r.handled = append(r.handled, e)
		r.ctxs = append(r.ctxs, ctx)
	}
	r.mu.Unlock()
	select {
	case r.changed <- struct{}{}:
	default:
	}
	return err
}

// Calls returns how many times the event with id was handed to Handle.
func (r *Recorder) Calls(id string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.calls[id]
}

// Handled returns the events handled successfully, in order.
func (r *Recorder) Handled() []messaging.Event {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.handled)
}

// WaitHandled waits until n events were handled successfully and returns
// them, or fails t after a few seconds.
func (r *Recorder) WaitHandled(t testing.TB, n int) []messaging.Event {
	t.Helper()
	deadline := time.NewTimer(wait)
	defer deadline.Stop()
	for {
		if got := r.Handled(); len(got) >= n {
			return got
		}
		select {
		case <-r.changed:
		case <-deadline.C:
			t.Fatalf("handled %d events after %v, want %d", len(r.Handled()), wait, n)
		}
	}
}

// Consume starts bus.Consume(subs...) in the background until the test
// ends, and fails the test if Consume returns an error.
func Consume(t testing.TB, bus messaging.Subscriber, subs ...messaging.Subscription) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- bus.Consume(ctx, subs...) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("Consume: %v", err)
			}
		case <-time.After(wait):
			t.Errorf("Consume did not return %v after its context ended", wait)
		}
	})
}

// Eventually calls f until it returns nil, or fails t with its last error
// after a few seconds.
func Eventually(t testing.TB, f func() error) {
	t.Helper()
	deadline := time.Now().Add(wait)
	for {
		err := f()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("still failing after %v: %v", wait, err)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// Publish publishes an event of eventType with data, retrying while the
// error is anything but the event's own fault: a consumer that was just
// started may not have declared its queue yet (unroutable), and a broker
// may be reconnecting. It fails t when no publish succeeds within a few
// seconds.
func Publish(t testing.TB, pub messaging.Publisher, eventType string, data any) messaging.Event {
	t.Helper()
	e := NewEvent(t, context.Background(), eventType, data)
	Eventually(t, func() error {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		return pub.Publish(ctx, e)
	})
	return e
}

// NewEvent returns a valid event from source "/test" about subject "s-1".
func NewEvent(t testing.TB, ctx context.Context, eventType string, data any) messaging.Event {
	t.Helper()
	e, err := messaging.NewEvent(ctx, "/test", eventType, "s-1", data)
	if err != nil {
		t.Fatal(err)
	}
	return e
}

func ids(events []messaging.Event) []string {
	out := make([]string, len(events))
	for i, e := range events {
		out[i] = e.ID
	}
	return out
}

func testPublishConsume(t *testing.T, h Harness) {
	rec := NewRecorder(nil)
	Consume(t, h.Bus, messaging.Subscription{Queue: h.Queue("things"), Types: []string{"thing.made"}, Handler: rec.Handle})
	var want []messaging.Event
	for i := range 3 {
		want = append(want, Publish(t, h.Bus, "thing.made", map[string]int{"n": i}))
	}
	got := rec.WaitHandled(t, 3)
	// Events may be handled concurrently, hence in any order.
	byID := func(a, b messaging.Event) int { return strings.Compare(a.ID, b.ID) }
	slices.SortFunc(got, byID)
	slices.SortFunc(want, byID)
	timeEqual := cmp.Comparer(func(a, b time.Time) bool { return a.Equal(b) })
	if diff := cmp.Diff(want, got, timeEqual); diff != "" {
		t.Errorf("handled events mismatch (-published +handled):\n%s", diff)
	}
}

func testRouting(t *testing.T, h Harness) {
	a, b := NewRecorder(nil), NewRecorder(nil)
	Consume(t, h.Bus,
		messaging.Subscription{Queue: h.Queue("a"), Types: []string{"x.one"}, Handler: a.Handle},
		messaging.Subscription{Queue: h.Queue("b"), Types: []string{"x.one", "x.two"}, Handler: b.Handle},
	)
	// Queues may be declared one after another: once x.two, bound only
	// to b, is routable, both are there.
	two := Publish(t, h.Bus, "x.two", nil)
	one := Publish(t, h.Bus, "x.one", nil)
	gotB := ids(b.WaitHandled(t, 2))
	slices.Sort(gotB)
	wantB := []string{one.ID, two.ID}
	slices.Sort(wantB)
	if diff := cmp.Diff(wantB, gotB); diff != "" {
		t.Errorf("queue b (x.one, x.two) mismatch (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{one.ID}, ids(a.WaitHandled(t, 1))); diff != "" {
		t.Errorf("queue a (x.one) mismatch (-want +got):\n%s", diff)
	}
}

func testUnroutable(t *testing.T, h Harness) {
	rec := NewRecorder(nil)
	queue := h.Queue("bound")
	Consume(t, h.Bus, messaging.Subscription{Queue: queue, Types: []string{"bound.type"}, Handler: rec.Handle})
	Publish(t, h.Bus, "bound.type", nil) // the queue is there
	e := NewEvent(t, context.Background(), "nobody.listens", nil)
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	if err := h.Bus.Publish(ctx, e); !errors.Is(err, messaging.ErrUnroutable) {
		t.Errorf("Publish of an unbound type = %v, want ErrUnroutable", err)
	}
	// An unroutable publish leaves the publisher usable.
	Publish(t, h.Bus, "bound.type", nil)
	rec.WaitHandled(t, 2)
}

func testRedelivery(t *testing.T, h Harness) {
	rec := NewRecorder(func(e messaging.Event, before int) error {
		if before < 2 {
			return fmt.Errorf("failure %d", before+1)
		}
		return nil
	})
	queue := h.Queue("flaky")
	Consume(t, h.Bus, messaging.Subscription{Queue: queue, Types: []string{"flaky.event"}, Handler: rec.Handle})
	e := Publish(t, h.Bus, "flaky.event", nil)
	rec.WaitHandled(t, 1)
	if got := rec.Calls(e.ID); got != 3 {
		t.Errorf("handler called %d times, want 3 (two failures, then success)", got)
	}
	if dead := h.DeadLetters(t, queue); len(dead) != 0 {
		t.Errorf("dead letters = %v, want none", ids(dead))
	}
}

func testDeadLetterAfterLimit(t *testing.T, h Harness) {
	var poison string
	var mu sync.Mutex
	rec := NewRecorder(func(e messaging.Event, before int) error {
		mu.Lock()
		defer mu.Unlock()
		if e.ID == poison {
			return errors.New("never works")
		}
		return nil
	})
	queue := h.Queue("limited")
	Consume(t, h.Bus, messaging.Subscription{Queue: queue, Types: []string{"limited.event"}, Handler: rec.Handle})
	Publish(t, h.Bus, "limited.event", "warm-up") // the queue is there
	bad := NewEvent(t, context.Background(), "limited.event", "bad")
	mu.Lock()
	poison = bad.ID
	mu.Unlock()
	// Publishing waits for the bad event to be dead-lettered on the
	// in-process bus, so it goes in the background.
	published := make(chan error, 1)
	go func() { published <- h.Bus.Publish(context.Background(), bad) }()
	after := []messaging.Event{Publish(t, h.Bus, "limited.event", "after 1"), Publish(t, h.Bus, "limited.event", "after 2")}
	rec.WaitHandled(t, 3)
	for _, e := range after {
		if rec.Calls(e.ID) != 1 {
			t.Errorf("event behind the poison handled %d times, want 1", rec.Calls(e.ID))
		}
	}
	if err := <-published; err != nil {
		t.Errorf("Publish of the event that fails = %v, want nil (it was delivered)", err)
	}
	Eventually(t, func() error {
		dead := h.DeadLetters(t, queue)
		if len(dead) != 1 || dead[0].ID != bad.ID {
			return fmt.Errorf("dead letters %v, want [%s]", ids(dead), bad.ID)
		}
		return nil
	})
	if got, want := rec.Calls(bad.ID), h.DeliveryLimit+1; got != want {
		t.Errorf("failing event delivered %d times, want %d (the first delivery and %d more)", got, want, h.DeliveryLimit)
	}
}

func testPermanent(t *testing.T, h Harness) {
	rec := NewRecorder(func(e messaging.Event, before int) error {
		if string(e.Data) == `"bad"` {
			return messaging.Permanent(errors.New("cannot ever be handled"))
		}
		return nil
	})
	queue := h.Queue("strict")
	Consume(t, h.Bus, messaging.Subscription{Queue: queue, Types: []string{"strict.event"}, Handler: rec.Handle})
	bad := Publish(t, h.Bus, "strict.event", "bad")
	good := Publish(t, h.Bus, "strict.event", "good")
	rec.WaitHandled(t, 1)
	Eventually(t, func() error {
		if dead := h.DeadLetters(t, queue); len(dead) != 1 || dead[0].ID != bad.ID {
			return fmt.Errorf("dead letters %v, want [%s]", ids(dead), bad.ID)
		}
		return nil
	})
	if got := rec.Calls(bad.ID); got != 1 {
		t.Errorf("permanently failing event delivered %d times, want 1", got)
	}
	if got := rec.Calls(good.ID); got != 1 {
		t.Errorf("good event delivered %d times, want 1", got)
	}
}

func testTraceParent(t *testing.T, h Harness) {
	rec := NewRecorder(nil)
	Consume(t, h.Bus, messaging.Subscription{Queue: h.Queue("traced"), Types: []string{"traced.event"}, Handler: rec.Handle})
	sc := trace.NewSpanContext(trace.SpanContextConfig{
		TraceID:    trace.TraceID{0x4b, 0xf9, 0x2f, 0x35, 0x77, 0xb3, 0x4d, 0xa6, 0xa3, 0xce, 0x92, 0x9d, 0x0e, 0x0e, 0x47, 0x36},
		SpanID:     trace.SpanID{0x00, 0xf0, 0x67, 0xaa, 0x0b, 0xa9, 0x02, 0xb7},
		TraceFlags: trace.FlagsSampled,
	})
	e := NewEvent(t, trace.ContextWithSpanContext(context.Background(), sc), "traced.event", nil)
	if want := "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"; e.TraceParent != want {
		t.Fatalf("TraceParent = %q, want %q", e.TraceParent, want)
	}
	Eventually(t, func() error { return h.Bus.Publish(context.Background(), e) })
	got := rec.WaitHandled(t, 1)[0]
	if got.TraceParent != e.TraceParent {
		t.Errorf("handled TraceParent = %q, want %q", got.TraceParent, e.TraceParent)
	}
	rec.mu.Lock()
	ctx := rec.ctxs[0]
	rec.mu.Unlock()
	if id := trace.SpanContextFromContext(ctx).TraceID(); id != sc.TraceID() {
		t.Errorf("handler's context is in trace %s, want %s", id, sc.TraceID())
	}
}

func testInvalidSubscriptions(t *testing.T, h Harness) {
	ok := func(context.Context, messaging.Event) error { return nil }
	q := h.Queue("invalid")
	tests := []struct {
		name string
		subs []messaging.Subscription
	}{
		{"none", nil},
		{"no queue", []messaging.Subscription{{Types: []string{"a"}, Handler: ok}}},
		{"no types", []messaging.Subscription{{Queue: q, Handler: ok}}},
		{"no handler", []messaging.Subscription{{Queue: q, Types: []string{"a"}}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), wait)
			defer cancel()
			if err := h.Bus.Consume(ctx, tt.subs...); err == nil {
				t.Error("Consume = nil, want an error at once")
			}
		})
	}
}

// testDeadLetterReplay is an operator's repair: a handler fails for good on
// some events, they are dead-lettered, listed (twice, in order: looking
// takes nothing away) and inspected; the handler is fixed, each is replayed
// and handled exactly once, on its own queue only, and is then gone.
func testDeadLetterReplay(t *testing.T, h Harness) {
	ctx := context.Background()
	var broken sync.Mutex // held while the handler is broken
	var fixed bool
	rec := NewRecorder(func(e messaging.Event, before int) error {
		broken.Lock()
		defer broken.Unlock()
		if !fixed && string(e.Data) != `"warm-up"` {
			return messaging.Permanent(errors.New("cannot handle this yet"))
		}
		return nil
	})
	bystander := NewRecorder(nil)
	queue := h.Queue("repaired")
	Consume(t, h.Bus, messaging.Subscription{Queue: queue, Types: []string{"repaired.event"}, Handler: rec.Handle})
	Consume(t, h.Bus, messaging.Subscription{Queue: h.Queue("bystander"), Types: []string{"repaired.event"}, Handler: bystander.Handle})
	// Both queues are there once a warm-up reached both.
	Eventually(t, func() error {
		Publish(t, h.Bus, "repaired.event", "warm-up")
		if len(bystander.Handled()) == 0 || len(rec.Handled()) == 0 {
			return errors.New("a warm-up event has not reached both queues yet")
		}
		return nil
	})
	first := Publish(t, h.Bus, "repaired.event", "first")
	second := Publish(t, h.Bus, "repaired.event", "second")
	Eventually(t, func() error {
		if bystander.Calls(first.ID) == 0 || bystander.Calls(second.ID) == 0 {
			return errors.New("the other queue has not handled both events yet")
		}
		return nil
	})

	Eventually(t, func() error {
		list, err := h.Bus.ListDeadLetters(ctx, queue, 10)
		if err != nil {
			return err
		}
		if got := dlIDs(list.Items); list.Total != 2 || !slices.Equal(got, []string{first.ID, second.ID}) {
			return fmt.Errorf("dead letters %v of %d, want [%s %s] of 2", got, list.Total, first.ID, second.ID)
		}
		return nil
	})
	for range 3 {
		list, err := h.Bus.ListDeadLetters(ctx, queue, 10)
		if err != nil {
			t.Fatal(err)
		}
		if got := dlIDs(list.Items); !slices.Equal(got, []string{first.ID, second.ID}) {
			t.Fatalf("listed again: %v, want the same two in the same order", got)
		}
	}
	if list, err := h.Bus.ListDeadLetters(ctx, queue, 1); err != nil || list.Total != 2 || !slices.Equal(dlIDs(list.Items), []string{first.ID}) {
		t.Errorf("list of 1 = %v of %d (%v), want [%s] of 2", dlIDs(list.Items), list.Total, err, first.ID)
	}

	got, err := h.Bus.DeadLetter(ctx, queue, second.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.ID != second.ID || got.Type != "repaired.event" || got.Queue != queue || got.Reason != messaging.ReasonRejected || got.DeadLetteredAt.IsZero() {
		t.Errorf("dead letter = %+v, want %s, repaired.event, %s, rejected, a time", got, second.ID, queue)
	}
	if diff := cmp.Diff(second, got.Event); diff != "" {
		t.Errorf("dead letter's event differs from the one published (-want +got):\n%s", diff)
	}
	if _, err := h.Bus.DeadLetter(ctx, queue, "no-such-event"); !errors.Is(err, messaging.ErrNoDeadLetter) {
		t.Errorf("DeadLetter(unknown) = %v, want ErrNoDeadLetter", err)
	}

	broken.Lock()
	fixed = true
	broken.Unlock()
	for _, e := range []messaging.Event{first, second} {
		replayed, err := h.Bus.ReplayDeadLetter(ctx, queue, e.ID)
		if err != nil {
			t.Fatalf("replay %s: %v", e.ID, err)
		}
		if replayed.ID != e.ID || replayed.Queue != queue || replayed.Event.ID != e.ID {
			t.Errorf("replay of %s returned %+v", e.ID, replayed)
		}
		if _, err := h.Bus.ReplayDeadLetter(ctx, queue, e.ID); !errors.Is(err, messaging.ErrNoDeadLetter) {
			t.Errorf("second replay of %s = %v, want ErrNoDeadLetter", e.ID, err)
		}
	}
	Eventually(t, func() error {
		if handledCount(rec, first.ID) == 0 || handledCount(rec, second.ID) == 0 {
			return errors.New("the replayed events are not handled yet")
		}
		return nil
	})
	if list, err := h.Bus.ListDeadLetters(ctx, queue, 10); err != nil || list.Total != 0 || len(list.Items) != 0 {
		t.Errorf("dead letters after the replays = %v of %d (%v), want none", dlIDs(list.Items), list.Total, err)
	}
	// A late duplicate would show here; the bystander's queue had handled
	// the events already and must not see them again.
	last := Publish(t, h.Bus, "repaired.event", "last")
	Eventually(t, func() error {
		if handledCount(rec, last.ID) == 0 {
			return errors.New("the last event is not handled yet")
		}
		return nil
	})
	for _, e := range []messaging.Event{first, second} {
		if n := handledCount(rec, e.ID); n != 1 {
			t.Errorf("replayed event %s handled %d times, want 1", e.ID, n)
		}
		if n := bystander.Calls(e.ID); n != 1 {
			t.Errorf("another queue bound to the type saw %s %d times, want 1 (a replay is for its own queue)", e.ID, n)
		}
	}
}

func dlIDs(dead []messaging.DeadLetter) []string {
	out := make([]string, len(dead))
	for i, d := range dead {
		out[i] = d.ID
	}
	return out
}

func handledCount(rec *Recorder, id string) int {
	n := 0
	for _, e := range rec.Handled() {
		if e.ID == id {
			n++
		}
	}
	return n
}
