package messaging_test

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/travluk/ecom/services/platform/messaging"
	"github.com/travluk/ecom/services/platform/messaging/messagingtest"
)

// TestRabbitDeadLetterDetails: with a QueuePrefix, dead letters are named
// by the subscription's queue; one that ran out of deliveries says so and
// how often it was delivered; one a handler rejected says rejected.
func TestRabbitDeadLetterDetails(t *testing.T) {
	b := newBroker(t)
	q := b.queue("details")
	prefix, name := q[:len(q)-len("details")], "details"
	r := b.rabbit(b.url, func(o *messaging.RabbitOptions) { o.QueuePrefix = prefix })
	rec := messagingtest.NewRecorder(func(e messaging.Event, _ int) error {
		switch string(e.Data) {
		case `"flaky"`:
			return errors.New("fails every time")
		case `"bad"`:
			return messaging.Permanent(errors.New("never works"))
		}
		return nil
	})
	messagingtest.Consume(t, r, messaging.Subscription{Queue: name, Types: []string{"thing.made"}, Handler: rec.Handle})
	flaky := messagingtest.Publish(t, r, "thing.made", "flaky")
	bad := messagingtest.Publish(t, r, "thing.made", "bad")

	var list messaging.DeadLetterList
	messagingtest.Eventually(t, func() error {
		var err error
		list, err = r.ListDeadLetters(context.Background(), name, 10)
		if err == nil && list.Total != 2 {
			err = fmt.Errorf("%d dead letters, want 2", list.Total)
		}
		return err
	})
	want := map[string]struct {
		reason     string
		deliveries int
	}{
		flaky.ID: {messaging.ReasonDeliveryLimit, testOptions("").DeliveryLimit + 1},
		bad.ID:   {messaging.ReasonRejected, 0},
	}
	for _, d := range list.Items {
		w, ok := want[d.ID]
		if !ok || d.Queue != name || d.Reason != w.reason || d.Deliveries != w.deliveries || d.DeadLetteredAt.IsZero() {
			t.Errorf("dead letter %+v, want queue %s, reason %s, %d deliveries, a time", d, name, w.reason, w.deliveries)
		}
	}
}

// TestRabbitBrowsingKeepsDeadLetters lists a dead-letter queue more often
// than a quorum queue's default delivery limit on RabbitMQ 4.0–4.2 (20,
// which counts every message handed out and taken back): nothing is lost
// and the order stays.
func TestRabbitBrowsingKeepsDeadLetters(t *testing.T) {
	b := newBroker(t)
	r := b.rabbit(b.url, nil)
	q := b.queue("browsed")
	messagingtest.Consume(t, r, messaging.Subscription{Queue: q, Types: []string{"thing.made"}, Handler: func(context.Context, messaging.Event) error {
		return messaging.Permanent(errors.New("never works"))
	}})
	first := messagingtest.Publish(t, r, "thing.made", "first")
	second := messagingtest.Publish(t, r, "thing.made", "second")
	messagingtest.Eventually(t, func() error {
		_, err := r.DeadLetter(context.Background(), q, second.ID)
		return err
	})
	for i := range 30 {
		list, err := r.ListDeadLetters(context.Background(), q, 10)
		if err != nil {
			t.Fatal(err)
		}
		if list.Total != 2 || len(list.Items) != 2 || list.Items[0].ID != first.ID || list.Items[1].ID != second.ID {
			t.Fatalf("browse %d: %+v, want %s and %s", i+1, list, first.ID, second.ID)
		}
	}
}

// TestRabbitReplayKeepsTheDeadLetterWhenThePublishFails: a replay whose
// publish is not confirmed (here: its queue is gone, so it is unroutable)
// fails and leaves the dead letter where it was.
func TestRabbitReplayKeepsTheDeadLetterWhenThePublishFails(t *testing.T) {
	b := newBroker(t)
	r := b.rabbit(b.url, nil)
	q := b.queue("vanishing")
	ctx, stop := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- r.Consume(ctx, messaging.Subscription{Queue: q, Types: []string{"thing.made"}, Handler: func(context.Context, messaging.Event) error {
			return messaging.Permanent(errors.New("never works"))
		}})
	}()
	bad := messagingtest.Publish(t, r, "thing.made", "bad")
	messagingtest.Eventually(t, func() error {
		_, err := r.DeadLetter(context.Background(), q, bad.ID)
		return err
	})
	stop()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	ch := b.channel()
	if _, err := ch.QueueDelete(q, false, false, false); err != nil {
		t.Fatal(err)
	}
	ch.Close()

	_, err := r.ReplayDeadLetter(context.Background(), q, bad.ID)
	if !errors.Is(err, messaging.ErrUnroutable) {
		t.Fatalf("replay to a queue that is gone = %v, want ErrUnroutable", err)
	}
	list, err := r.ListDeadLetters(context.Background(), q, 10)
	if err != nil || list.Total != 1 || len(list.Items) != 1 || list.Items[0].ID != bad.ID {
		t.Errorf("dead letters after the failed replay = %+v (%v), want %s still there", list, err, bad.ID)
	}
}
