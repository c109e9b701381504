package httpapi

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/travluk/ecom/dev/shoptest"
	"github.com/travluk/ecom/dev/testenv"
	"github.com/travluk/ecom/services/order/internal/mongodb"
	"github.com/travluk/ecom/services/order/internal/order"
	"github.com/travluk/ecom/services/platform/auth"
	"github.com/travluk/ecom/services/platform/auth/authtest"
	"github.com/travluk/ecom/services/platform/httpserver"
	"github.com/travluk/ecom/services/platform/mongoconn"
	"github.com/travluk/ecom/services/platform/openapi/openapitest"
	"github.com/travluk/ecom/services/platform/redisconn"
)

// coverage records every response of every test in this package; TestMain
// checks it against the OpenAPI document after a full run. Each exchange is
// validated against the document as it happens (serve).
var coverage *openapitest.Coverage

func TestMain(m *testing.M) {
	flag.Parse()
	cov, err := openapitest.NewCoverage(OpenAPI, NewHandler(nil, auth.NewVerifier(auth.VerifierOptions{
		Issuer: "x", Audience: "x", Keys: auth.StaticKeys{}, Sessions: auth.NewRedisSessions(nil, 0)}), nil))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	coverage = cov
	// httpserver.Instrument logs every request at info; only worse is
	// worth reading beside a failing test.
	slog.SetDefault(slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})))
	os.Exit(coverage.RunTests(m))
}

// serve wraps h as Run serves it, in httpserver.Instrument (which sets
// X-Request-Id on every response), and fails t with every exchange that
// breaks the OpenAPI document.
func serve(t testing.TB, h http.Handler) http.Handler {
	return coverage.Wrap(t, httpserver.Instrument(prometheus.NewRegistry())(h))
}

// env is one order API over real stores, with an admin and two customers,
// ada and bob.
type env struct {
	t     testing.TB
	url   string
	iss   *authtest.Issuer
	svc   *order.Service
	repo  *mongodb.Orders
	admin string
	ada   string
	bob   string
	seq   int
}

// envOptions route the session checks through a proxy, for outage tests.
type envOptions struct {
	sessionsAddr string // host:port replacing Redis's for the verifier
}

func newEnv(t testing.TB, o envOptions) *env {
	t.Helper()
	ctx := context.Background()
	mc, err := mongoconn.Connect(ctx, testenv.Mongo(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = mc.Disconnect(context.Background()) })
	repo := mongodb.NewOrders(mc.Database(testenv.Database(t)))
	if err := repo.EnsureIndexes(ctx); err != nil {
		t.Fatal(err)
	}
	svc := order.NewService(repo, nil, nil)
	redisURL := testenv.Redis(t)
	sessionsURL := redisURL
	if o.sessionsAddr != "" {
		u, _ := url.Parse(redisURL)
		u.Host = o.sessionsAddr
		sessionsURL = u.String()
	}
	rdb, err := redisconn.Connect(sessionsURL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { rdb.Close() })
	iss := authtest.NewIssuer(t, redisURL)
	v := auth.NewVerifier(auth.VerifierOptions{Issuer: authtest.IssuerName, Audience: authtest.Audience,
		Keys: iss.Keys(), Sessions: auth.NewRedisSessions(rdb, 0)})
	srv := httptest.NewServer(serve(t, NewHandler(svc, v, nil)))
	t.Cleanup(srv.Close)
	admin, _ := iss.Token(t, "admin-1", auth.RoleAdmin)
	ada, _ := iss.Token(t, "ada", auth.RoleCustomer)
	bob, _ := iss.Token(t, "bob", auth.RoleCustomer)
	return &env{t: t, url: srv.URL, iss: iss, svc: svc, repo: repo, admin: admin, ada: ada, bob: bob}
}

// order creates a confirmed order for customer, as order.requested does,
// and moves it (as an admin) through path.
func (e *env) order(customer string, path ...order.Status) apiOrder {
	e.t.Helper()
	e.seq++
	id := fmt.Sprintf("%024x", time.Now().UnixNano()+int64(e.seq))
	_, err := e.svc.CreateFromRequest(context.Background(), order.Request{
		OrderID: id, CustomerID: customer, Currency: "EUR", ShippingAddress: "1 Loop St",
		Items: []order.RequestItem{
			{ProductID: "p1", Name: "Mug", UnitPrice: 1999, Quantity: 2},
			{ProductID: "p2", Name: "Tea", UnitPrice: 10, Quantity: 3},
		},
	})
	if err != nil {
		e.t.Fatal(err)
	}
	for _, s := range path {
		if r := e.do(req{method: "PUT", path: "/api/orders/status/" + id, token: e.admin, body: fmt.Sprintf(`{"status":%q}`, s)}); r.status != http.StatusOK {
			e.t.Fatalf("move to %s: %s", s, r)
		}
	}
	return e.get(e.admin, id)
}

func (e *env) get(token, id string) apiOrder {
	e.t.Helper()
	r := e.do(req{method: "GET", path: "/api/orders/" + id, token: token})
	if r.status != http.StatusOK {
		e.t.Fatalf("GET %s: %s", id, r)
	}
	return decodeInto[apiOrder](e.t, r)
}

// req is one request. A string body is sent as is; anything else is
// JSON-encoded. contentType defaults to application/json.
type req struct {
	method, path string
	token        string
	body         any
	contentType  string
}

type response struct {
	status int
	header http.Header
	body   []byte
}

func (r response) String() string { return fmt.Sprintf("%d %s", r.status, r.body) }

func (e *env) do(r req) response {
	e.t.Helper()
	got := shoptest.Do(e.t, shoptest.Request{Method: r.method, URL: e.url + r.path, Token: r.token,
		Body: r.body, ContentType: r.contentType})
	return response{status: got.Status, header: got.Header, body: got.Body}
}

// apiOrder is an order as clients decode it; money stays the exact JSON
// text.
type apiOrder struct {
	ID         string `json:"id"`
	CustomerID string `json:"customerId"`
	Items      []struct {
		ProductID string      `json:"productId"`
		Name      string      `json:"name"`
		UnitPrice json.Number `json:"unitPrice"`
		Quantity  int64       `json:"quantity"`
		LineTotal json.Number `json:"lineTotal"`
	} `json:"items"`
	Quantity        int64        `json:"quantity"`
	TotalAmount     json.Number  `json:"totalAmount"`
	Currency        string       `json:"currency"`
	Status          string       `json:"status"`
	StatusHistory   []apiHistory `json:"statusHistory"`
	ShippingAddress string       `json:"shippingAddress"`
	Notes           string       `json:"notes"`
	CreatedAt       time.Time    `json:"createdAt"`
	UpdatedAt       time.Time    `json:"updatedAt"`
}

type apiHistory struct {
	Status    string    `json:"status"`
	Timestamp time.Time `json:"timestamp"`
	Note      string    `json:"note"`
}

type apiPage struct {
	Items      []apiOrder `json:"items"`
	NextCursor string     `json:"nextCursor"`
}

type apiProblem struct {
	Status int    `json:"status"`
	Code   string `json:"code"`
	Detail string `json:"detail"`
	Errors []struct {
		Field   string `json:"field"`
		Message string `json:"message"`
	} `json:"errors"`
}

func decodeInto[T any](t testing.TB, r response) T {
	t.Helper()
	var v T
	dec := json.NewDecoder(bytes.NewReader(r.body))
	dec.UseNumber()
	if err := dec.Decode(&v); err != nil {
		t.Fatalf("decode %s: %v", r, err)
	}
	return v
}

func fields(p apiProblem) []string {
	var out []string
	for _, f := range p.Errors {
		out = append(out, f.Field)
	}
	return out
}
