package rediscache

import (
	"context"
	"crypto/rand"
	"net/url"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/redis/go-redis/v9"

	"github.com/travluk/ecom/dev/testenv"
	"github.com/travluk/ecom/services/platform/redisconn"
	"github.com/travluk/ecom/services/product/internal/product"
)

// client connects to Redis at addr (host:port) on the database of the
// test Redis URL.
func client(t *testing.T, rawURL, addr string) *redis.Client {
	t.Helper()
	u, err := url.Parse(rawURL)
	if err != nil {
		t.Fatal(err)
	}
	if addr != "" {
		u.Host = addr
	}
	rdb, err := redisconn.Connect(u.String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { rdb.Close() })
	return rdb
}

func newCache(t *testing.T, rdb *redis.Client, prefix string) (*Cache, *prometheus.Registry) {
	t.Helper()
	reg := prometheus.NewRegistry()
	c := New(rdb, Options{TTL: time.Minute, Registerer: reg, KeyPrefix: prefix})
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	go c.Run(ctx)
	return c, reg
}

func uniquePrefix() string { return "test:" + rand.Text()[:10] + ":" }

func sample(version int64, cents int64) *product.Product {
	now := time.Now().UTC().Truncate(time.Millisecond)
	return &product.Product{ID: "65f0c0ffee0000000000abcd", Name: "Lamp", Description: "bright", Price: product.Money(cents),
		Stock: 3, Attributes: product.Attributes{"watts": int64(60), "dimmable": true, "ratio": 0.5, "colour": "red"},
		CreatedAt: now, UpdatedAt: now, Version: version}
}

func mustGet(t *testing.T, c *Cache, id string) (*product.Product, func(context.Context, *product.Product)) {
	t.Helper()
	return c.Get(context.Background(), id)
}

func TestReadThrough(t *testing.T) {
	c, reg := newCache(t, client(t, testenv.Redis(t), ""), uniquePrefix())
	ctx := context.Background()
	p := sample(1, 1999)
	got, fill := mustGet(t, c, p.ID)
	if got != nil || fill == nil {
		t.Fatalf("first Get = %v, fill %v; want a miss with a fill", got, fill != nil)
	}
	fill(ctx, p)
	got, _ = mustGet(t, c, p.ID)
	if got == nil || got.Price != 1999 || got.Version != 1 || got.Attributes["watts"] != int64(60) || got.Attributes["ratio"] != 0.5 {
		t.Fatalf("Get after fill = %+v, want the product", got)
	}
	if !got.CreatedAt.Equal(p.CreatedAt) {
		t.Errorf("createdAt = %v, want %v", got.CreatedAt, p.CreatedAt)
	}
	if hits := testutil.ToFloat64(c.lookups.WithLabelValues("hit")); hits != 1 {
		t.Errorf("hits = %v, want 1", hits)
	}
	if n, err := testutil.GatherAndCount(reg, "product_cache_lookups_total"); err != nil || n != 4 {
		t.Errorf("product_cache_lookups_total series = %d, %v; want 4", n, err)
	}
}

// TestStaleFillRefused is the classic race: a reader loads version 1 from
// the store, a writer stores version 2 and tells the cache, and only then
// does the reader's fill arrive.
func TestStaleFillRefused(t *testing.T) {
	c, _ := newCache(t, client(t, testenv.Redis(t), ""), uniquePrefix())
	ctx := context.Background()
	_, fill := mustGet(t, c, sample(1, 0).ID)
	c.Stored(ctx, sample(2, 2500))
	fill(ctx, sample(1, 1999))
	if got, _ := mustGet(t, c, sample(1, 0).ID); got == nil || got.Version != 2 || got.Price != 2500 {
		t.Fatalf("Get = %+v, want version 2 at 25.00", got)
	}
	// An older writer finishing late does not win either.
	c.Stored(ctx, sample(1, 1999))
	if got, _ := mustGet(t, c, sample(1, 0).ID); got == nil || got.Version != 2 {
		t.Fatalf("Get after a late older write = %+v, want version 2", got)
	}
}

func TestDeleteLeavesTombstone(t *testing.T) {
	c, _ := newCache(t, client(t, testenv.Redis(t), ""), uniquePrefix())
	ctx := context.Background()
	p := sample(3, 1000)
	c.Stored(ctx, p)
	_, fill := mustGet(t, c, "65f0c0ffee0000000000ffff") // unrelated id: a fill bound elsewhere
	_ = fill
	got, _ := mustGet(t, c, p.ID)
	if got == nil {
		t.Fatal("want a hit before delete")
	}
	c.Deleted(ctx, p.ID)
	got, fill = mustGet(t, c, p.ID)
	if got != nil {
		t.Fatalf("Get after delete = %+v, want a miss", got)
	}
	fill(ctx, p) // a reader that read the product before it was deleted
	if got, _ := mustGet(t, c, p.ID); got != nil {
		t.Fatalf("a stale fill revived a deleted product: %+v", got)
	}
}

func TestSlowFillDropped(t *testing.T) {
	c, _ := newCache(t, client(t, testenv.Redis(t), ""), uniquePrefix())
	now := time.Now()
	c.now = func() time.Time { return now }
	_, fill := mustGet(t, c, sample(1, 0).ID)
	now = now.Add(maxFillAge + time.Millisecond)
	fill(context.Background(), sample(1, 1999))
	if got, _ := mustGet(t, c, sample(1, 0).ID); got != nil {
		t.Fatalf("a fill older than maxFillAge was cached: %+v", got)
	}
}

func TestFillRefusedAcrossGenerations(t *testing.T) {
	c, _ := newCache(t, client(t, testenv.Redis(t), ""), uniquePrefix())
	ctx := context.Background()
	_, fill := mustGet(t, c, sample(1, 0).ID)
	c.Uncertain(ctx, sample(1, 0).ID) // bumps the generation
	fill(ctx, sample(1, 1999))
	if got, _ := mustGet(t, c, sample(1, 0).ID); got != nil {
		t.Fatalf("a fill from before the generation bump was cached: %+v", got)
	}
	c.Stored(ctx, sample(2, 2000))
	got, _ := mustGet(t, c, sample(1, 0).ID)
	c.Uncertain(ctx, sample(1, 0).ID)
	if got == nil {
		t.Fatal("want a hit within the generation")
	}
	if got, _ := mustGet(t, c, sample(1, 0).ID); got != nil {
		t.Fatalf("Get after Uncertain = %+v, want a miss", got)
	}
}

func TestIDCannotReachGenerationKey(t *testing.T) {
	c, _ := newCache(t, client(t, testenv.Redis(t), ""), uniquePrefix())
	for _, id := range []string{"gen", "../gen", "id:gen"} {
		got, fill := mustGet(t, c, id)
		if got != nil || fill == nil {
			t.Errorf("Get(%q) = %v, fill %v; want a plain miss", id, got, fill != nil)
		}
	}
	if c.now().UnixNano() < c.openUntil.Load() {
		t.Error("a client-chosen id opened the breaker")
	}
}

// TestOutage cuts one replica (a) off Redis while another (b) still
// reaches it. a's write cannot tell the cache; a bypasses the cache
// meanwhile, and as soon as Redis answers it again it bumps the
// generation, so b stops serving the old version.
func TestOutage(t *testing.T) {
	raw := testenv.Redis(t)
	u, _ := url.Parse(raw)
	proxy := testenv.NewTCPProxy(t, u.Host)
	prefix := uniquePrefix()
	a, _ := newCache(t, client(t, raw, proxy.Addr()), prefix)
	b, _ := newCache(t, client(t, raw, ""), prefix)
	ctx := context.Background()
	id := sample(1, 0).ID

	a.Stored(ctx, sample(1, 1000))
	if got, _ := b.Get(ctx, id); got == nil || got.Version != 1 {
		t.Fatalf("b.Get = %+v, want version 1", got)
	}

	proxy.Cut()
	began := time.Now()
	a.Stored(ctx, sample(2, 2000)) // the store already holds version 2
	if took := time.Since(began); took > time.Second {
		t.Errorf("Stored took %v with Redis away, want well under 1s", took)
	}
	if !a.owed.Load() {
		t.Fatal("a failed invalidation was not remembered")
	}
	if got, fill := a.Get(ctx, id); got != nil || fill != nil {
		t.Errorf("a.Get during the outage = %+v (fill %v), want a bypass", got, fill != nil)
	}
	// The documented residual window: b still sees version 1 while a is cut off.
	if got, _ := b.Get(ctx, id); got == nil || got.Version != 1 {
		t.Logf("b.Get during a's outage = %+v", got)
	}

	proxy.Restore()
	restored := time.Now()
	for {
		got, _ := b.Get(ctx, id)
		if got == nil || got.Version >= 2 {
			break
		}
		if time.Since(restored) > 3*time.Second {
			t.Fatalf("b still serves version %d 3s after Redis came back", got.Version)
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Logf("stale entry dropped %v after Redis came back", time.Since(restored).Round(time.Millisecond))
	// a uses the cache again once it has paid.
	deadline := time.Now().Add(3 * time.Second)
	for a.owed.Load() || a.now().UnixNano() < a.openUntil.Load() {
		if time.Now().After(deadline) {
			t.Fatal("a did not recover within 3s")
		}
		time.Sleep(20 * time.Millisecond)
	}
	_, fill := a.Get(ctx, id)
	if fill == nil {
		t.Fatal("a.Get after recovery: want a miss with a fill")
	}
	fill(ctx, sample(2, 2000))
	if got, _ := b.Get(ctx, id); got == nil || got.Version != 2 {
		t.Fatalf("b.Get after a's fill = %+v, want version 2", got)
	}
}

func TestHitsAreCopies(t *testing.T) {
	c, _ := newCache(t, client(t, testenv.Redis(t), ""), uniquePrefix())
	c.Stored(context.Background(), sample(1, 1999))
	first, _ := mustGet(t, c, sample(1, 0).ID)
	if first == nil {
		t.Fatal("want a hit")
	}
	first.Price, first.Name = 1, "changed by a caller"
	if got, _ := mustGet(t, c, sample(1, 0).ID); got == nil || got.Price != 1999 || got.Name != "Lamp" {
		t.Fatalf("second hit = %+v, want the cached product untouched", got)
	}
}

// TestEntryOfAnotherFormat: an entry key holding a hash (the format before
// entries were strings, during a rolling update) reads as a miss, and a
// write that cannot replace it bumps the generation.
func TestEntryOfAnotherFormat(t *testing.T) {
	rdb := client(t, testenv.Redis(t), "")
	prefix := uniquePrefix()
	c, _ := newCache(t, rdb, prefix)
	ctx := context.Background()
	id := sample(1, 0).ID
	if err := rdb.HSet(ctx, prefix+"id:"+id, "g", "0", "v", "1", "b", encode(sample(1, 1999))).Err(); err != nil {
		t.Fatal(err)
	}
	if got, fill := mustGet(t, c, id); got != nil || fill == nil {
		t.Fatalf("Get of a hash entry = %+v (fill %v), want a miss with a fill", got, fill != nil)
	}
	if c.now().UnixNano() < c.openUntil.Load() {
		t.Fatal("a hash entry opened the breaker on lookup")
	}
	c.Stored(ctx, sample(2, 2500))
	deadline := time.Now().Add(3 * time.Second)
	for {
		gen, _ := rdb.Get(ctx, prefix+"gen").Result()
		if gen != "" && gen != "0" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("a write that could not replace a hash entry did not bump the generation")
		}
		time.Sleep(20 * time.Millisecond)
	}
}
