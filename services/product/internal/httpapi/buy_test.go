package httpapi

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/travluk/ecom/dev/testenv"
	"github.com/travluk/ecom/services/platform/auth"
	"github.com/travluk/ecom/services/platform/auth/authtest"
	"github.com/travluk/ecom/services/platform/mongoconn"
	"github.com/travluk/ecom/services/platform/outbox"
	"github.com/travluk/ecom/services/product/internal/amqpapi"
	"github.com/travluk/ecom/services/product/internal/mongodb"
	"github.com/travluk/ecom/services/product/internal/product"
	"github.com/travluk/ecom/services/product/internal/waiter"
)

// buyEnv is the product API with the order flow behind buy. No broker and
// no order service: nudge stands in for both, confirming every requested
// purchase straight from the outbox when confirm is set.
type buyEnv struct {
	*env
	flow      *product.Flow
	purchases *mongodb.Purchases
	confirm   atomic.Bool
	stopped   atomic.Bool
	wg        sync.WaitGroup
}

type buyOptions struct {
	mongoAddr   string
	confirm     bool
	confirmWait time.Duration
}

func newBuyEnv(t *testing.T, o buyOptions) *buyEnv {
	t.Helper()
	ctx := context.Background()
	mongoURI := testenv.Mongo(t)
	if o.mongoAddr != "" {
		mongoURI = withHost(t, mongoURI, o.mongoAddr)
	}
	mc, err := mongoconn.Connect(ctx, mongoURI)
	if err != nil {
		t.Fatal(err)
	}
	db := mc.Database(testenv.Database(t))
	repo := mongodb.NewProducts(db)
	purchases := mongodb.NewPurchases(db)
	if err := repo.EnsureIndexes(ctx); err != nil {
		t.Fatal(err)
	}
	if err := purchases.EnsureIndexes(ctx); err != nil {
		t.Fatal(err)
	}
	hub := waiter.New(waiter.Options{Settled: purchases.Settled, PollInterval: 50 * time.Millisecond})
	runCtx, cancel := context.WithCancel(ctx)
	go hub.Run(runCtx)
	if o.confirmWait == 0 {
		o.confirmWait = 5 * time.Second
	}
	b := &buyEnv{purchases: purchases}
	b.confirm.Store(o.confirm)
	b.flow = product.NewFlow(product.FlowOptions{
		Purchases: purchases, Reservations: mongodb.NewReservations(db), Events: amqpapi.Events{},
		Waiter: hub, Nudge: b.nudge, ConfirmWait: o.confirmWait,
	})
	redisURL := testenv.Redis(t)
	rdb := connectRedis(t, redisURL)
	iss := authtest.NewIssuer(t, redisURL)
	v := auth.NewVerifier(auth.VerifierOptions{Issuer: authtest.IssuerName, Audience: authtest.Audience,
		Keys: auth.NewJWKSClient(iss.JWKSURL(), nil), Sessions: auth.NewRedisSessions(rdb, time.Second)})
	reg := prometheus.NewRegistry()
	srv := httptest.NewServer(serve(t, NewHandler(product.NewService(repo, nil, nil), v, nil, WithBuy(b.flow, reg))))
	t.Cleanup(func() {
		srv.Close()
		b.stopped.Store(true)
		b.wg.Wait()
		cancel()
		_ = mc.Disconnect(context.Background())
	})
	admin, _ := iss.Token(t, "admin-1", auth.RoleAdmin)
	customer, _ := iss.Token(t, "customer-1", auth.RoleCustomer)
	b.env = &env{t: t, url: srv.URL, iss: iss, admin: admin, customer: customer, reg: reg, repo: repo}
	return b
}

// nudge confirms, in the background, the purchase id by the events in its
// outbox (PendingOf, as the relay does on a targeted nudge), as the relay
// and the order service would.
func (b *buyEnv) nudge(id string) {
	if !b.confirm.Load() || b.stopped.Load() {
		return
	}
	b.wg.Go(func() {
		pending, err := b.purchases.PendingOf(context.Background(), id)
		if err != nil {
			b.t.Errorf("pending of %s: %v", id, err)
			return
		}
		for _, p := range pending {
			if p.AggregateID != id {
				b.t.Errorf("PendingOf(%s) returned an event of %s", id, p.AggregateID)
			}
		}
		b.confirmEvents(pending)
	})
}

// confirmPending confirms every purchase with an event in its outbox.
func (b *buyEnv) confirmPending() {
	pending, err := b.purchases.Pending(context.Background(), 100)
	if err != nil {
		b.t.Errorf("pending: %v", err)
		return
	}
	b.confirmEvents(pending)
}

func (b *buyEnv) confirmEvents(pending []outbox.Pending) {
	ctx := context.Background()
	for _, p := range pending {
		if err := b.flow.Confirm(ctx, p.AggregateID, time.Now()); err != nil {
			b.t.Errorf("confirm %s: %v", p.AggregateID, err)
		}
		if err := b.purchases.Remove(ctx, p.AggregateID, p.Event.ID); err != nil {
			b.t.Errorf("remove: %v", err)
		}
	}
}

func (b *buyEnv) buy(token, body string, header map[string]string) response {
	b.t.Helper()
	return b.do(req{method: "POST", path: "/api/products/buy", token: token, body: body, header: header})
}

// units returns a product's stock, reserved and sold as stored.
func (b *buyEnv) units(id string) [3]int64 {
	b.t.Helper()
	p, err := b.repo.ByID(context.Background(), id)
	if err != nil {
		b.t.Fatalf("product %s: %v", id, err)
	}
	return [3]int64{p.Stock, p.Reserved, p.Sold}
}

type apiOrder struct {
	ID          string      `json:"id"`
	CustomerID  string      `json:"customerId"`
	Status      string      `json:"status"`
	Quantity    int64       `json:"quantity"`
	TotalAmount json.Number `json:"totalAmount"`
	Currency    string      `json:"currency"`
	Items       []struct {
		ProductID string      `json:"productId"`
		Name      string      `json:"name"`
		UnitPrice json.Number `json:"unitPrice"`
		Quantity  int64       `json:"quantity"`
		LineTotal json.Number `json:"lineTotal"`
	} `json:"items"`
}

func TestBuyConfirmed(t *testing.T) {
	b := newBuyEnv(t, buyOptions{confirm: true})
	boots := b.create("Boots", "89.90", 5)
	socks := b.create("Socks", "4.99", 100)
	body := fmt.Sprintf(`{"items":[{"productId":%q,"quantity":2},{"productId":%q,"quantity":3}]}`, boots.ID, socks.ID)
	r := b.buy(b.customer, body, nil)
	if r.status != http.StatusCreated {
		t.Fatalf("buy: %s", r)
	}
	o := decodeInto[apiOrder](t, r)
	if r.header.Get("Location") != "/api/orders/"+o.ID || o.Status != "confirmed" || o.CustomerID != "customer-1" ||
		o.Quantity != 5 || o.TotalAmount.String() != "194.77" || o.Currency != "EUR" || len(o.Items) != 2 ||
		o.Items[0].Name != "Boots" || o.Items[0].UnitPrice.String() != "89.90" || o.Items[0].LineTotal.String() != "179.80" {
		t.Errorf("order: %s (Location %q)", r.body, r.header.Get("Location"))
	}
	if got := b.units(boots.ID); got != [3]int64{3, 0, 2} {
		t.Errorf("boots stock, reserved, sold = %v", got)
	}
	if got := b.units(socks.ID); got != [3]int64{97, 0, 3} {
		t.Errorf("socks stock, reserved, sold = %v", got)
	}
	if p, _ := b.get(boots.ID); p.Stock.String() != "3" {
		t.Errorf("read after buy shows stock %s", p.Stock)
	}

	// The ids form; quantity applies to every id.
	r = b.buy(b.customer, fmt.Sprintf(`{"ids":[%q,%q],"quantity":1}`, boots.ID, socks.ID), nil)
	if r.status != http.StatusCreated {
		t.Fatalf("ids-form buy: %s", r)
	}
	if got := b.units(boots.ID); got != [3]int64{2, 0, 3} {
		t.Errorf("boots after ids-form buy = %v", got)
	}
}

func TestBuyPending(t *testing.T) {
	b := newBuyEnv(t, buyOptions{confirmWait: 100 * time.Millisecond})
	p := b.create("Kettle", "25.00", 2)
	r := b.buy(b.customer, fmt.Sprintf(`{"items":[{"productId":%q,"quantity":1}]}`, p.ID), nil)
	if r.status != http.StatusAccepted {
		t.Fatalf("buy: %s", r)
	}
	pending := decodeInto[struct{ OrderID, Status string }](t, r)
	if pending.Status != "pending" || r.header.Get("Location") != "/api/orders/"+pending.OrderID {
		t.Errorf("202: %s, Location %q", r.body, r.header.Get("Location"))
	}
	if got := b.units(p.ID); got != [3]int64{1, 1, 0} {
		t.Errorf("while pending: %v", got)
	}
	// The confirmation arrives late: the reservation becomes a sale.
	b.confirm.Store(true)
	b.confirmPending()
	if got := b.units(p.ID); got != [3]int64{1, 0, 1} {
		t.Errorf("after the confirmation: %v", got)
	}
	if got, err := b.flow.Order(context.Background(), pending.OrderID); err != nil || got.Status != product.StatusConfirmed {
		t.Errorf("purchase after the confirmation: %+v, %v", got, err)
	}
}

// TestBuyRefused checks that a short or unknown line refuses the whole
// buy and leaves nothing reserved, the earlier lines included.
func TestBuyRefused(t *testing.T) {
	b := newBuyEnv(t, buyOptions{confirm: true})
	plenty := b.create("Plenty", "1.00", 50)
	scarce := b.create("Scarce", "2.00", 1)
	tests := []struct {
		name   string
		second string
		status int
		code   string
		detail string
	}{
		{"short stock on line 2", scarce.ID, http.StatusConflict, "out_of_stock", scarce.ID},
		{"unknown product on line 2", "65f000000000000000000000", http.StatusNotFound, "not_found", "65f000000000000000000000"},
		{"malformed id on line 2", "nope", http.StatusNotFound, "not_found", "nope"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := b.buy(b.customer, fmt.Sprintf(`{"items":[{"productId":%q,"quantity":3},{"productId":%q,"quantity":2}]}`, plenty.ID, tt.second), nil)
			p := decodeInto[apiProblem](t, r)
			if r.status != tt.status || p.Code != tt.code || !strings.Contains(p.Detail, tt.detail) {
				t.Errorf("got %s", r)
			}
			if got := b.units(plenty.ID); got != [3]int64{50, 0, 0} {
				t.Errorf("line 1 after the refusal: %v", got)
			}
			if got := b.units(scarce.ID); got != [3]int64{1, 0, 0} {
				t.Errorf("line 2 after the refusal: %v", got)
			}
		})
	}
}

func TestBuyValidation(t *testing.T) {
	b := newBuyEnv(t, buyOptions{confirm: true})
	p := b.create("Lamp", "10.00", 10)
	q := b.create("Shade", "5.00", 10)
	item := func(id string, n any) string { return fmt.Sprintf(`{"productId":%q,"quantity":%v}`, id, n) }
	many := make([]string, 51)
	for i := range many {
		many[i] = item(fmt.Sprintf("%024x", i), 1)
	}
	tests := []struct {
		name        string
		token       string
		body        string
		contentType string
		key         string
		status      int
		field       string
	}{
		{"no token", "", `{"items":[` + item(p.ID, 1) + `]}`, "", "", 401, ""},
		{"admin", b.admin, `{"items":[` + item(p.ID, 1) + `]}`, "", "", 403, ""},
		{"not JSON", b.customer, `{"items":`, "", "", 400, ""},
		{"not an object", b.customer, `[1]`, "", "", 400, ""},
		{"wrong content type", b.customer, `{"items":[]}`, "text/plain", "", 415, ""},
		{"too large", b.customer, `{"items":"` + strings.Repeat("x", 1<<20) + `"}`, "", "", 413, ""},
		{"empty object", b.customer, `{}`, "", "", 422, "items"},
		{"no lines", b.customer, `{"items":[]}`, "", "", 422, "items"},
		{"51 lines", b.customer, `{"items":[` + strings.Join(many, ",") + `]}`, "", "", 422, "items"},
		{"quantity 0", b.customer, `{"items":[` + item(p.ID, 0) + `]}`, "", "", 422, "items[0].quantity"},
		{"quantity 1001", b.customer, `{"items":[` + item(p.ID, 1001) + `]}`, "", "", 422, "items[0].quantity"},
		{"negative quantity", b.customer, `{"items":[` + item(p.ID, -1) + `]}`, "", "", 422, "items[0].quantity"},
		{"fractional quantity", b.customer, `{"items":[` + item(p.ID, 1.5) + `]}`, "", "", 422, "items[0].quantity"},
		{"quantity as text", b.customer, `{"items":[` + item(p.ID, `"1"`) + `]}`, "", "", 422, "items[0].quantity"},
		{"no quantity", b.customer, fmt.Sprintf(`{"items":[{"productId":%q}]}`, p.ID), "", "", 422, "items[0].quantity"},
		{"no product id", b.customer, `{"items":[{"quantity":1}]}`, "", "", 422, "items[0].productId"},
		{"empty product id", b.customer, `{"items":[` + item("", 1) + `]}`, "", "", 422, "items[0].productId"},
		{"duplicate product", b.customer, `{"items":[` + item(p.ID, 1) + "," + item(q.ID, 1) + "," + item(p.ID, 2) + `]}`, "", "", 422, "items[2].productId"},
		{"unknown field", b.customer, `{"items":[` + item(p.ID, 1) + `],"price":1}`, "", "", 422, "price"},
		{"unknown item field", b.customer, `{"items":[{"productId":"` + p.ID + `","quantity":1,"unitPrice":0.01}]}`, "", "", 422, "items[0].unitPrice"},
		{"items and ids", b.customer, fmt.Sprintf(`{"items":[%s],"ids":[%q]}`, item(p.ID, 1), p.ID), "", "", 422, "ids"},
		{"quantity beside items", b.customer, `{"items":[` + item(p.ID, 1) + `],"quantity":1}`, "", "", 422, "quantity"},
		{"ids form, duplicate id", b.customer, fmt.Sprintf(`{"ids":[%q,%q],"quantity":1}`, p.ID, p.ID), "", "", 422, "ids[1]"},
		{"ids form, quantity 0", b.customer, fmt.Sprintf(`{"ids":[%q],"quantity":0}`, p.ID), "", "", 422, "quantity"},
		{"ids form, no ids", b.customer, `{"ids":[],"quantity":1}`, "", "", 422, "ids"},
		{"bad idempotency key", b.customer, `{"items":[` + item(p.ID, 1) + `]}`, "", strings.Repeat("k", 256), 422, "Idempotency-Key"},
		{"idempotency key with a control character", b.customer, `{"items":[` + item(p.ID, 1) + `]}`, "", "a\tb", 422, "Idempotency-Key"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := b.do(req{method: "POST", path: "/api/products/buy", token: tt.token, body: tt.body,
				contentType: tt.contentType, header: map[string]string{"Idempotency-Key": tt.key}})
			if tt.key == "" {
				r = b.do(req{method: "POST", path: "/api/products/buy", token: tt.token, body: tt.body, contentType: tt.contentType})
			}
			if r.status != tt.status {
				t.Fatalf("status %s, want %d", r, tt.status)
			}
			if tt.field != "" {
				if got := fields(decodeInto[apiProblem](t, r)); !containsString(got, tt.field) {
					t.Errorf("fields %v, want %s: %s", got, tt.field, r.body)
				}
			}
		})
	}
	for _, id := range []string{p.ID, q.ID} {
		if got := b.units(id); got != [3]int64{10, 0, 0} {
			t.Errorf("%s after invalid buys: %v", id, got)
		}
	}
	n, err := b.purchases.Stuck(context.Background(), time.Now().Add(time.Hour), 10)
	if err != nil || len(n) != 0 {
		t.Errorf("invalid buys recorded purchases: %v, %v", n, err)
	}
}

func containsString(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

func TestBuyIdempotency(t *testing.T) {
	b := newBuyEnv(t, buyOptions{confirm: true})
	p := b.create("Tent", "199.00", 10)
	q := b.create("Stove", "49.00", 10)
	body := fmt.Sprintf(`{"items":[{"productId":%q,"quantity":2}]}`, p.ID)
	key := map[string]string{"Idempotency-Key": "order-7f3a"}

	first := b.buy(b.customer, body, key)
	again := b.buy(b.customer, body, key)
	if first.status != http.StatusCreated || again.status != http.StatusCreated {
		t.Fatalf("first %s, again %s", first, again)
	}
	if a, c := decodeInto[apiOrder](t, first), decodeInto[apiOrder](t, again); a.ID != c.ID {
		t.Errorf("same key, same body: orders %s and %s", a.ID, c.ID)
	}
	// The ids form of the same lines is the same request.
	if r := b.buy(b.customer, fmt.Sprintf(`{"ids":[%q],"quantity":2}`, p.ID), key); r.status != http.StatusCreated {
		t.Errorf("same lines in the ids form: %s", r)
	}
	if got := b.units(p.ID); got != [3]int64{8, 0, 2} {
		t.Errorf("reserved more than once: %v", got)
	}

	other := b.buy(b.customer, fmt.Sprintf(`{"items":[{"productId":%q,"quantity":1}]}`, q.ID), key)
	if pr := decodeInto[apiProblem](t, other); other.status != http.StatusUnprocessableEntity || pr.Code != "idempotency_key_reused" {
		t.Errorf("same key, other body: %s", other)
	}
	if got := b.units(q.ID); got != [3]int64{10, 0, 0} {
		t.Errorf("other body changed stock: %v", got)
	}

	// Another customer's key is another key.
	stranger, _ := b.iss.Token(t, "customer-2", auth.RoleCustomer)
	if r := b.buy(stranger, body, key); r.status != http.StatusCreated || decodeInto[apiOrder](t, r).ID == decodeInto[apiOrder](t, first).ID {
		t.Errorf("another customer, same key: %s", r)
	}

	// A refused buy is refused again, without reserving.
	short := map[string]string{"Idempotency-Key": "too-many"}
	tooMany := fmt.Sprintf(`{"items":[{"productId":%q,"quantity":1000}]}`, q.ID)
	for range 2 {
		if r := b.buy(b.customer, tooMany, short); r.status != http.StatusConflict || !strings.Contains(string(r.body), q.ID) {
			t.Errorf("short stock under a key: %s", r)
		}
	}

	// While the first buy under a key is still reserving: 409, retry later.
	ctx := context.Background()
	running := &product.Purchase{CustomerID: "customer-1", IdempotencyKey: "in-flight", BodyHash: product.BodyHash([]product.Line{{ProductID: q.ID, Quantity: 1}}, ""),
		Lines: []product.PurchaseLine{{ProductID: q.ID, Quantity: 1}}, Status: product.StatusReserving, CreatedAt: time.Now(), UpdatedAt: time.Now()}
	if err := b.purchases.Create(ctx, running); err != nil {
		t.Fatal(err)
	}
	r := b.buy(b.customer, fmt.Sprintf(`{"items":[{"productId":%q,"quantity":1}]}`, q.ID), map[string]string{"Idempotency-Key": "in-flight"})
	if pr := decodeInto[apiProblem](t, r); r.status != http.StatusConflict || pr.Code != "request_in_progress" || r.header.Get("Retry-After") == "" {
		t.Errorf("key in flight: %s", r)
	}
}

// TestBuySameKeyConcurrently sends one body under one key many times at
// once: one order, reserved once; every answer is that order or a 409
// "in progress".
func TestBuySameKeyConcurrently(t *testing.T) {
	b := newBuyEnv(t, buyOptions{confirm: true})
	p := b.create("Canoe", "900.00", 5)
	body := fmt.Sprintf(`{"items":[{"productId":%q,"quantity":1}]}`, p.ID)
	var (
		mu     sync.Mutex
		orders = map[string]bool{}
		counts = map[int]int{}
		wg     sync.WaitGroup
	)
	for range 8 {
		wg.Go(func() {
			r := b.buy(b.customer, body, map[string]string{"Idempotency-Key": "race"})
			mu.Lock()
			defer mu.Unlock()
			counts[r.status]++
			if r.status == http.StatusCreated {
				orders[decodeInto[apiOrder](t, r).ID] = true
			}
		})
	}
	wg.Wait()
	if len(orders) != 1 || counts[http.StatusCreated]+counts[http.StatusConflict] != 8 {
		t.Errorf("answers %v, orders %v", counts, orders)
	}
	if got := b.units(p.ID); got != [3]int64{4, 0, 1} {
		t.Errorf("units %v", got)
	}
}

// TestBuyStoreAway: MongoDB unreachable is 503 with Retry-After.
func TestBuyStoreAway(t *testing.T) {
	proxy := testenv.NewTCPProxy(t, hostOf(t, testenv.Mongo(t)))
	b := newBuyEnv(t, buyOptions{mongoAddr: proxy.Addr(), confirm: true})
	p := b.create("Rope", "12.00", 3)
	proxy.Cut()
	r := b.buy(b.customer, fmt.Sprintf(`{"items":[{"productId":%q,"quantity":1}]}`, p.ID), nil)
	if r.status != http.StatusServiceUnavailable || r.header.Get("Retry-After") == "" {
		t.Errorf("buy with MongoDB away: %s", r)
	}
	proxy.Restore()
}
