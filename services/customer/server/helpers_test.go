package server_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/mux"

	"github.com/travluk/ecom/dev/shoptest"
	"github.com/travluk/ecom/dev/testenv"
	"github.com/travluk/ecom/services/customer/internal/httpapi"
	"github.com/travluk/ecom/services/customer/server"
	"github.com/travluk/ecom/services/platform/openapi/openapitest"
)

// service is one running customer service, started by start and stopped
// when the test ends (or earlier by stop).
type service struct {
	t    testing.TB
	base string
	stop func() error
}

// baseEnv is what every test's service gets: real (or embedded) servers, a
// free port, a data dir for the signing key.
func baseEnv(t testing.TB) map[string]string {
	return map[string]string{
		"HTTP_ADDR":        "127.0.0.1:0",
		"MONGODB_URI":      testenv.Mongo(t),
		"MONGODB_DATABASE": testenv.Database(t),
		"REDIS_URL":        testenv.Redis(t),
		"DATA_DIR":         t.TempDir(),
		"LOG_LEVEL":        "debug",
	}
}

// validated is Options that hold every exchange with the service to the
// OpenAPI document, failing t with each that breaks it. TestAPI also
// checks coverage; the other tests only validate.
func validated(t testing.TB) server.Options {
	return server.Options{WrapHandler: func(r *mux.Router) http.Handler {
		c, err := openapitest.NewCoverage(httpapi.OpenAPI, r)
		if err != nil {
			t.Fatalf("openapi: %v", err)
		}
		return c.Wrap(t, r)
	}}
}

// start runs the service with env (and opts) and waits until it listens.
func start(t testing.TB, env map[string]string, opts server.Options) *service {
	t.Helper()
	srv := testenv.Serve(t, func(ctx context.Context, stdout io.Writer, onListen func(net.Addr)) error {
		if hook := opts.OnListen; hook != nil {
			opts.OnListen = func(a net.Addr) { hook(a); onListen(a) }
		} else {
			opts.OnListen = onListen
		}
		return server.RunWithOptions(ctx, func(k string) string { return env[k] }, stdout, opts)
	})
	return &service{t: t, base: srv.URL, stop: srv.Stop}
}

// response is what a client saw.
type response struct {
	status int
	header http.Header
	body   []byte
	took   time.Duration
}

func (r response) json(t testing.TB) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(r.body, &m); err != nil {
		t.Fatalf("body is not a JSON object: %v: %s", err, r.body)
	}
	return m
}

func (r response) String() string {
	return fmt.Sprintf("%d %s", r.status, r.body)
}

// req describes one request. Body is sent as is when it is a string or
// []byte, else JSON-encoded; ContentType defaults to application/json when
// there is a body.
type req struct {
	method, path string
	token        string
	body         any
	contentType  string
	header       map[string]string
}

func (s *service) do(r req) response {
	s.t.Helper()
	got := shoptest.Do(s.t, shoptest.Request{Method: r.method, URL: s.base + r.path, Token: r.token,
		Body: r.body, ContentType: r.contentType, Header: r.header})
	return response{status: got.Status, header: got.Header, body: got.Body, took: got.Took}
}

// expect fails the test unless the response has the status; problems must
// come as application/problem+json.
func expect(t testing.TB, r response, status int, what string) response {
	t.Helper()
	if r.status != status {
		t.Fatalf("%s: got %s, want %d", what, r, status)
	}
	if status >= 400 && !strings.HasPrefix(r.header.Get("Content-Type"), "application/problem+json") {
		t.Fatalf("%s: error response Content-Type %q, want application/problem+json", what, r.header.Get("Content-Type"))
	}
	return r
}

// uniq returns a string no other test run uses, so tests can share a real
// Redis across runs.
func uniq() string {
	b := make([]byte, 5)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// clientIP returns a random documentation-range address to stand for one
// client (sent as X-Forwarded-For), so throttling counters of different
// tests and runs never meet.
func clientIP() string {
	b := make([]byte, 2)
	rand.Read(b)
	return fmt.Sprintf("198.51.%d.%d", b[0], b[1])
}

type account struct {
	id, name, email, password string
}

func (s *service) register(t testing.TB, name string) account {
	t.Helper()
	a := account{name: name, email: strings.ToLower(name) + "-" + uniq() + "@example.com", password: "pw-" + uniq()}
	r := expect(t, s.do(req{method: "POST", path: "/api/customers/register", body: map[string]string{
		"name": a.name, "email": a.email, "password": a.password}}), 201, "register "+name)
	a.id = r.json(t)["id"].(string)
	return a
}

type tokens struct {
	access, refresh string
}

func (s *service) login(t testing.TB, email, password string) tokens {
	t.Helper()
	r := expect(t, s.do(req{method: "POST", path: "/api/customers/login",
		body: map[string]string{"email": email, "password": password}, header: map[string]string{"X-Forwarded-For": clientIP()}}), 200, "login "+email)
	m := r.json(t)
	return tokens{access: m["accessToken"].(string), refresh: m["refreshToken"].(string)}
}

// eventually polls check until it returns true or the deadline passes.
func eventually(t testing.TB, within time.Duration, what string, check func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		if check() {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %v", what, within)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
