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

// mgetHook counts the MGETs a client sends; the first hold of them wait
// until release is closed, and fail makes every MGET after those fail
// without reaching Redis.
type mgetHook struct {
	mgets   atomic.Int32
	keys    []int // keys of each MGET, in order
	mu      sync.Mutex
	hold    int32
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
		if n <= h.hold {
			<-h.release
		}
		if n > h.hold && h.fail {
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

// holdFirstMGETs starts Gets of distinct products while the first
// maxInFlight MGETs are held, and releases them once the other lookups
// have queued behind them. It returns what each Get answered.
func holdFirstMGETs(t *testing.T, c *Cache, hook *mgetHook, ids []string) []*product.Product {
	t.Helper()
	got := make([]*product.Product, len(ids))
	var wg sync.WaitGroup
	for i, id := range ids {
		wg.Go(func() { got[i], _ = c.Get(context.Background(), id) })
	}
	deadline := time.Now().Add(10 * time.Second)
	for c.batcher.queued() < len(ids)-maxInFlight {
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d lookups queued behind the held MGETs", c.batcher.queued(), len(ids)-maxInFlight)
		}
		time.Sleep(time.Millisecond)
	}
	close(hook.release)
	wg.Wait()
	return got
}

func TestConcurrentLookupsShareOneMGET(t *testing.T) {
	rdb := client(t, testenv.Redis(t), "")
	hook := &mgetHook{hold: maxInFlight, release: make(chan struct{})}
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

	got := holdFirstMGETs(t, c, hook, ids)

	for i, p := range got {
		if p == nil || p.ID != ids[i] || p.Price != product.Money(100+i) {
			t.Fatalf("reader %d got %+v, want its own product %s at %d cents", i, p, ids[i], 100+i)
		}
	}
	// The first readers' MGETs, then one for all that queued behind them.
	if n := hook.mgets.Load(); n != maxInFlight+1 {
		t.Errorf("%d readers sent %d MGETs (keys each: %v), want %d: the held ones and one for all that queued", readers, n, hook.keys, maxInFlight+1)
	}
	if hits := testutil.ToFloat64(c.hits); hits != readers {
		t.Errorf("hits = %v, want %d", hits, readers)
	}
}

func TestSharedMGETFailureReachesEveryReader(t *testing.T) {
	rdb := client(t, testenv.Redis(t), "")
	hook := &mgetHook{hold: maxInFlight, release: make(chan struct{}), fail: true}
	rdb.AddHook(hook)
	c, _ := newCache(t, rdb, uniquePrefix())

	ids := make([]string, 10)
	for i := range ids {
		ids[i] = fmt.Sprintf("65f0c0ffee00000000%06d", i)
	}
	got := holdFirstMGETs(t, c, hook, ids)

	for i, p := range got {
		if p != nil {
			t.Errorf("reader %d got %+v, want nothing: a miss or a failed MGET", i, p)
		}
	}
	// The held MGETs succeeded (misses); the shared one failed for the rest.
	if errs, want := testutil.ToFloat64(c.lookupErrs), float64(len(ids)-maxInFlight); errs != want {
		t.Errorf("lookup errors = %v, want %v: every reader of the failed MGET counts one", errs, want)
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

// TestReadNotStalledBehindSlowMGET holds one MGET and checks that another
// read is still answered: while a round trip is out, a second one may go.
func TestReadNotStalledBehindSlowMGET(t *testing.T) {
	rdb := client(t, testenv.Redis(t), "")
	hook := &mgetHook{hold: 1, release: make(chan struct{})}
	rdb.AddHook(hook)
	c, _ := newCache(t, rdb, uniquePrefix())
	slow, fast := sample(1, 100), sample(1, 200)
	slow.ID, fast.ID = "65f0c0ffee00000000000001", "65f0c0ffee00000000000002"
	c.Stored(context.Background(), slow)
	c.Stored(context.Background(), fast)
	hook.mgets.Store(0)

	held := make(chan *product.Product, 1)
	go func() {
		p, _ := c.Get(context.Background(), slow.ID)
		held <- p
	}()
	for hook.mgets.Load() < 1 {
		time.Sleep(time.Millisecond)
	}
	answered := make(chan *product.Product, 1)
	go func() {
		p, _ := c.Get(context.Background(), fast.ID)
		answered <- p
	}()
	select {
	case p := <-answered:
		if p == nil || p.ID != fast.ID {
			t.Errorf("second read got %+v, want product %s", p, fast.ID)
		}
	case <-time.After(5 * time.Second):
		t.Error("a read waited for another read's held MGET")
	}
	close(hook.release)
	if p := <-held; p == nil || p.ID != slow.ID {
		t.Errorf("held read got %+v, want product %s", p, slow.ID)
	}
}
