package messaging_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/travluk/ecom/services/platform/messaging"
	"github.com/travluk/ecom/services/platform/messaging/messagingtest"
)

// TestConsumeLag checks messages_consume_lag_seconds, which the
// consumer-lag alert of k8s/prometheusrule.yaml reads: an event made a
// while ago shows that age at its first delivery, and the deliveries after
// a failed one add nothing, on both buses.
func TestConsumeLag(t *testing.T) {
	const age = 3 * time.Second
	buses := []struct {
		name string
		open func(t *testing.T, reg prometheus.Registerer) (messaging.Publisher, messaging.Subscriber, string)
	}{
		{"memory", func(t *testing.T, reg prometheus.Registerer) (messaging.Publisher, messaging.Subscriber, string) {
			bus := messaging.NewMemoryBus(messaging.MemoryOptions{Registry: reg})
			return bus, bus, "lagged"
		}},
		{"rabbit", func(t *testing.T, reg prometheus.Registerer) (messaging.Publisher, messaging.Subscriber, string) {
			b := newBroker(t)
			r := b.rabbit(b.url, func(o *messaging.RabbitOptions) { o.Registry = reg })
			return r, r, b.queue("lagged")
		}},
	}
	for _, bus := range buses {
		t.Run(bus.name, func(t *testing.T) {
			reg := prometheus.NewRegistry()
			pub, sub, queue := bus.open(t, reg)
			// Every event fails its first delivery, so that each is
			// delivered twice.
			rec := messagingtest.NewRecorder(func(_ messaging.Event, before int) error {
				if before == 0 {
					return errors.New("not yet")
				}
				return nil
			})
			messagingtest.Consume(t, sub, messaging.Subscription{Queue: queue, Types: []string{"thing.made"}, Handler: rec.Handle})

			old := messagingtest.NewEvent(t, context.Background(), "thing.made", "old")
			old.Time = old.Time.Add(-age)
			messagingtest.Eventually(t, func() error {
				ctx, cancel := context.WithTimeout(context.Background(), time.Second)
				defer cancel()
				return pub.Publish(ctx, old)
			})
			fresh := messagingtest.Publish(t, pub, "thing.made", "fresh")
			rec.WaitHandled(t, 2)
			if rec.Calls(old.ID) != 2 || rec.Calls(fresh.ID) != 2 {
				t.Fatalf("deliveries: old %d, fresh %d; want 2 each", rec.Calls(old.ID), rec.Calls(fresh.ID))
			}

			count, sum := histogram(t, reg, "messages_consume_lag_seconds", map[string]string{"queue": queue, "type": "thing.made"})
			if count != 2 {
				t.Errorf("lag observations = %d, want 2 (one per event: redeliveries are not lag)", count)
			}
			// The old event's age plus the fresh one's few milliseconds,
			// with room for a slow machine.
			if sum < age.Seconds() || sum > age.Seconds()+5 {
				t.Errorf("lag sum = %.3fs, want about %v", sum, age)
			}
		})
	}
}

// TestConsumedSeriesExistFromTheStart checks that once a consumer is up,
// before any event arrives, messages_consumed_total shows 0 for every
// outcome of each type its queue is bound to by name (and, on RabbitMQ,
// for bodies that are no event): the dead-letter alert takes increase() of
// it, which misses the first dead letter of a series born with it.
func TestConsumedSeriesExistFromTheStart(t *testing.T) {
	buses := []struct {
		name      string
		open      func(t *testing.T, reg prometheus.Registerer) (messaging.Subscriber, string)
		malformed bool
	}{
		{"memory", func(t *testing.T, reg prometheus.Registerer) (messaging.Subscriber, string) {
			return messaging.NewMemoryBus(messaging.MemoryOptions{Registry: reg}), "fresh"
		}, false},
		{"rabbit", func(t *testing.T, reg prometheus.Registerer) (messaging.Subscriber, string) {
			b := newBroker(t)
			return b.rabbit(b.url, func(o *messaging.RabbitOptions) { o.Registry = reg }), b.queue("fresh")
		}, true},
	}
	for _, bus := range buses {
		t.Run(bus.name, func(t *testing.T) {
			reg := prometheus.NewRegistry()
			sub, queue := bus.open(t, reg)
			messagingtest.Consume(t, sub, messaging.Subscription{
				Queue: queue, Types: []string{"thing.made", "other.*"}, Handler: messagingtest.NewRecorder(nil).Handle,
			})
			want := []string{"thing.made ack", "thing.made dead_letter", "thing.made retry"}
			if bus.malformed {
				want = append(want, "malformed dead_letter")
			}
			slices.Sort(want)
			messagingtest.Eventually(t, func() error {
				var got []string
				for _, s := range series(t, reg, "messages_consumed_total") {
					if s.labels["queue"] == queue && s.value == 0 {
						got = append(got, s.labels["type"]+" "+s.labels["outcome"])
					}
				}
				slices.Sort(got)
				if !slices.Equal(got, want) {
					return fmt.Errorf("messages_consumed_total series at 0 before any event: %q, want %q", got, want)
				}
				return nil
			})
		})
	}
}

type sample struct {
	labels map[string]string
	value  float64
}

// series returns every counter sample of the metric called name in reg.
func series(t *testing.T, reg *prometheus.Registry, name string) []sample {
	t.Helper()
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var out []sample
	for _, f := range families {
		if f.GetName() != name {
			continue
		}
		for _, m := range f.GetMetric() {
			s := sample{labels: make(map[string]string), value: m.GetCounter().GetValue()}
			for _, l := range m.GetLabel() {
				s.labels[l.GetName()] = l.GetValue()
			}
			out = append(out, s)
		}
	}
	return out
}
