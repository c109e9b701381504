package main

import (
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/travluk/ecom/dev/loadgen"
)

func TestCheckStock(t *testing.T) {
	products := []benchProduct{{id: "a", stock: 100}, {id: "b", stock: 100}, {id: "c", stock: 100}, {id: "d", stock: 100}}
	docs := map[string]stockDoc{
		"a": {Stock: 90, Reserved: 0, Sold: 10}, // fine
		"b": {Stock: 95, Reserved: 2, Sold: 3},  // fine, 2 still reserved
		"c": {Stock: 99, Reserved: 0, Sold: 2},  // one unit too many
		// d has no document
	}
	units := map[int]int64{0: 10, 1: 4, 2: 2} // b: one unit more sold than answered
	r := checkStock(products, docs, units)
	if r.products != 4 || r.missing != 1 {
		t.Errorf("products %d, missing %d; want 4, 1", r.products, r.missing)
	}
	if len(r.broken) != 2 { // c and d
		t.Errorf("broken = %q, want c's sum and d's absence", r.broken)
	}
	if len(r.unmatched) != 1 { // b: 5 out, 4 answered
		t.Errorf("unmatched = %q, want b only", r.unmatched)
	}
	if r.sold != 15 || r.reserved != 2 {
		t.Errorf("sold %d, reserved %d; want 15, 2", r.sold, r.reserved)
	}

	clean := checkStock(products[:2], map[string]stockDoc{"a": {Stock: 90, Sold: 10}, "b": {Stock: 100}}, map[int]int64{0: 10})
	if len(clean.broken) != 0 || len(clean.unmatched) != 0 || clean.missing != 0 {
		t.Errorf("consistent data reported as broken: %+v", clean)
	}
}

func TestPickBasket(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	sizes := map[int]bool{}
	for range 2000 {
		b := pickBasket(rng, 5)
		sizes[len(b)] = true
		if len(b) < 1 || len(b) > maxBasketLines {
			t.Fatalf("basket of %d lines", len(b))
		}
		seen := map[int]bool{}
		for _, l := range b {
			if l.product < 0 || l.product >= 5 || seen[l.product] {
				t.Fatalf("bad or repeated product in %+v", b)
			}
			seen[l.product] = true
			if l.quantity < 1 || l.quantity > maxLineQuantity {
				t.Fatalf("quantity %d", l.quantity)
			}
		}
	}
	if len(sizes) != maxBasketLines {
		t.Errorf("basket sizes seen %v, want 1..%d", sizes, maxBasketLines)
	}
	if b := pickBasket(rng, 1); len(b) != 1 || b[0].product != 0 {
		t.Errorf("one-product catalog: %+v", b)
	}
}

func TestDiffIDs(t *testing.T) {
	missing, extra := diffIDs([]string{"1", "2", "3", "3"}, []string{"3", "2", "4"})
	if !slices.Equal(missing, []string{"1", "3"}) || !slices.Equal(extra, []string{"4"}) {
		t.Errorf("missing %q, extra %q", missing, extra)
	}
}

func TestOrderChecks(t *testing.T) {
	res := func(requests, errs uint64, d time.Duration, lat time.Duration) loadgen.Result {
		h := new(loadgen.Histogram)
		for range requests {
			h.Record(lat)
		}
		return loadgen.Result{Conns: 8, Duration: d, Requests: requests, Errors: errs, Latency: h}
	}
	s := &orders{}
	got := s.checks(map[string]loadgen.Result{
		"writes": res(6000, 0, 10*time.Second, 2*time.Millisecond), // 600 writes/s: 100 orders/s wanted
		"buy":    res(2000, 0, 20*time.Second, 10*time.Millisecond),
	})
	verdicts := map[string]string{}
	for _, c := range got {
		verdicts[c.What] = c.Got + " " + c.verdict()
	}
	for what, want := range map[string]string{
		"orders/s ÷ (writes/s ÷ 6)": "1.00 ok",
		"buy p50":                   "10.0 ms ok",
		"buy errors (not 201/202)":  "0 ok",
	} {
		if verdicts[what] != want {
			t.Errorf("%s: got %q, want %q", what, verdicts[what], want)
		}
	}
	slow := s.checks(map[string]loadgen.Result{
		"writes": res(6000, 0, 10*time.Second, 2*time.Millisecond),
		"buy":    res(1000, 10, 20*time.Second, 150*time.Millisecond),
	})
	for _, c := range slow {
		if (c.What == "buy p99" || c.What == "orders/s ÷ (writes/s ÷ 6)" || c.What == "buy errors (not 201/202)") && c.verdict() != "MISSED" {
			t.Errorf("%s: %s %s, want MISSED", c.What, c.Got, c.verdict())
		}
	}
}
