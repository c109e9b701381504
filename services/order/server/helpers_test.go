package server_test

import (
	"context"
	"fmt"
	"io"
	"net"
	"testing"

	"github.com/travluk/ecom/dev/shoptest"
	"github.com/travluk/ecom/dev/testenv"
	"github.com/travluk/ecom/services/order/server"
	"github.com/travluk/ecom/services/platform/auth/authtest"
)

// service is one running order service, stopped when the test ends.
type service struct {
	t    testing.TB
	base string
}

// baseEnv is what every test's service gets: real (or embedded) servers,
// a free port, and iss's JWKS. AMQP_URL is left out: tests inject a bus.
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

// start runs the service with env and o, and waits until it listens.
func start(t testing.TB, env map[string]string, o server.Options) *service {
	t.Helper()
	srv := testenv.Serve(t, func(ctx context.Context, stdout io.Writer, onListen func(net.Addr)) error {
		o.OnListen = onListen
		return server.RunWithOptions(ctx, func(k string) string { return env[k] }, stdout, o)
	})
	return &service{t: t, base: srv.URL}
}

type response struct {
	status int
	body   []byte
}

func (r response) String() string { return fmt.Sprintf("%d %s", r.status, r.body) }

// do sends one request; body, when not empty, is JSON.
func (s *service) do(method, path, token, body string) response {
	s.t.Helper()
	r := shoptest.Request{Method: method, URL: s.base + path, Token: token}
	if body != "" {
		r.Body = body
	}
	got := shoptest.Do(s.t, r)
	return response{status: got.Status, body: got.Body}
}
