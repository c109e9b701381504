package waiter

import (
	"context"
	"crypto/rand"
	"sync"
	"testing"
	"time"

	"github.com/travluk/ecom/dev/testenv"
	"github.com/travluk/ecom/services/platform/redisconn"
)

func woken(t *testing.T, wake <-chan struct{}, within time.Duration) bool {
	t.Helper()
	select {
	case <-wake:
		return true
	case <-time.After(within):
		return false
	}
}

func TestWake(t *testing.T) {
	rdb, err := redisconn.Connect(testenv.Redis(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { rdb.Close() })
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	var (
		mu      sync.Mutex
		settled = map[string]bool{}
	)
	here := New(Options{Redis: rdb})
	elsewhere := New(Options{Redis: rdb, PollInterval: 20 * time.Millisecond,
		Settled: func(_ context.Context, ids []string) ([]string, error) {
			mu.Lock()
			defer mu.Unlock()
			var out []string
			for _, id := range ids {
				if settled[id] {
					out = append(out, id)
				}
			}
			return out, nil
		}})
	go here.Run(ctx)
	go elsewhere.Run(ctx)
	time.Sleep(100 * time.Millisecond) // let the subscriptions start

	t.Run("same replica", func(t *testing.T) {
		wake, stop := here.Watch("a")
		defer stop()
		here.Notify(ctx, "a")
		if !woken(t, wake, time.Second) {
			t.Error("not woken")
		}
	})
	t.Run("another replica, through Redis", func(t *testing.T) {
		id := rand.Text()
		wake, stop := elsewhere.Watch(id)
		defer stop()
		here.Notify(ctx, id)
		if !woken(t, wake, 2*time.Second) {
			t.Error("not woken")
		}
	})
	t.Run("by polling, with no notification", func(t *testing.T) {
		id := rand.Text()
		wake, stop := elsewhere.Watch(id)
		defer stop()
		if woken(t, wake, 100*time.Millisecond) {
			t.Fatal("woken before anything happened")
		}
		mu.Lock()
		settled[id] = true
		mu.Unlock()
		if !woken(t, wake, 2*time.Second) {
			t.Error("not woken")
		}
	})
	t.Run("stop forgets the watcher", func(t *testing.T) {
		_, stop := here.Watch("b")
		stop()
		if ids := here.watched(); len(ids) != 0 {
			t.Errorf("still watching %v", ids)
		}
	})
}
