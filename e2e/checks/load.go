package main

import (
	"fmt"
	"net/http"
	"sort"
	"strings"
	"sync"
	"time"
)

// traffic is a bounded, paced mix of what clients do: catalog reads, profile
// and order reads, and buys of one unit.
type traffic struct {
	shop     *shop
	tokens   []string
	products []string
	workers  int
	withBuys bool
	onlyBuys bool
}

// result is what one run of traffic saw.
type result struct {
	sent     int
	failures map[string]int // by cause: "GET /api/orders: 503", ...
	orders   []string       // orders named by 2xx buys
}

func (r result) failed() int {
	n := 0
	for _, c := range r.failures {
		n += c
	}
	return n
}

func (r result) String() string {
	causes := make([]string, 0, len(r.failures))
	for c, n := range r.failures {
		causes = append(causes, fmt.Sprintf("%dx %s", n, c))
	}
	sort.Strings(causes)
	return fmt.Sprintf("%d requests, %d failed, %d orders [%s]", r.sent, r.failed(), len(r.orders), strings.Join(causes, "; "))
}

// run sends total requests evenly over the duration, then waits for the
// last answers.
func (tr traffic) run(total int, over time.Duration) result {
	jobs := make(chan int)
	var mu sync.Mutex
	res := result{failures: make(map[string]int)}
	var wg sync.WaitGroup
	for range tr.workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range jobs {
				cause, orderID := tr.one(i)
				mu.Lock()
				res.sent++
				if cause != "" {
					res.failures[cause]++
				}
				if orderID != "" {
					res.orders = append(res.orders, orderID)
				}
				mu.Unlock()
			}
		}()
	}
	tick := time.NewTicker(over / time.Duration(total))
	for i := range total {
		<-tick.C
		jobs <- i
	}
	tick.Stop()
	close(jobs)
	wg.Wait()
	return res
}

// one sends request i and returns why it failed ("" when it did not) and
// the order a buy made.
func (tr traffic) one(i int) (cause, orderID string) {
	token := tr.tokens[i%len(tr.tokens)]
	kind := i % 4
	if tr.onlyBuys {
		kind = 3
	} else if kind == 3 && !tr.withBuys {
		kind = i % 3
	}
	var a answer
	var what string
	switch kind {
	case 0:
		what = "GET /api/products"
		a = tr.shop.do("GET", "/api/products?limit=5", "", nil)
	case 1:
		what = "GET /api/customers/me"
		a = tr.shop.do("GET", "/api/customers/me", token, nil)
	case 2:
		what = "GET /api/orders"
		a = tr.shop.do("GET", "/api/orders?limit=5", token, nil)
	default:
		what = "POST /api/products/buy"
		a, orderID = tr.shop.buy(token, line{ProductID: tr.products[(i/4)%len(tr.products)], Quantity: 1})
		if orderID != "" {
			return "", orderID
		}
	}
	switch {
	case a.err != nil:
		return what + ": " + shortError(a.err), ""
	case a.status != http.StatusOK:
		return fmt.Sprintf("%s: %d", what, a.status), ""
	}
	return "", ""
}

func shortError(err error) string {
	s := err.Error()
	if i := strings.LastIndex(s, ": "); i >= 0 {
		return s[i+2:]
	}
	return s
}

// ledger holds what the checks bought, to settle against the catalog.
type ledger struct {
	initial map[string]int64 // product -> stock at creation
	orders  map[string]bool  // every order a 2xx buy named
}

// settled checks that every order a 2xx buy named is confirmed and that, per
// product, the stock left plus the units of those orders is the initial
// stock: nothing lost, nothing doubled, nothing oversold.
func (l ledger) settled(s *shop, admin string) error {
	units := make(map[string]int64)
	for id := range l.orders {
		o, err := s.order(admin, id)
		if err != nil {
			return err
		}
		if o.Status != "confirmed" {
			return fmt.Errorf("order %s is %s, want confirmed", id, o.Status)
		}
		for _, it := range o.Items {
			units[it.ProductID] += it.Quantity
		}
	}
	for id, initial := range l.initial {
		p, err := s.product(id)
		if err != nil {
			return err
		}
		if p.Stock < 0 || p.Stock+units[id] != initial {
			return fmt.Errorf("product %s: stock %d + %d units in confirmed orders != the initial %d", id, p.Stock, units[id], initial)
		}
	}
	return nil
}
