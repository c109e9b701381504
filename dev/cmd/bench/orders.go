package main

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"

	"github.com/travluk/ecom/dev/loadgen"
	"github.com/travluk/ecom/services/platform/mongoconn"
)

// The order flow's shape and targets (issue 4, "Speed").
const (
	orderBuyers      = 8                // concurrent customers, one closed loop each
	orderProducts    = 1000             // the catalog they buy from
	orderStock       = 1_000_000        // initial stock of every product: nothing runs out
	orderBuyDuration = 20 * time.Second // measured buying when -duration is at its default
	maxBasketLines   = 3                // 1–3 distinct products per buy
	maxLineQuantity  = 3                // 1–3 units of each
	writesPerOrder   = 6                // document writes the flow may spend per order
	maxBuyP50        = 20 * time.Millisecond
	maxBuyP99        = 100 * time.Millisecond
	// orderSettle bounds the wait, after the load, for every accepted
	// order to show as confirmed in the order service.
	orderSettle = 30 * time.Second
	// setupWorkers create the catalog and check the orders in parallel.
	setupWorkers = 8
)

// The databases the invariants are read from, as stack.Run names them.
const (
	productDB    = "product"
	productsColl = "products"
	scratchDB    = "bench" // the write ceiling's scratch collection lives here
)

// orders is issue 4's benchmark: 8 customers buying 1–3 random products of
// a 1,000-product catalog through POST /api/products/buy, and the embedded
// store's rate of single-document conditional writes (the ceiling the flow
// is bound by). After the load it checks the invariants: every product's
// initial stock = stock + reserved + sold, every 201/202 order confirmed in
// the order service, and as many orders there as 2xx answers.
type orders struct {
	sh       *shop
	ctx      context.Context // prepare's, for the checks after the load
	runID    string          // keeps emails, names and keys of this run apart
	products []benchProduct
	buyers   []*buyer
	client   *http.Client // for setup and checks
	mongo    *mongo.Client
	scratch  *mongo.Collection
	bus      string // which event bus the stack runs on
	buyRan   bool
	// buyDuration is the buy scenario's measured time.
	buyDuration time.Duration
	// outcome of the checks, for the notes
	verified *orderVerdict
}

// benchProduct is one product of the catalog the buyers buy from.
type benchProduct struct {
	id    string
	stock int64 // when created
}

// buyer is one customer's closed loop; loadgen calls its worker
// sequentially, so nothing in it needs a lock.
type buyer struct {
	email, token string
	transport    *http.Transport
	rng          *rand.Rand
	seq          int
	placed       []placedOrder  // every 201 and 202 answer
	units        map[int]int64  // units in 2xx answers, by product index
	answers      map[int]uint64 // answers by status (0: no answer)
}

// placedOrder is one accepted buy.
type placedOrder struct {
	id     string
	status int // 201 or 202
}

func (s *orders) name() string  { return "orders" }
func (s *orders) title() string { return "Order flow: buys of 8 customers vs the store's write rate" }
func (s *orders) scenarioNames() []string {
	return []string{"writes", "buy"}
}

func (s *orders) prepare(ctx context.Context, sh *shop, o options) ([]scenario, error) {
	s.sh, s.ctx = sh, ctx
	s.runID = strconv.FormatInt(time.Now().UnixNano(), 36)
	s.client = &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{
		Proxy: nil, MaxIdleConnsPerHost: setupWorkers, IdleConnTimeout: time.Minute,
	}}
	s.bus = "in-process bus (AMQP_URL unset)"
	if u := os.Getenv("AMQP_URL"); u != "" {
		s.bus = "RabbitMQ at " + redactURL(u)
	}
	if sh.addrs.MongoURI == "" {
		return nil, errors.New("the stack does not say which MongoDB it uses (stack.Addrs.MongoURI)")
	}
	var err error
	if s.mongo, err = mongoconn.Connect(ctx, sh.addrs.MongoURI); err != nil {
		return nil, err
	}
	// The buy runs the 20 s unless -duration says otherwise.
	s.buyDuration = o.duration
	if defaults, err := parseFlags(nil, io.Discard); err == nil && o.duration == defaults.duration {
		s.buyDuration = orderBuyDuration
	}

	var chosen []scenario
	if o.wants(s.name(), "writes") {
		if err := s.prepareScratch(ctx); err != nil {
			s.close()
			return nil, fmt.Errorf("scratch collection: %w", err)
		}
		chosen = append(chosen, scenario{
			name:    "writes",
			about:   fmt.Sprintf("the ceiling: %d goroutines each $inc one document of its own in a scratch collection, conditionally (filter on the field), through the stack's MongoDB URI", orderBuyers),
			target:  "updateOne " + scratchDB + "." + s.scratch.Name(),
			conns:   orderBuyers,
			op:      s.write,
			cleanup: func() { _ = s.scratch.Drop(context.WithoutCancel(ctx)) },
		})
	}
	if o.wants(s.name(), "buy") {
		if err := s.prepareShop(ctx); err != nil {
			s.close()
			return nil, err
		}
		s.buyRan = true
		chosen = append(chosen, scenario{
			name: "buy",
			about: fmt.Sprintf("%d customers, each buying 1–%d random products of %d × 1–%d units with a new Idempotency-Key, "+
				"through the ingress stand-in; 201 and 202 succeed, anything else is an error", orderBuyers, maxBasketLines, orderProducts, maxLineQuantity),
			target:   "POST http://" + sh.addrs.Ingress + "/api/products/buy",
			conns:    orderBuyers,
			duration: s.buyDuration,
			op:       s.buy,
			cleanup: func() {
				for _, b := range s.buyers {
					b.transport.CloseIdleConnections()
				}
			},
		})
	}
	return chosen, nil
}

// prepareScratch creates one document per writer in a new collection.
func (s *orders) prepareScratch(ctx context.Context) error {
	s.scratch = s.mongo.Database(scratchDB).Collection("writes_" + s.runID)
	docs := make([]any, orderBuyers)
	for i := range docs {
		docs[i] = bson.D{{Key: "_id", Value: i}, {Key: "n", Value: int64(0)}}
	}
	_, err := s.scratch.InsertMany(ctx, docs)
	return err
}

// write is one conditional single-document update, the kind the flow's
// reservations are made of.
func (s *orders) write(ctx context.Context, worker int) error {
	res, err := s.scratch.UpdateOne(ctx,
		bson.D{{Key: "_id", Value: worker}, {Key: "n", Value: bson.D{{Key: "$gte", Value: int64(0)}}}},
		bson.D{{Key: "$inc", Value: bson.D{{Key: "n", Value: int64(1)}}}})
	if err != nil {
		return err
	}
	if res.ModifiedCount != 1 {
		return errors.New("update not applied")
	}
	return nil
}

// prepareShop creates the catalog as the admin and registers and logs in
// the customers.
func (s *orders) prepareShop(ctx context.Context) error {
	if _, ok := s.sh.addrs.Services["order"]; !ok {
		return errors.New("the stack runs no order service")
	}
	admin, err := s.sh.adminToken(ctx)
	if err != nil {
		return err
	}
	s.products = make([]benchProduct, orderProducts)
	base := "http://" + s.sh.addrs.Ingress
	err = parallel(ctx, orderProducts, func(ctx context.Context, i int) error {
		body := map[string]any{
			"name":        fmt.Sprintf("Bench item %04d %s", i, s.runID),
			"description": "Bought many times a second by make bench.",
			"price":       benchPrice(i),
			"stock":       orderStock,
			"attributes":  map[string]any{"batch": s.runID, "index": i},
		}
		var created struct {
			ID string `json:"id"`
		}
		if err := s.callJSON(ctx, http.MethodPost, base+"/api/products", admin, body, http.StatusCreated, &created); err != nil {
			return fmt.Errorf("create product %d: %w", i, err)
		}
		if created.ID == "" {
			return fmt.Errorf("create product %d: no id in the answer", i)
		}
		s.products[i] = benchProduct{id: created.ID, stock: orderStock}
		return nil
	})
	if err != nil {
		return err
	}

	s.buyers = make([]*buyer, orderBuyers)
	seed := uint64(time.Now().UnixNano())
	return parallel(ctx, orderBuyers, func(ctx context.Context, i int) error {
		b := &buyer{
			email: fmt.Sprintf("bench-buyer-%d-%s@example.com", i, s.runID),
			rng:   rand.New(rand.NewPCG(seed, uint64(i))),
			units: make(map[int]int64), answers: make(map[int]uint64),
			transport: &http.Transport{
				Proxy:               nil,
				DialContext:         (&net.Dialer{Timeout: 2 * time.Second}).DialContext,
				MaxConnsPerHost:     1,
				MaxIdleConnsPerHost: 1,
				IdleConnTimeout:     time.Minute,
			},
		}
		const password = "bench-buyer-password"
		reg := map[string]string{"name": fmt.Sprintf("Bench buyer %d", i), "email": b.email, "password": password, "address": "1 Load Lane, Testville"}
		if err := s.callJSON(ctx, http.MethodPost, base+"/api/customers/register", "", reg, http.StatusCreated, nil); err != nil {
			return fmt.Errorf("register buyer %d: %w", i, err)
		}
		var pair struct {
			AccessToken string `json:"accessToken"`
		}
		login := map[string]string{"email": b.email, "password": password}
		if err := s.callJSON(ctx, http.MethodPost, base+"/api/customers/login", "", login, http.StatusOK, &pair); err != nil {
			return fmt.Errorf("log buyer %d in: %w", i, err)
		}
		if pair.AccessToken == "" {
			return fmt.Errorf("log buyer %d in: no access token", i)
		}
		b.token = pair.AccessToken
		s.buyers[i] = b
		return nil
	})
}

// benchPrice gives product i a price with cents, from 1.00 to 99.99.
func benchPrice(i int) float64 {
	return float64(100+(i*7919)%9900) / 100
}

// buyLine is one item of a buy.
type buyLine struct {
	ProductID string `json:"productId"`
	Quantity  int64  `json:"quantity"`
}

// basketLine is a line of a basket, by product index.
type basketLine struct {
	product  int
	quantity int64
}

// pickBasket returns 1–maxBasketLines distinct products of n, with
// 1–maxLineQuantity units each.
func pickBasket(rng *rand.Rand, n int) []basketLine {
	lines := make([]basketLine, 0, maxBasketLines)
	for want := 1 + rng.IntN(min(maxBasketLines, n)); len(lines) < want; {
		p := rng.IntN(n)
		if slices.ContainsFunc(lines, func(l basketLine) bool { return l.product == p }) {
			continue
		}
		lines = append(lines, basketLine{product: p, quantity: 1 + rng.Int64N(maxLineQuantity)})
	}
	return lines
}

// buy is one customer's buy. A 201 or 202 is a placed order; anything
// else fails the request.
func (s *orders) buy(ctx context.Context, worker int) error {
	b := s.buyers[worker]
	basket := pickBasket(b.rng, len(s.products))
	items := make([]buyLine, len(basket))
	for i, l := range basket {
		items[i] = buyLine{ProductID: s.products[l.product].id, Quantity: l.quantity}
	}
	body, err := json.Marshal(map[string]any{"items": items})
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, "http://"+s.sh.addrs.Ingress+"/api/products/buy", bytes.NewReader(body))
	if err != nil {
		return err
	}
	b.seq++
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+b.token)
	req.Header.Set("Idempotency-Key", fmt.Sprintf("bench-%s-%d-%d", s.runID, worker, b.seq))
	resp, err := b.transport.RoundTrip(req)
	if err != nil {
		b.answers[0]++ // outcome unknown: the order may exist
		return err
	}
	data, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	b.answers[resp.StatusCode]++
	if err != nil {
		return fmt.Errorf("read body: %w", err)
	}
	switch resp.StatusCode {
	case http.StatusCreated, http.StatusAccepted:
		var out struct {
			ID      string `json:"id"`      // 201: the order
			OrderID string `json:"orderId"` // 202: pending
		}
		_ = json.Unmarshal(data, &out)
		b.placed = append(b.placed, placedOrder{id: cmp.Or(out.ID, out.OrderID), status: resp.StatusCode})
		for _, l := range basket {
			b.units[l.product] += l.quantity
		}
		if out.ID == "" && out.OrderID == "" {
			return fmt.Errorf("status %d without an order id", resp.StatusCode)
		}
		return nil
	default:
		var p struct {
			Code string `json:"code"`
		}
		_ = json.Unmarshal(data, &p)
		return fmt.Errorf("status %d %s", resp.StatusCode, p.Code)
	}
}

func (s *orders) checks(r map[string]loadgen.Result) []check {
	writes, haveWrites := r["writes"]
	buys, haveBuys := r["buy"]
	var orderRate float64
	if haveBuys && buys.Duration > 0 {
		orderRate = float64(buys.Requests-buys.Errors) / buys.Duration.Seconds()
	}
	rate := check{What: "orders/s (201 and 202 answers in the measured time)", Want: "—"}
	if haveBuys {
		rate.Got = fmt.Sprintf("%.1f", orderRate)
	}
	writeRate := check{What: "store writes/s (conditional $inc, 8 goroutines)", Want: "—"}
	if haveWrites {
		writeRate.Got = fmt.Sprintf("%.0f", writes.Rate())
	}
	share := check{What: fmt.Sprintf("orders/s ÷ (writes/s ÷ %d)", writesPerOrder), Want: "≥ 1.00"}
	if haveBuys && haveWrites && writes.Rate() > 0 {
		ratio := orderRate / (writes.Rate() / writesPerOrder)
		share.Got, share.Pass = fmt.Sprintf("%.2f", ratio), passed(ratio >= 1)
	}
	p50 := check{What: "buy p50", Want: "≤ " + ms(maxBuyP50)}
	p99 := check{What: "buy p99", Want: "≤ " + ms(maxBuyP99)}
	clean := check{What: "buy errors (not 201/202)", Want: "0"}
	if haveBuys {
		got50, got99 := buys.Latency.Quantile(0.5), buys.Latency.Quantile(0.99)
		p50.Got, p50.Pass = ms(got50), passed(got50 <= maxBuyP50)
		p99.Got, p99.Pass = ms(got99), passed(got99 <= maxBuyP99)
		clean.Got, clean.Pass = fmt.Sprint(buys.Errors), passed(buys.Errors == 0)
	}
	out := []check{rate, writeRate, share, p50, p99, clean}
	if haveWrites {
		out = append(out, check{What: "store write p50 / p99, for information", Got: ms(writes.Latency.Quantile(0.5)) + " / " + ms(writes.Latency.Quantile(0.99)), Want: "—"})
	}
	if !s.buyRan {
		return out
	}
	v := s.verify(s.ctx)
	s.verified = &v
	return append(out, v.checks()...)
}

// orderVerdict is what the checks after the load found.
type orderVerdict struct {
	err          error // a check that could not run
	answers      map[int]uint64
	accepted     int // 201 and 202 answers, all of the run (warm-ups too)
	confirmed    int // of those, confirmed in the order service
	notConfirmed []string
	settled      time.Duration
	listed       int      // orders the order service lists for the buyers
	unlisted     []string // accepted but not listed
	extra        []string // listed but never accepted
	stock        stockReport
}

func (v orderVerdict) checks() []check {
	if v.err != nil {
		return []check{{What: "invariants after the load", Got: "could not check: " + v.err.Error(), Want: "checked", Pass: passed(false)}}
	}
	return []check{
		{What: "products where initial stock ≠ stock + reserved + sold", Got: fmt.Sprintf("%d of %d", len(v.stock.broken), v.stock.products),
			Want: "0", Pass: passed(len(v.stock.broken) == 0 && v.stock.missing == 0)},
		{What: "products where reserved + sold ≠ units in 2xx answers", Got: fmt.Sprintf("%d of %d", len(v.stock.unmatched), v.stock.products),
			Want: "0", Pass: passed(len(v.stock.unmatched) == 0)},
		{What: "units still reserved after the settle wait", Got: fmt.Sprint(v.stock.reserved), Want: "0", Pass: passed(v.stock.reserved == 0)},
		{What: "201/202 orders confirmed in the order service", Got: fmt.Sprintf("%d of %d (settled in %s)", v.confirmed, v.accepted, v.settled.Round(10*time.Millisecond)),
			Want: "all", Pass: passed(v.confirmed == v.accepted)},
		{What: "orders in the order service = 2xx answers", Got: fmt.Sprintf("%d = %d", v.listed, v.accepted),
			Want: "equal", Pass: passed(v.listed == v.accepted && len(v.unlisted) == 0 && len(v.extra) == 0)},
	}
}

// verify waits for every accepted order to be confirmed, then reads the
// order service's lists and the product documents.
func (s *orders) verify(ctx context.Context) orderVerdict {
	v := orderVerdict{answers: make(map[int]uint64)}
	for _, b := range s.buyers {
		for code, n := range b.answers {
			v.answers[code] += n
		}
		v.accepted += len(b.placed)
	}
	start := time.Now()
	v.confirmed, v.notConfirmed, v.err = s.awaitConfirmed(ctx, time.Now().Add(orderSettle))
	v.settled = time.Since(start)
	if v.err != nil {
		return v
	}
	if v.listed, v.unlisted, v.extra, v.err = s.compareLists(ctx); v.err != nil {
		return v
	}
	v.stock, v.err = s.readStock(ctx)
	return v
}

// awaitConfirmed GETs every accepted order as its customer until it is
// confirmed or the deadline passes.
func (s *orders) awaitConfirmed(ctx context.Context, deadline time.Time) (confirmed int, missing []string, err error) {
	type job struct {
		b *buyer
		o placedOrder
	}
	var jobs []job
	for _, b := range s.buyers {
		for _, o := range b.placed {
			jobs = append(jobs, job{b, o})
		}
	}
	var mu sync.Mutex
	var ok atomic.Int64
	base := "http://" + s.sh.addrs.Ingress + "/api/orders/"
	err = parallel(ctx, len(jobs), func(ctx context.Context, i int) error {
		j := jobs[i]
		last := "no id in the buy's answer"
		for j.o.id != "" {
			var got struct {
				Status string `json:"status"`
			}
			err := s.callJSON(ctx, http.MethodGet, base+url.PathEscape(j.o.id), j.b.token, nil, http.StatusOK, &got)
			if err == nil && got.Status == "confirmed" {
				ok.Add(1)
				return nil
			}
			last = cmp.Or(got.Status, fmt.Sprint(err))
			if time.Now().After(deadline) {
				break
			}
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(100 * time.Millisecond):
			}
		}
		mu.Lock()
		missing = append(missing, fmt.Sprintf("%s (%d, last: %.120s)", j.o.id, j.o.status, last))
		mu.Unlock()
		return nil
	})
	return int(ok.Load()), missing, err
}

// compareLists pages through each buyer's orders and compares them with
// the accepted ones.
func (s *orders) compareLists(ctx context.Context) (listed int, unlisted, extra []string, err error) {
	for _, b := range s.buyers {
		var ids []string
		cursor := ""
		for {
			q := url.Values{"limit": {"100"}}
			if cursor != "" {
				q.Set("cursor", cursor)
			}
			var page struct {
				Items []struct {
					ID string `json:"id"`
				} `json:"items"`
				NextCursor string `json:"nextCursor"`
			}
			if err := s.callJSON(ctx, http.MethodGet, "http://"+s.sh.addrs.Ingress+"/api/orders?"+q.Encode(), b.token, nil, http.StatusOK, &page); err != nil {
				return 0, nil, nil, fmt.Errorf("list orders: %w", err)
			}
			for _, it := range page.Items {
				ids = append(ids, it.ID)
			}
			if page.NextCursor == "" || len(page.Items) == 0 {
				break
			}
			cursor = page.NextCursor
		}
		listed += len(ids)
		accepted := make([]string, len(b.placed))
		for i, o := range b.placed {
			accepted[i] = o.id
		}
		u, e := diffIDs(accepted, ids)
		unlisted, extra = append(unlisted, u...), append(extra, e...)
	}
	return listed, unlisted, extra, nil
}

// diffIDs returns the ids of want missing from got, and those of got not in
// want (each once per surplus occurrence).
func diffIDs(want, got []string) (missing, extra []string) {
	count := make(map[string]int, len(want))
	for _, id := range want {
		count[id]++
	}
	for _, id := range got {
		if count[id] > 0 {
			count[id]--
		} else {
			extra = append(extra, id)
		}
	}
	for _, id := range want {
		if count[id] > 0 {
			count[id]--
			missing = append(missing, id)
		}
	}
	return missing, extra
}

// stockDoc is the part of a product document the invariants read.
type stockDoc struct {
	ID       bson.ObjectID `bson:"_id"`
	Stock    int64         `bson:"stock"`
	Reserved int64         `bson:"reserved"`
	Sold     int64         `bson:"sold"`
}

// readStock reads the catalog's documents straight from MongoDB and checks
// them against the initial stock and the units the buyers were sold.
func (s *orders) readStock(ctx context.Context) (stockReport, error) {
	ids := make([]bson.ObjectID, len(s.products))
	for i, p := range s.products {
		oid, err := bson.ObjectIDFromHex(p.id)
		if err != nil {
			return stockReport{}, fmt.Errorf("product id %q: %w", p.id, err)
		}
		ids[i] = oid
	}
	cur, err := s.mongo.Database(productDB).Collection(productsColl).Find(ctx, bson.D{{Key: "_id", Value: bson.D{{Key: "$in", Value: ids}}}})
	if err != nil {
		return stockReport{}, fmt.Errorf("read products: %w", err)
	}
	var docs []stockDoc
	if err := cur.All(ctx, &docs); err != nil {
		return stockReport{}, fmt.Errorf("read products: %w", err)
	}
	byID := make(map[string]stockDoc, len(docs))
	for _, d := range docs {
		byID[d.ID.Hex()] = d
	}
	units := make(map[int]int64)
	for _, b := range s.buyers {
		for p, n := range b.units {
			units[p] += n
		}
	}
	return checkStock(s.products, byID, units), nil
}

// stockReport is what checkStock found.
type stockReport struct {
	products  int
	missing   int      // products without a document
	broken    []string // initial ≠ stock + reserved + sold
	unmatched []string // reserved + sold ≠ units in 2xx answers
	sold      int64    // units sold, every product
	reserved  int64    // units still reserved, every product
}

// checkStock compares each product's document with its initial stock and
// with the units of it in accepted buys (units, by product index).
func checkStock(products []benchProduct, docs map[string]stockDoc, units map[int]int64) stockReport {
	r := stockReport{products: len(products)}
	for i, p := range products {
		d, ok := docs[p.id]
		if !ok {
			r.missing++
			r.broken = append(r.broken, p.id+": no document")
			continue
		}
		r.sold += d.Sold
		r.reserved += d.Reserved
		if total := d.Stock + d.Reserved + d.Sold; total != p.stock {
			r.broken = append(r.broken, fmt.Sprintf("%s: %d + %d + %d = %d ≠ %d", p.id, d.Stock, d.Reserved, d.Sold, total, p.stock))
		}
		if out := d.Reserved + d.Sold; out != units[i] {
			r.unmatched = append(r.unmatched, fmt.Sprintf("%s: reserved + sold = %d, bought %d", p.id, out, units[i]))
		}
	}
	return r
}

func (s *orders) notes() []string {
	notes := []string{
		fmt.Sprintf("Event bus: %s. The store line above says whether MongoDB and Redis are embedded or real.", s.bus),
		fmt.Sprintf("The ceiling (writes) is the store's rate of single-document conditional updates at %d concurrent writers, each on its own document, "+
			"through the same MongoDB URI as the services; the target is orders/s ≥ writes/s ÷ %d, the flow being allowed about %d document writes per order.",
			orderBuyers, writesPerOrder, writesPerOrder),
		fmt.Sprintf("The buy scenario runs %s of measured time (issue 4's 20 s at -duration's default, else -duration), split over the rounds; "+
			"orders/s counts 201 and 202 answers in the measured windows, latency every answer.", s.buyDuration),
	}
	if v := s.verified; v != nil {
		codes := slices.Sorted(func(yield func(int) bool) {
			for c := range v.answers {
				if !yield(c) {
					return
				}
			}
		})
		var parts []string
		for _, c := range codes {
			label := strconv.Itoa(c)
			if c == 0 {
				label = "no answer"
			}
			parts = append(parts, fmt.Sprintf("%s: %d", label, v.answers[c]))
		}
		notes = append(notes, fmt.Sprintf("Invariants, checked over every buy of the run (warm-ups included): answers %s; "+
			"%d orders accepted, %d confirmed in the order service, %d listed there; %d units sold and %d still reserved over %d products of %d units each.",
			strings.Join(parts, ", "), v.accepted, v.confirmed, v.listed, v.stock.sold, v.stock.reserved, v.stock.products, orderStock))
		for _, l := range [][]string{v.stock.broken, v.stock.unmatched, v.notConfirmed, v.unlisted, v.extra} {
			if len(l) > 0 {
				notes = append(notes, "First violations: "+strings.Join(l[:min(5, len(l))], "; "))
			}
		}
		if v.answers[0] > 0 {
			notes = append(notes, fmt.Sprintf("%d buys had no answer (cut off at the end of a run or a transport error): their orders may exist, "+
				"so the counts may differ by that much without a fault of the flow.", v.answers[0]))
		}
	}
	return notes
}

func (s *orders) close() {
	if s.mongo != nil {
		_ = s.mongo.Disconnect(context.Background())
		s.mongo = nil
	}
	if s.client != nil {
		s.client.CloseIdleConnections()
	}
}

// callJSON is shop.callJSON over the suite's own client, whose connection
// pool fits setupWorkers.
func (s *orders) callJSON(ctx context.Context, method, url, token string, body any, want int, out any) error {
	sh := *s.sh
	sh.client = s.client
	return sh.callJSON(ctx, method, url, token, body, want, out)
}

// parallel runs f(0..n-1) on setupWorkers goroutines and returns the first
// error, after which the rest are skipped.
func parallel(ctx context.Context, n int, f func(ctx context.Context, i int) error) error {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	var next atomic.Int64
	var wg sync.WaitGroup
	for range min(setupWorkers, n) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				i := int(next.Add(1) - 1)
				if i >= n {
					return
				}
				if err := f(ctx, i); err != nil {
					cancel(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	return context.Cause(ctx) // the first error, the parent's, or nil
}

// redactURL drops the password from u for the report.
func redactURL(u string) string {
	parsed, err := url.Parse(u)
	if err != nil {
		return "(unparsable URL)"
	}
	return parsed.Redacted()
}
