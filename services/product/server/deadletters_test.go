package server_test

import (
	"context"
	"fmt"
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"github.com/travluk/ecom/dev/shoptest"
	"github.com/travluk/ecom/services/platform/messaging"
)

// brokenQueue stands for a bug in the handler of one queue: while broken
// is set, every event it delivers fails with an error no retry can cure
// before the real handler sees it. Clearing it is the fix.
type brokenQueue struct {
	messaging.Bus
	queue  string
	broken *atomic.Bool
}

func (b brokenQueue) Consume(ctx context.Context, subs ...messaging.Subscription) error {
	wrapped := make([]messaging.Subscription, len(subs))
	for i, s := range subs {
		if handle := s.Handler; s.Queue == b.queue {
			s.Handler = func(ctx context.Context, e messaging.Event) error {
				if b.broken.Load() {
					return messaging.Permanent(fmt.Errorf("bug: cannot handle %s", e.Type))
				}
				return handle(ctx, e)
			}
		}
		wrapped[i] = s
	}
	return b.Bus.Consume(ctx, wrapped...)
}

// TestDeadLetterReplaySellsOnce: the product service's handler is broken,
// so a buy's order.confirmed is dead-lettered and the buy answers 202 with
// the units still reserved; an admin finds it in the dead letters, the
// handler is fixed, the admin replays it: the units are sold exactly once,
// the dead letters are empty, and a second replay is 404.
func TestDeadLetterReplaySellsOnce(t *testing.T) {
	var broken atomic.Bool
	broken.Store(true)
	bus := messaging.NewMemoryBus(messaging.MemoryOptions{})
	f := newFlow(t, brokenQueue{Bus: bus, queue: "product", broken: &broken}, map[string]string{"BUY_CONFIRM_WAIT": "300ms"})
	id := f.create("Kite", 5)

	r := f.buy(id, 2)
	if r.status != http.StatusAccepted {
		t.Fatalf("buy whose confirmation is dead-lettered: %s, want 202", r)
	}
	if got := f.units(id); got != [4]int64{3, 2, 0, 1} {
		t.Errorf("stock, reserved, sold, reservations while dead-lettered = %v, want [3 2 0 1]", got)
	}
	base := f.s.base + "/api/products/dead-letters"
	var page struct {
		Items []struct{ ID, Type, Queue, Reason string } `json:"items"`
		Total int                                        `json:"total"`
	}
	shoptest.Decode(t, shoptest.Call(t, "GET", base, f.admin, "", http.StatusOK), &page)
	if page.Total != 1 || len(page.Items) != 1 || page.Items[0].Type != "order.confirmed" || page.Items[0].Queue != "product" || page.Items[0].Reason != "rejected" {
		t.Fatalf("dead letters = %+v, want the order.confirmed of queue product", page)
	}
	shoptest.Call(t, "GET", base, f.customer, "", http.StatusForbidden)
	eventID := page.Items[0].ID

	broken.Store(false)
	shoptest.Call(t, "POST", base+"/"+eventID+"/replay", f.admin, "", http.StatusAccepted)
	shoptest.Call(t, "POST", base+"/"+eventID+"/replay", f.admin, "", http.StatusNotFound)
	eventually(t, 5*time.Second, func() string {
		if got := f.units(id); got != [4]int64{3, 0, 2, 0} {
			return fmt.Sprintf("stock, reserved, sold, reservations after the replay = %v, want [3 0 2 0]", got)
		}
		if got := f.statuses(); got["confirmed"] != 1 || len(got) != 1 {
			return fmt.Sprintf("purchases %v, want one confirmed", got)
		}
		return ""
	})
	shoptest.Decode(t, shoptest.Call(t, "GET", base, f.admin, "", http.StatusOK), &page)
	if page.Total != 0 || len(page.Items) != 0 {
		t.Errorf("dead letters after the replay = %+v, want none", page)
	}
}
