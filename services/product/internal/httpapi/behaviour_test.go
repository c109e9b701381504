package httpapi

import (
	"fmt"
	"math/rand/v2"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/travluk/ecom/dev/testenv"
)

// TestPagingUnderConcurrentWrites pages through the catalog in every
// order while another goroutine keeps adding and deleting other products.
// Every product that existed throughout and was never touched must appear
// exactly once, in order; nothing may appear twice.
func TestPagingUnderConcurrentWrites(t *testing.T) {
	e := newEnv(t, envOptions{})
	words := []string{"anchor", "Bottle", "candle", "Drum", "easel"}
	var stable []apiProduct
	for i := range 40 {
		// Names and prices repeat, so ties (broken by id) are common.
		name := fmt.Sprintf("%s %d", words[i%len(words)], i%4)
		stable = append(stable, e.create(name, fmt.Sprintf("%d.%02d", i%6+1, (i%3)*25), i%3))
	}
	stableIDs := map[string]bool{}
	for _, p := range stable {
		stableIDs[p.ID] = true
	}

	for _, sort := range []string{"createdAt", "-createdAt", "price", "-price", "name", "-name"} {
		t.Run(sort, func(t *testing.T) {
			stop := make(chan struct{})
			var churned atomic.Int64
			var wg sync.WaitGroup
			for w := range 2 {
				wg.Go(func() {
					rng := rand.New(rand.NewPCG(uint64(w)+1, 2))
					var live []string
					for {
						select {
						case <-stop:
							return
						default:
						}
						name := fmt.Sprintf("%s churn %d", words[rng.IntN(len(words))], rng.IntN(4))
						p := e.create(name, fmt.Sprintf("%d.%02d", rng.IntN(7)+1, rng.IntN(4)*25), rng.IntN(3))
						live = append(live, p.ID)
						if len(live) > 3 {
							victim := live[rng.IntN(len(live))]
							live = slices.DeleteFunc(live, func(id string) bool { return id == victim })
							if r := e.do(req{method: "DELETE", path: "/api/products/" + victim, token: e.admin}); r.status != http.StatusNoContent {
								t.Errorf("churn delete: %s", r)
								return
							}
						}
						churned.Add(1)
					}
				})
			}

			seen := map[string]int{}
			var order []apiProduct
			cursor := ""
			for pages := 0; ; pages++ {
				if pages > 200 {
					t.Fatal("paging did not end")
				}
				page := e.list("limit=7&sort=" + sort + "&cursor=" + cursor)
				for _, p := range page.Items {
					seen[p.ID]++
					if stableIDs[p.ID] {
						order = append(order, p)
					}
				}
				if page.NextCursor == "" {
					break
				}
				cursor = page.NextCursor
				time.Sleep(15 * time.Millisecond) // let the churn interleave
			}
			close(stop)
			wg.Wait()
			t.Logf("%d products added and deleted while paging", churned.Load())

			for id, n := range seen {
				if n != 1 {
					t.Errorf("product %s listed %d times", id, n)
				}
			}
			for id := range stableIDs {
				if seen[id] != 1 {
					t.Errorf("stable product %s listed %d times, want once", id, seen[id])
				}
			}
			want := slices.Clone(stable)
			slices.SortStableFunc(want, func(a, b apiProduct) int { return compareBy(sort, a, b) })
			var gotIDs, wantIDs []string
			for i := range want {
				wantIDs = append(wantIDs, want[i].ID)
			}
			for _, p := range order {
				gotIDs = append(gotIDs, p.ID)
			}
			if !slices.Equal(gotIDs, wantIDs) {
				t.Errorf("stable products out of order for sort %s", sort)
			}
		})
	}
}

// compareBy orders like the service: the key, then the id (hex ObjectIDs
// compare like the ids themselves), reversed for "-" orders.
func compareBy(sort string, a, b apiProduct) int {
	var c int
	switch strings.TrimPrefix(sort, "-") {
	case "price":
		c = cents(a.Price.String()) - cents(b.Price.String())
	case "name":
		c = strings.Compare(strings.ToLower(a.Name), strings.ToLower(b.Name))
	default:
		c = a.CreatedAt.Compare(b.CreatedAt)
	}
	if c == 0 {
		c = strings.Compare(a.ID, b.ID)
	}
	if strings.HasPrefix(sort, "-") {
		c = -c
	}
	return c
}

func cents(price string) int {
	var whole, frac int
	fmt.Sscanf(price, "%d.%d", &whole, &frac)
	return whole*100 + frac
}

// TestReadAfterWriteShowsNewPrice fills the cache, changes the price, and
// expects the very next read to show it, again and again.
func TestReadAfterWriteShowsNewPrice(t *testing.T) {
	e := newEnv(t, envOptions{})
	p := e.create("Cached Lamp", "10.00", 1)
	for i := range 20 {
		e.get(p.ID)
		e.get(p.ID) // a hit
		price := fmt.Sprintf("%d.99", 11+i)
		if r := e.do(req{method: "PUT", path: "/api/products/" + p.ID, token: e.admin, body: `{"price":` + price + `}`}); r.status != http.StatusOK {
			t.Fatalf("update: %s", r)
		}
		if got, _ := e.get(p.ID); got.Price.String() != price {
			t.Fatalf("read after write #%d shows %s, want %s", i, got.Price, price)
		}
	}
	if hits := testutil.ToFloat64(mustCounter(t, e, "hit")); hits < 20 {
		t.Errorf("cache hits = %v, want at least 20: the cache is not being used", hits)
	}
	r := e.do(req{method: "DELETE", path: "/api/products/" + p.ID, token: e.admin})
	if r.status != http.StatusNoContent {
		t.Fatal(r)
	}
	if _, r := e.get(p.ID); r.status != http.StatusNotFound {
		t.Errorf("read after delete: %s", r)
	}
}

// TestConcurrentReadersNeverSeeAnOverwrittenPrice races many readers
// against a writer: any read that starts after a write returned must show
// that write or a later one, with the price that version was given.
func TestConcurrentReadersNeverSeeAnOverwrittenPrice(t *testing.T) {
	e := newEnv(t, envOptions{})
	p := e.create("Racy Kettle", "100.00", 1)
	priceOf := func(version int64) string { return fmt.Sprintf("%d.00", 100+version-1) }
	var returned atomic.Int64
	returned.Store(1)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	var reads atomic.Int64
	for range 8 {
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				floor := returned.Load()
				got, r := e.get(p.ID)
				if r.status != http.StatusOK {
					t.Errorf("read: %s", r)
					return
				}
				reads.Add(1)
				if got.Version < floor {
					t.Errorf("read started after version %d returned shows version %d", floor, got.Version)
					return
				}
				if got.Price.String() != priceOf(got.Version) {
					t.Errorf("version %d shows price %s, want %s", got.Version, got.Price, priceOf(got.Version))
					return
				}
			}
		})
	}
	for v := int64(2); v <= 40; v++ {
		r := e.do(req{method: "PUT", path: "/api/products/" + p.ID, token: e.admin, body: `{"price":` + priceOf(v) + `}`})
		if r.status != http.StatusOK {
			t.Fatalf("update: %s", r)
		}
		returned.Store(v)
		time.Sleep(time.Millisecond)
	}
	close(stop)
	wg.Wait()
	t.Logf("%d reads raced 39 writes", reads.Load())
}

// TestCacheRedisAway cuts the cache's Redis (sessions stay reachable, as
// if only the cache's connection broke): reads and writes go on, and when
// Redis is back no entry from before the write is served.
func TestCacheRedisAway(t *testing.T) {
	proxy := testenv.NewTCPProxy(t, hostOf(t, testenv.Redis(t)))
	e := newEnv(t, envOptions{cacheAddr: proxy.Addr()})
	p := e.create("Outage Mug", "10.00", 5)
	e.get(p.ID)
	if got, _ := e.get(p.ID); got.Price.String() != "10.00" {
		t.Fatalf("before the outage: %+v", got)
	}

	proxy.Cut()
	began := time.Now()
	r := e.do(req{method: "PUT", path: "/api/products/" + p.ID, token: e.admin, body: `{"price":20}`})
	if r.status != http.StatusOK {
		t.Fatalf("write with the cache away: %s", r)
	}
	for range 5 {
		if got, r := e.get(p.ID); got.Price.String() != "20.00" {
			t.Fatalf("read with the cache away: %s", r)
		}
	}
	if page := e.list(""); len(page.Items) != 1 {
		t.Errorf("list with the cache away: %+v", page)
	}
	if took := time.Since(began); took > 3*time.Second {
		t.Errorf("a write and six reads took %v with Redis away; want fast bypass", took)
	}

	proxy.Restore()
	restored := time.Now()
	hitsBefore := testutil.ToFloat64(mustCounter(t, e, "hit"))
	for testutil.ToFloat64(mustCounter(t, e, "hit")) == hitsBefore {
		if time.Since(restored) > 5*time.Second {
			t.Fatal("the cache was not used again within 5s of Redis coming back")
		}
		if got, _ := e.get(p.ID); got.Price.String() != "20.00" {
			t.Fatalf("after Redis came back: price %s, want 20.00", got.Price)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if got, _ := e.get(p.ID); got.Price.String() != "20.00" {
		t.Errorf("cached after recovery: price %s", got.Price)
	}
}

// TestMongoAway: without MongoDB, reads of uncached products and every
// write answer 503 with Retry-After and no internals; cached products are
// still served; everything works again once MongoDB is back.
func TestMongoAway(t *testing.T) {
	proxy := testenv.NewTCPProxy(t, hostOf(t, testenv.Mongo(t)))
	e := newEnv(t, envOptions{mongoAddr: proxy.Addr()})
	p := e.create("Sturdy Table", "99.00", 1)
	e.get(p.ID) // cached

	proxy.Cut()
	checks := []req{
		{method: "GET", path: "/api/products"},
		{method: "GET", path: "/api/products/65f0c0ffee0000000000abcd"},
		{method: "POST", path: "/api/products", token: e.admin, body: `{"name":"X","description":"","price":1,"stock":1}`},
		{method: "PUT", path: "/api/products/" + p.ID, token: e.admin, body: `{"price":1}`},
		{method: "DELETE", path: "/api/products/" + p.ID, token: e.admin},
	}
	var wg sync.WaitGroup
	for _, c := range checks {
		wg.Go(func() {
			r := e.do(c)
			if r.status != http.StatusServiceUnavailable || r.header.Get("Retry-After") == "" || strings.Contains(string(r.body), "127.0.0.1") {
				t.Errorf("%s %s with MongoDB away: %s (Retry-After %q)", c.method, c.path, r, r.header.Get("Retry-After"))
			}
		})
	}
	wg.Wait()

	proxy.Restore()
	deadline := time.Now().Add(10 * time.Second)
	for {
		got, r := e.get(p.ID)
		if r.status == http.StatusOK {
			// The failed PUT may or may not have reached MongoDB; either
			// way the read shows what MongoDB holds.
			if got.Price.String() != "99.00" && got.Price.String() != "1.00" {
				t.Errorf("after MongoDB came back: %+v", got)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("not serving 10s after MongoDB came back: %s", r)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
