// Package waiter lets a buy wait for the confirmation of its order,
// whichever replica of the product service consumes it. It implements
// product.Waiter.
//
// The rule it keeps: a watcher is woken soon after its purchase settles,
// and a lost notification only delays it. Three paths wake it: a Notify on
// the same replica wakes it at once; a Notify elsewhere reaches it through
// Redis pub/sub (channel "purchase:<orderId>", every replica subscribed to
// "purchase:*"); and Run polls the store for every watched purchase in one
// query every poll interval, which covers Redis being away or a message
// lost on a reconnect.
package waiter

import (
	"context"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
)

// ChannelPrefix starts the Redis channel of every purchase.
const ChannelPrefix = "purchase:"

const (
	// DefaultPollInterval is how often Run asks the store about the
	// watched purchases.
	DefaultPollInterval = 150 * time.Millisecond
	// publishTimeout bounds a notification: a slow Redis must not hold up
	// the consumer that confirms an order.
	publishTimeout = 250 * time.Millisecond
)

// SettledFunc returns those of orderIDs whose purchases have settled.
type SettledFunc func(ctx context.Context, orderIDs []string) ([]string, error)

// Options configure a Hub.
type Options struct {
	// Redis carries notifications between replicas; nil keeps them within
	// the process (polling still works).
	Redis redis.UniversalClient
	// Settled is what polling asks; nil turns polling off.
	Settled SettledFunc
	// PollInterval defaults to DefaultPollInterval.
	PollInterval time.Duration
	Logger       *slog.Logger
}

// Hub implements product.Waiter.
type Hub struct {
	rdb      redis.UniversalClient
	settled  SettledFunc
	poll     time.Duration
	log      *slog.Logger
	mu       sync.Mutex
	watchers map[string]map[chan struct{}]struct{}
}

// New returns a Hub; call Run to receive notifications from other replicas
// and to poll.
func New(o Options) *Hub {
	if o.PollInterval <= 0 {
		o.PollInterval = DefaultPollInterval
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	return &Hub{rdb: o.Redis, settled: o.Settled, poll: o.PollInterval, log: o.Logger,
		watchers: make(map[string]map[chan struct{}]struct{})}
}

// Watch starts watching orderID; wake receives a value (at most one
// pending) each time the purchase may have changed.
func (h *Hub) Watch(orderID string) (<-chan struct{}, func()) {
	ch := make(chan struct{}, 1)
	h.mu.Lock()
	set := h.watchers[orderID]
	if set == nil {
		set = make(map[chan struct{}]struct{})
		h.watchers[orderID] = set
	}
	set[ch] = struct{}{}
	h.mu.Unlock()
	return ch, func() {
		h.mu.Lock()
		defer h.mu.Unlock()
		delete(set, ch)
		if len(h.watchers[orderID]) == 0 {
			delete(h.watchers, orderID)
		}
	}
}

// Notify wakes the watchers of orderID here, and through Redis on every
// other replica. A Redis failure is logged at debug level only: polling
// covers it.
func (h *Hub) Notify(ctx context.Context, orderID string) {
	h.wake(orderID)
	if h.rdb == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), publishTimeout)
	defer cancel()
	if err := h.rdb.Publish(ctx, ChannelPrefix+orderID, "settled").Err(); err != nil {
		h.log.DebugContext(ctx, "purchase notification not published; watchers will poll", "orderId", orderID, "error", err)
	}
}

func (h *Hub) wake(orderID string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for ch := range h.watchers[orderID] {
		select {
		case ch <- struct{}{}:
		default:
		}
	}
}

func (h *Hub) watched() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	ids := make([]string, 0, len(h.watchers))
	for id := range h.watchers {
		ids = append(ids, id)
	}
	return ids
}

// Run receives notifications and polls until ctx ends.
func (h *Hub) Run(ctx context.Context) {
	var wg sync.WaitGroup
	if h.rdb != nil {
		wg.Go(func() { h.subscribe(ctx) })
	}
	if h.settled != nil {
		wg.Go(func() { h.pollLoop(ctx) })
	}
	wg.Wait()
}

// subscribe relays Redis notifications to local watchers. go-redis
// reconnects and subscribes again by itself after a connection loss.
func (h *Hub) subscribe(ctx context.Context) {
	ps := h.rdb.PSubscribe(ctx, ChannelPrefix+"*")
	defer ps.Close()
	ch := ps.Channel()
	for {
		select {
		case <-ctx.Done():
			return
		case msg, ok := <-ch:
			if !ok {
				return
			}
			h.wake(strings.TrimPrefix(msg.Channel, ChannelPrefix))
		}
	}
}

func (h *Hub) pollLoop(ctx context.Context) {
	t := time.NewTicker(h.poll)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		ids := h.watched()
		if len(ids) == 0 {
			continue
		}
		qctx, cancel := context.WithTimeout(ctx, h.poll*4)
		done, err := h.settled(qctx, ids)
		cancel()
		if err != nil {
			h.log.DebugContext(ctx, "polling watched purchases failed", "error", err)
			continue
		}
		for _, id := range done {
			h.wake(id)
		}
	}
}
