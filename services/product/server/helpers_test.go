package server_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/travluk/ecom/dev/shoptest"
	"github.com/travluk/ecom/dev/testenv"
	"github.com/travluk/ecom/services/platform/auth/authtest"
	"github.com/travluk/ecom/services/platform/messaging"
	"github.com/travluk/ecom/services/product/server"
)

// service is one running product service, stopped when the test ends.
type service struct {
	t    testing.TB
	base string
}

// baseEnv is what every test's service gets: real (or embedded) servers,
// a free port, and iss's JWKS.
func baseEnv(t testing.TB, iss *authtest.Issuer) map[string]string {
	return map[string]string{
		"HTTP_ADDR":        "127.0.0.1:0",
		"MONGODB_URI":      testenv.Mongo(t),
		"MONGODB_DATABASE": testenv.Database(t),
		"REDIS_URL":        testenv.Redis(t),
		"JWKS_URL":         iss.JWKSURL(),
		"LOG_LEVEL":        "debug",
	}
}

// start runs the service with env and an in-process bus of its own, and
// waits until it listens.
func start(t testing.TB, env map[string]string) *service {
	t.Helper()
	return startWith(t, env, server.Options{Bus: messaging.NewMemoryBus(messaging.MemoryOptions{}).For})
}

// startWith runs the service with env and o and waits until it listens.
func startWith(t testing.TB, env map[string]string, o server.Options) *service {
	t.Helper()
	srv := testenv.Serve(t, func(ctx context.Context, stdout io.Writer, onListen func(net.Addr)) error {
		o.OnListen = onListen
		return server.RunWithOptions(ctx, func(k string) string { return env[k] }, stdout, o)
	})
	return &service{t: t, base: srv.URL}
}

type response struct {
	status int
	header http.Header
	body   []byte
	took   time.Duration
}

func (r response) String() string { return fmt.Sprintf("%d %s", r.status, r.body) }

func (r response) json(t testing.TB) map[string]any {
	t.Helper()
	var m map[string]any
	dec := json.NewDecoder(bytes.NewReader(r.body))
	dec.UseNumber()
	if err := dec.Decode(&m); err != nil {
		t.Fatalf("body is not a JSON object: %v: %s", err, r.body)
	}
	return m
}

// do sends one request; body, when not empty, is JSON.
func (s *service) do(method, path, token, body string, header ...string) response {
	s.t.Helper()
	r := shoptest.Request{Method: method, URL: s.base + path, Token: token, Header: map[string]string{}}
	if body != "" {
		r.Body = body
	}
	for i := 0; i+1 < len(header); i += 2 {
		r.Header[header[i]] = header[i+1]
	}
	got := shoptest.Do(s.t, r)
	return response{status: got.Status, header: got.Header, body: got.Body, took: got.Took}
}
