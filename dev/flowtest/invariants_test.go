package flowtest

import (
	"fmt"
	"slices"
	"sort"
	"strings"
)

// settlement is the state of a shop once its flow has come to rest, as the
// order API and the product store show it.
type settlement struct {
	orders     int      // orders listed by the order API
	unclaimed  []string // orders no 2xx answer named (a buy cut by a crash may still make one)
	stock      map[string][3]int64
	purchases  map[string]int // by status
	rolledBack int            // purchases the sweeper rolled back (rejected, reason timeout)
}

func (st settlement) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%d orders, %d not named by a 2xx answer; purchases %v (%d rolled back by the sweeper); stock+reserved+sold:",
		st.orders, len(st.unclaimed), st.purchases, st.rolledBack)
	ids := make([]string, 0, len(st.stock))
	for id := range st.stock {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	for _, id := range ids {
		v := st.stock[id]
		fmt.Fprintf(&b, " %s…=%d+%d+%d", id[len(id)-4:], v[0], v[1], v[2])
	}
	return b.String()
}

// settled checks the invariants of DESIGN §3 once the flow is at rest and
// returns an error naming the first one that does not hold yet (callers
// poll it with eventually):
//
//   - every order is confirmed, and each 2xx answer named exactly one of
//     them (answered);
//   - per product, initial stock = stock + reserved + sold, with nothing
//     reserved and no reservation marker left;
//   - per product, sold = the units of its lines over every order;
//   - every purchase is at rest (confirmed or rejected), and the confirmed
//     ones are exactly the orders.
func (s *shop) settled(admin string, initial map[string]int64, answered map[string]bool) (settlement, error) {
	st := settlement{stock: make(map[string][3]int64), purchases: make(map[string]int)}
	orders := s.orders(admin)
	st.orders = len(orders)
	seen := make(map[string]bool)
	units := make(map[string]int64)
	for _, o := range orders {
		if seen[o.ID] {
			return st, fmt.Errorf("order %s listed twice", o.ID)
		}
		seen[o.ID] = true
		if o.Status != "confirmed" {
			return st, fmt.Errorf("order %s is %s, want confirmed", o.ID, o.Status)
		}
		if !answered[o.ID] {
			st.unclaimed = append(st.unclaimed, o.ID)
		}
		for _, it := range o.Items {
			units[it.ProductID] += it.Quantity
		}
	}
	for id := range answered {
		if !seen[id] {
			return st, fmt.Errorf("buy answered 2xx with order %s, which the order service does not have (of %d orders)", id, len(orders))
		}
	}

	products, purchases := s.stores()
	for id, want := range initial {
		p, ok := products[id]
		if !ok {
			return st, fmt.Errorf("product %s is gone", id)
		}
		st.stock[id] = [3]int64{p.Stock, p.Reserved, p.Sold}
		if got := p.Stock + p.Reserved + p.Sold; got != want || p.Stock < 0 {
			return st, fmt.Errorf("product %s: stock %d + reserved %d + sold %d = %d, want the initial %d", id, p.Stock, p.Reserved, p.Sold, got, want)
		}
		if p.Reserved != 0 || len(p.Reservations) != 0 {
			return st, fmt.Errorf("product %s still has %d reserved (%d reservations)", id, p.Reserved, len(p.Reservations))
		}
		if p.Sold != units[id] {
			return st, fmt.Errorf("product %s: sold %d, but the orders hold %d units of it", id, p.Sold, units[id])
		}
	}
	for id, p := range purchases {
		status := p.Status
		st.purchases[status]++
		if status == "rejected" && p.Reason == "timeout" {
			st.rolledBack++
		}
		switch {
		case status != "confirmed" && status != "rejected":
			return st, fmt.Errorf("purchase %s is still %s", id, status)
		case (status == "confirmed") != seen[id]:
			return st, fmt.Errorf("purchase %s is %s, and an order for it exists: %v", id, status, seen[id])
		}
	}
	if st.purchases["confirmed"] != len(orders) {
		return st, fmt.Errorf("%d confirmed purchases for %d orders", st.purchases["confirmed"], len(orders))
	}
	slices.Sort(st.unclaimed)
	return st, nil
}
