package flowtest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"
	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/travluk/ecom/dev/shoptest"
	"github.com/travluk/ecom/dev/testenv"
)

// The shop binary is built once per test binary, on first use, so that a
// filtered or -short run builds nothing.
var build struct {
	once sync.Once
	dir  string // removed by TestMain
	path string
	err  error
}

func TestMain(m *testing.M) {
	code := m.Run()
	if build.dir != "" {
		os.RemoveAll(build.dir)
	}
	os.Exit(code)
}

// binary returns the path of a freshly built dev/cmd/travluk (what `make
// run` starts), failing t if it does not build.
func binary(t *testing.T) string {
	t.Helper()
	build.once.Do(func() {
		build.dir, build.err = os.MkdirTemp("", "flowtest-")
		if build.err != nil {
			return
		}
		build.path = filepath.Join(build.dir, "travluk")
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
		defer cancel()
		cmd := exec.CommandContext(ctx, "go", "build", "-o", build.path, "github.com/travluk/ecom/dev/cmd/travluk")
		if out, err := cmd.CombinedOutput(); err != nil {
			build.err = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if build.err != nil {
		t.Fatal(build.err)
	}
	return build.path
}

// Timing of the flow in every shop the tests start: short, so that a
// pending buy, a stuck purchase and its rollback all happen within a test.
const (
	confirmWait     = 2 * time.Second
	purchaseTimeout = 3 * time.Second
	adminEmail      = "admin@flowtest.example"
	adminPassword   = "admin-password-1"
)

// shop is one DATA_DIR and its addresses, started as a subprocess as often
// as a test likes: a restart keeps the stores (the embedded FerretDB lives
// under DATA_DIR) but not the sessions (miniredis does not), so tokens are
// taken again after each start.
type shop struct {
	t    *testing.T
	env  map[string]string
	base string // the ingress stand-in, "http://127.0.0.1:port"

	// Set by start, for the running process.
	cmd      *exec.Cmd
	exited   chan struct{}
	waitErr  error
	out      *output
	mongoURI string
}

// newShop prepares a shop on its own DATA_DIR and free ports. amqpURL empty
// means the in-process bus; else the services use RabbitMQ there under an
// exchange and queue prefix of their own, deleted when t ends.
func newShop(t *testing.T, amqpURL string) *shop {
	t.Helper()
	env := map[string]string{
		"DATA_DIR":         t.TempDir(),
		"INGRESS_ADDR":     testenv.FreeAddr(t),
		"CUSTOMER_ADDR":    testenv.FreeAddr(t),
		"PRODUCT_ADDR":     testenv.FreeAddr(t),
		"ORDER_ADDR":       testenv.FreeAddr(t),
		"ADMIN_EMAIL":      adminEmail,
		"ADMIN_PASSWORD":   adminPassword,
		"BUY_CONFIRM_WAIT": confirmWait.String(),
		"PURCHASE_TIMEOUT": purchaseTimeout.String(),
		"AMQP_URL":         amqpURL,
		// Only the products each test creates, as before `make run`
		// loaded the demo catalog by default.
		"SEED_CATALOG": "false",
	}
	if amqpURL != "" {
		// Here, before start: the namespace's cleanup runs after the
		// shop's, which kills the process.
		env["AMQP_EXCHANGE"], env["AMQP_QUEUE_PREFIX"] = shoptest.AMQPNamespace(t, amqpURL, "flowtest")
	}
	return &shop{t: t, env: env, base: "http://" + env["INGRESS_ADDR"]}
}

// start runs the shop with failpoints (FAILPOINTS; "" for none) and waits
// until every service is ready.
func (s *shop) start(failpoints string) {
	t := s.t
	t.Helper()
	if s.cmd != nil {
		t.Fatal("shop started twice")
	}
	// Only what the shop needs: nothing of the test machine's environment
	// (a MONGODB_URI, REDIS_URL or AMQP_URL above all) reaches it unasked.
	env := []string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME"), "TMPDIR=" + os.TempDir(), "FAILPOINTS=" + failpoints}
	for k, v := range s.env {
		env = append(env, k+"="+v)
	}
	s.out = &output{}
	s.cmd = exec.Command(binary(t))
	s.cmd.Env = env
	s.cmd.Stdout, s.cmd.Stderr = s.out, s.out
	if err := s.cmd.Start(); err != nil {
		t.Fatalf("start the shop: %v", err)
	}
	// exited is for anyone to see the end; ended, for WaitOK to take why.
	cmd, exited, ended := s.cmd, make(chan struct{}), make(chan error, 1)
	s.exited = exited
	go func() { s.waitErr = cmd.Wait(); ended <- s.waitErr; close(exited) }()
	t.Cleanup(func() {
		// A test that failed half-way leaves no process behind.
		_ = cmd.Process.Kill()
		<-exited
	})

	deadline := time.Now().Add(30 * time.Second)
	for _, name := range []string{"CUSTOMER_ADDR", "PRODUCT_ADDR", "ORDER_ADDR"} {
		testenv.WaitOK(t, "http://"+s.env[name]+"/readyz", deadline, ended, s.out)
	}
	m := mongoURIPattern.FindStringSubmatch(s.out.String())
	if m == nil {
		t.Fatalf("the shop logged no embedded MongoDB URI:\n%s", s.out.tail())
	}
	s.mongoURI = m[1]
	if u, err := strconv.Unquote(m[1]); err == nil {
		s.mongoURI = u
	}
}

// mongoURIPattern finds the URI dev/stack logs when it starts the embedded
// MongoDB.
var mongoURIPattern = regexp.MustCompile(`embedded MongoDB.* uri=("[^"]*"|\S+)`)

// stop ends the shop with SIGTERM and waits for a clean exit.
func (s *shop) stop() {
	t := s.t
	t.Helper()
	_ = s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.exited:
		if s.waitErr != nil {
			t.Errorf("the shop did not stop cleanly: %v\n%s", s.waitErr, s.out.tail())
		}
	case <-time.After(20 * time.Second):
		t.Fatalf("the shop did not stop within 20 s:\n%s", s.out.tail())
	}
	s.cmd = nil
}

// waitKilled waits for the shop to die of SIGKILL (a fail point).
func (s *shop) waitKilled() {
	t := s.t
	t.Helper()
	select {
	case <-s.exited:
	case <-time.After(20 * time.Second):
		t.Fatalf("the shop was not killed within 20 s:\n%s", s.out.tail())
	}
	var exit *exec.ExitError
	if !errors.As(s.waitErr, &exit) || !exit.Sys().(syscall.WaitStatus).Signaled() || exit.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
		t.Fatalf("the shop ended with %v, want SIGKILL from its fail point:\n%s", s.waitErr, s.out.tail())
	}
	s.cmd = nil
}

// client is the HTTP client of every test: enough connections for the
// race's 200 concurrent buys, and a bound on each call.
var client = &http.Client{
	Timeout:   20 * time.Second,
	Transport: &http.Transport{MaxIdleConns: 512, MaxIdleConnsPerHost: 512, IdleConnTimeout: 30 * time.Second},
}

// answer is the outcome of one call: a status and body, or a transport
// error (the process died under it).
type answer struct {
	code     int
	body     []byte
	location string
	err      error
}

func (s *shop) do(method, path, token, body string) answer {
	req, err := http.NewRequest(method, s.base+path, strings.NewReader(body))
	if err != nil {
		return answer{err: err}
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := client.Do(req)
	if err != nil {
		return answer{err: err}
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return answer{code: resp.StatusCode, body: b, location: resp.Header.Get("Location"), err: err}
}

// must calls and fails t unless the answer has status want; it decodes the
// body into v when v is not nil.
func (s *shop) must(method, path, token, body string, want int, v any) {
	t := s.t
	t.Helper()
	a := s.do(method, path, token, body)
	if a.err != nil || a.code != want {
		t.Fatalf("%s %s = %d %v, want %d: %s", method, path, a.code, a.err, want, a.body)
	}
	if v != nil {
		if err := json.Unmarshal(a.body, v); err != nil {
			t.Fatalf("%s %s: decode %s: %v", method, path, a.body, err)
		}
	}
}

// login returns an access token.
func (s *shop) login(email, password string) string {
	s.t.Helper()
	body, _ := json.Marshal(map[string]string{"email": email, "password": password})
	var pair struct{ AccessToken string }
	s.must("POST", "/api/customers/login", "", string(body), http.StatusOK, &pair)
	return pair.AccessToken
}

// customers registers n customers and returns their tokens.
func (s *shop) customers(n int) (emails, tokens []string) {
	s.t.Helper()
	for i := range n {
		email := fmt.Sprintf("customer%d@flowtest.example", i)
		body := fmt.Sprintf(`{"name":"Customer %d","email":%q,"password":"correct horse %d"}`, i, email, i)
		s.must("POST", "/api/customers/register", "", body, http.StatusCreated, nil)
		emails = append(emails, email)
		tokens = append(tokens, s.login(email, fmt.Sprintf("correct horse %d", i)))
	}
	return emails, tokens
}

// relogin takes fresh tokens for customers made by customers (sessions do
// not survive a restart).
func (s *shop) relogin(emails []string) []string {
	s.t.Helper()
	tokens := make([]string, len(emails))
	for i, email := range emails {
		var n int
		fmt.Sscanf(email, "customer%d@", &n)
		tokens[i] = s.login(email, fmt.Sprintf("correct horse %d", n))
	}
	return tokens
}

// product creates a product with stock units and returns its id.
func (s *shop) product(admin, name string, stock int) string {
	s.t.Helper()
	var p struct{ ID string }
	body := fmt.Sprintf(`{"name":%q,"description":"For the flow tests.","price":12.5,"stock":%d}`, name, stock)
	s.must("POST", "/api/products", admin, body, http.StatusCreated, &p)
	return p.ID
}

// line is one line of a buy.
type line struct {
	ProductID string `json:"productId"`
	Quantity  int    `json:"quantity"`
}

// buy posts a buy. For a 2xx answer, orderID is the order it made (from
// Location, which both 201 and 202 carry).
func (s *shop) buy(token string, lines ...line) (a answer, orderID string) {
	body, _ := json.Marshal(map[string]any{"items": lines})
	a = s.do("POST", "/api/products/buy", token, string(body))
	if a.err == nil && (a.code == http.StatusCreated || a.code == http.StatusAccepted) {
		orderID = strings.TrimPrefix(a.location, "/api/orders/")
	}
	return a, orderID
}

// orderView is what the tests read of an order.
type orderView struct {
	ID     string `json:"id"`
	Status string `json:"status"`
	Items  []struct {
		ProductID string `json:"productId"`
		Quantity  int64  `json:"quantity"`
	} `json:"items"`
}

// orders lists every order through the order API as admin, page by page.
func (s *shop) orders(admin string) []orderView {
	s.t.Helper()
	var all []orderView
	cursor := ""
	for {
		var page struct {
			Items      []orderView `json:"items"`
			NextCursor string      `json:"nextCursor"`
		}
		s.must("GET", "/api/orders?limit=100&cursor="+url.QueryEscape(cursor), admin, "", http.StatusOK, &page)
		all = append(all, page.Items...)
		if page.NextCursor == "" {
			return all
		}
		cursor = page.NextCursor
	}
}

// stockDoc is a product as the product service stores it: the units the
// API does not show (reserved, sold) and the reservation markers.
type stockDoc struct {
	ID           bson.ObjectID    `bson:"_id"`
	Name         string           `bson:"name"`
	Stock        int64            `bson:"stock"`
	Reserved     int64            `bson:"reserved"`
	Sold         int64            `bson:"sold"`
	Reservations map[string]int64 `bson:"reservations"`
}

// purchaseDoc is what the tests read of a purchase: where it ended, and
// why when it was rejected ("timeout" is the sweeper's rollback).
type purchaseDoc struct {
	ID     string `bson:"_id"`
	Status string `bson:"status"`
	Reason string `bson:"reason"`
}

// stores reads the shop's products and purchases straight from its
// MongoDB (database "product", as dev/stack names it).
func (s *shop) stores() (products map[string]stockDoc, purchases map[string]purchaseDoc) {
	t := s.t
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := mongo.Connect(options.Client().ApplyURI(s.mongoURI))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Disconnect(ctx)
	db := c.Database("product")
	cur, err := db.Collection("products").Find(ctx, bson.D{})
	if err != nil {
		t.Fatalf("read products: %v", err)
	}
	var docs []stockDoc
	if err := cur.All(ctx, &docs); err != nil {
		t.Fatalf("read products: %v", err)
	}
	products = make(map[string]stockDoc)
	for _, d := range docs {
		products[d.ID.Hex()] = d
	}
	cur, err = db.Collection("purchases").Find(ctx, bson.D{}, options.Find().SetProjection(bson.D{{Key: "status", Value: 1}, {Key: "reason", Value: 1}}))
	if err != nil {
		t.Fatalf("read purchases: %v", err)
	}
	var ps []purchaseDoc
	if err := cur.All(ctx, &ps); err != nil {
		t.Fatalf("read purchases: %v", err)
	}
	purchases = make(map[string]purchaseDoc)
	for _, p := range ps {
		purchases[p.ID] = p
	}
	return products, purchases
}

// eventually retries check every 200 ms until it returns nil, failing t
// with its last error after within.
func eventually(t *testing.T, within time.Duration, check func() error) {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		err := check()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("after %v: %v", within, err)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// amqpThroughProxy returns testenv.AMQP(t) routed through a TCP proxy the
// test can cut (skipping without RabbitMQ, failing under REQUIRE_SERVICES=1).
func amqpThroughProxy(t *testing.T) (direct, proxied string, proxy *testenv.TCPProxy) {
	t.Helper()
	direct = testenv.AMQP(t)
	u, err := url.Parse(direct)
	if err != nil {
		t.Fatalf("AMQP_URL: %v", err)
	}
	proxy = testenv.NewTCPProxy(t, u.Host)
	u.Host = proxy.Addr()
	return direct, u.String(), proxy
}

// queueDepths returns the ready messages of each of the shop's queues.
func (s *shop) queueDepths(amqpURL string) (map[string]int, error) {
	conn, err := amqp.Dial(amqpURL)
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	depths := make(map[string]int)
	for _, q := range shoptest.Queues(s.env["AMQP_QUEUE_PREFIX"]) {
		ch, err := conn.Channel()
		if err != nil {
			return nil, err
		}
		info, err := ch.QueueDeclarePassive(q, true, false, false, false, nil)
		ch.Close()
		if err != nil {
			return nil, fmt.Errorf("queue %s: %w", q, err)
		}
		depths[q] = info.Messages
	}
	return depths, nil
}

// output collects the output of a shop process.
type output struct{ testenv.LogBuffer }

// tail is the end of the output, for failure messages.
func (b *output) tail() string {
	s := b.String()
	if len(s) > 8000 {
		s = "…" + s[len(s)-8000:]
	}
	return s
}
