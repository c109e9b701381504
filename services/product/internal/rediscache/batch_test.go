package rediscache

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/redis/go-redis/v9"

	"github.com/travluk/ecom/dev/testenv"
	"github.com/travluk/ecom/services/product/internal/product"
)

// mgetHook counts the MGETs a client sends; while hold is set, the first one
// waits until release is closed, and fail makes every MGET after the first
// fail without reaching Redis.
type mgetHook struct {
	mgets   atomic.Int32
	keys    []int // keys of each MGET, in order
	mu      sync.Mutex
	hold    bool
	release chan struct{}
	fail    bool
}

func (h *mgetHook) DialHook(next redis.DialHook) redis.DialHook { return next }
func (h *mgetHook) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return next
}

func (h *mgetHook) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		if !strings.EqualFold(cmd.Name(), "mget") {
			return next(ctx, cmd)
		}
		n := h.mgets.Add(1)
		h.mu.Lock()
		h.keys = append(h.keys, len(cmd.Args())-1)
		h.mu.Unlock()
		if n == 1 && h.hold {
			<-h.release
		}
		if n > 1 && h.fail {
			err := errors.New("injected: connection reset")
			cmd.SetErr(err)
			return err
		}
		return next(ctx, cmd)
	}
}

// queued returns how many lookups wait for the next MGET.
func (b *lookupBatcher) queued() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return len(b.queue)
}

// holdFirstMGET starts readers Gets of distinct products while the first
// MGET is held, and releases it once the other readers-1 lookups have
// queued behind it. It returns what each Get answered.
func holdFirstMGET(t *testing.T, c *Cache, hook *mgetHook, ids []string) []*product.Product {
	t.Helper()
	got := make([]*product.Product, len(ids))
	var wg sync.WaitGroup
	for i, id := range ids {
		wg.Go(func() { got[i], _ = c.Get(context.Background(), id) })
	}
	deadline := time.Now().Add(10 * time.Second)
	for c.batcher.queued() < len(ids)-1 {
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d lookups queued behind the held MGET", c.batcher.queued(), len(ids)-1)
		}
		time.Sleep(time.Millisecond)
	}
	close(hook.release)
	wg.Wait()
	return got
}

func TestConcurrentLookupsShareOneMGET(t *testing.T) {
	rdb := client(t, testenv.Redis(t), "")
	hook := &mgetHook{hold: true, release: make(chan struct{})}
	rdb.AddHook(hook)
	c, _ := newCache(t, rdb, uniquePrefix())

	const readers = 40
	ids := make([]string, readers)
	for i := range ids {
		p := sample(1, int64(100+i))
		p.ID = fmt.Sprintf("65f0c0ffee00000000%06d", i)
		ids[i] = p.ID
		c.Stored(context.Background(), p)
	}
	hook.mgets.Store(0)
	hook.keys = nil

	got := holdFirstMGET(t, c, hook, ids)

	for i, p := range got {
		if p == nil || p.ID != ids[i] || p.Price != product.Money(100+i) {
			t.Fatalf("reader %d got %+v, want its own product %s at %d cents", i, p, ids[i], 100+i)
		}
	}
	// The first reader's MGET, then one for the 39 that queued behind it.
	if n := hook.mgets.Load(); n != 2 {
		t.Errorf("%d readers sent %d MGETs (keys each: %v), want 2: the held one and one for all that queued", readers, n, hook.keys)
	}
	if hits := testutil.ToFloat64(c.hits); hits != readers {
		t.Errorf("hits = %v, want %d", hits, readers)
	}
}

func TestSharedMGETFailureReachesEveryReader(t *testing.T) {
	rdb := client(t, testenv.Redis(t), "")
	hook := &mgetHook{hold: true, release: make(chan struct{}), fail: true}
	rdb.AddHook(hook)
	c, _ := newCache(t, rdb, uniquePrefix())

	ids := make([]string, 10)
	for i := range ids {
		ids[i] = fmt.Sprintf("65f0c0ffee00000000%06d", i)
	}
	got := holdFirstMGET(t, c, hook, ids)

	for i, p := range got[1:] {
		if p != nil {
			t.Errorf("reader %d got %+v from a failed MGET", i+1, p)
		}
	}
	// The held MGET succeeded (a miss); the shared one failed for the 9.
	if errs := testutil.ToFloat64(c.lookupErrs); errs != 9 {
		t.Errorf("lookup errors = %v, want 9: every reader of the failed MGET counts one", errs)
	}
	if p, fill := c.Get(context.Background(), ids[0]); p != nil || fill != nil {
		t.Errorf("Get right after the failure = %v, fill %v; want the cache bypassed (breaker open)", p, fill != nil)
	}
}

// TestLookupsUnderLoadAnswerEveryReaderItsOwn keeps many readers going at
// once, so that MGETs are handed from reader to reader, and checks each
// answer; run with -race it also checks the hand-offs.
func TestLookupsUnderLoadAnswerEveryReaderItsOwn(t *testing.T) {
	c, _ := newCache(t, client(t, testenv.Redis(t), ""), uniquePrefix())
	const products, readers, reads = 16, 32, 50
	for i := range products {
		p := sample(1, int64(1000+i))
		p.ID = fmt.Sprintf("65f0c0ffee00000000%06d", i)
		c.Stored(context.Background(), p)
	}
	var wrong atomic.Int32
	var wg sync.WaitGroup
	for r := range readers {
		wg.Go(func() {
			for n := range reads {
				i := (r + n) % products
				p, _ := c.Get(context.Background(), fmt.Sprintf("65f0c0ffee00000000%06d", i))
				if p == nil || p.Price != product.Money(1000+i) {
					wrong.Add(1)
				}
			}
		})
	}
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		t.Fatal("readers still waiting after 30 s: an MGET hand-off was lost")
	}
	if n := wrong.Load(); n != 0 {
		t.Errorf("%d of %d reads answered another product or none", n, readers*reads)
	}
}
