package httpapi

import (
	"bytes"
	"context"
	"crypto/rand"
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
	"github.com/redis/go-redis/v9"

	"github.com/travluk/ecom/dev/shoptest"
	"github.com/travluk/ecom/dev/testenv"
	"github.com/travluk/ecom/services/platform/auth"
	"github.com/travluk/ecom/services/platform/auth/authtest"
	"github.com/travluk/ecom/services/platform/httpserver"
	"github.com/travluk/ecom/services/platform/mongoconn"
	"github.com/travluk/ecom/services/platform/openapi/openapitest"
	"github.com/travluk/ecom/services/platform/redisconn"
	"github.com/travluk/ecom/services/product/internal/mongodb"
	"github.com/travluk/ecom/services/product/internal/product"
	"github.com/travluk/ecom/services/product/internal/rediscache"
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

// env is one product API over real stores, with an admin and a customer.
type env struct {
	t        testing.TB
	url      string
	iss      *authtest.Issuer
	admin    string
	customer string
	cache    *rediscache.Cache
	reg      *prometheus.Registry
	repo     *mongodb.Products
}

// envOptions route the service's MongoDB or cache Redis through a proxy,
// for outage tests. Sessions always use Redis directly.
type envOptions struct {
	mongoAddr string // host:port replacing MongoDB's
	cacheAddr string // host:port replacing the cache's Redis
	noCache   bool
}

func newEnv(t testing.TB, o envOptions) *env {
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
	t.Cleanup(func() { _ = mc.Disconnect(context.Background()) })
	repo := mongodb.NewProducts(mc.Database(testenv.Database(t)))
	if err := repo.EnsureIndexes(ctx); err != nil {
		t.Fatal(err)
	}
	redisURL := testenv.Redis(t)
	sessionsRDB := connectRedis(t, redisURL)
	cacheRDB := sessionsRDB
	if o.cacheAddr != "" {
		cacheRDB = connectRedis(t, withHost(t, redisURL, o.cacheAddr))
	}
	reg := prometheus.NewRegistry()
	cache := rediscache.New(cacheRDB, rediscache.Options{TTL: time.Minute, Registerer: reg,
		KeyPrefix: "test:" + rand.Text()[:10] + ":"})
	runCtx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	go cache.Run(runCtx)
	var c product.Cache = cache
	if o.noCache {
		c = nil
	}
	svc := product.NewService(repo, c, nil)
	iss := authtest.NewIssuer(t, redisURL)
	v := auth.NewVerifier(auth.VerifierOptions{Issuer: authtest.IssuerName, Audience: authtest.Audience,
		Keys: auth.NewJWKSClient(iss.JWKSURL(), nil), Sessions: auth.NewRedisSessions(sessionsRDB, time.Second)})
	srv := httptest.NewServer(serve(t, NewHandler(svc, v, nil)))
	t.Cleanup(srv.Close)
	admin, _ := iss.Token(t, "admin-1", auth.RoleAdmin)
	customer, _ := iss.Token(t, "customer-1", auth.RoleCustomer)
	return &env{t: t, url: srv.URL, iss: iss, admin: admin, customer: customer, cache: cache, reg: reg, repo: repo}
}

func withHost(t testing.TB, raw, host string) string {
	t.Helper()
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	u.Host = host
	return u.String()
}

func hostOf(t testing.TB, raw string) string {
	t.Helper()
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	return u.Host
}

func connectRedis(t testing.TB, raw string) *redis.Client {
	t.Helper()
	rdb, err := redisconn.Connect(raw)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { rdb.Close() })
	return rdb
}

// req is one request. A string or []byte body is sent as is; anything
// else is JSON-encoded. contentType defaults to application/json.
type req struct {
	method, path string
	token        string
	body         any
	contentType  string
	header       map[string]string
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
		Body: r.body, ContentType: r.contentType, Header: r.header})
	return response{status: got.Status, header: got.Header, body: got.Body}
}

// apiProduct is a product as clients decode it; price stays the exact
// JSON text.
type apiProduct struct {
	ID          string          `json:"id"`
	Name        string          `json:"name"`
	Description string          `json:"description"`
	Price       json.Number     `json:"price"`
	Stock       json.Number     `json:"stock"`
	Attributes  map[string]any  `json:"attributes"`
	CreatedAt   time.Time       `json:"createdAt"`
	UpdatedAt   time.Time       `json:"updatedAt"`
	Version     int64           `json:"version"`
	Extra       json.RawMessage `json:"-"`
}

type apiPage struct {
	Items      []apiProduct `json:"items"`
	NextCursor string       `json:"nextCursor"`
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

func (e *env) create(name, price string, stock int) apiProduct {
	e.t.Helper()
	r := e.do(req{method: "POST", path: "/api/products", token: e.admin,
		body: fmt.Sprintf(`{"name":%q,"description":"A fine %s","price":%s,"stock":%d,"attributes":{"brand":"Acme"}}`, name, name, price, stock)})
	if r.status != http.StatusCreated {
		e.t.Fatalf("create %s: %s", name, r)
	}
	return decodeInto[apiProduct](e.t, r)
}

func (e *env) get(id string) (apiProduct, response) {
	e.t.Helper()
	r := e.do(req{method: "GET", path: "/api/products/" + id})
	if r.status != http.StatusOK {
		return apiProduct{}, r
	}
	return decodeInto[apiProduct](e.t, r), r
}

func (e *env) list(query string) apiPage {
	e.t.Helper()
	r := e.do(req{method: "GET", path: "/api/products?" + query})
	if r.status != http.StatusOK {
		e.t.Fatalf("list ?%s: %s", query, r)
	}
	return decodeInto[apiPage](e.t, r)
}

func fields(p apiProblem) []string {
	var out []string
	for _, f := range p.Errors {
		out = append(out, f.Field)
	}
	return out
}

func mustCounter(t testing.TB, e *env, result string) prometheus.Counter {
	t.Helper()
	mfs, err := e.reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != "product_cache_lookups_total" {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "result" && l.GetValue() == result {
					c := prometheus.NewCounter(prometheus.CounterOpts{Name: "copy"})
					c.Add(m.GetCounter().GetValue())
					return c
				}
			}
		}
	}
	t.Fatalf("product_cache_lookups_total{result=%q} not registered", result)
	return nil
}
