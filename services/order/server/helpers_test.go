package server_test

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

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
	ctx, cancel := context.WithCancel(context.Background())
	logs := &testenv.LogBuffer{}
	addr := make(chan net.Addr, 1)
	done := make(chan error, 1)
	o.OnListen = func(a net.Addr) { addr <- a }
	go func() {
		done <- server.RunWithOptions(ctx, func(k string) string { return env[k] }, logs, o)
	}()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("Run: %v", err)
			}
		case <-time.After(20 * time.Second):
			t.Errorf("Run did not return within 20s of cancel")
		}
		if t.Failed() {
			t.Logf("service log:\n%s", logs.String())
		}
	})
	select {
	case a := <-addr:
		return &service{t: t, base: "http://" + a.String()}
	case err := <-done:
		t.Fatalf("Run returned before listening: %v\n%s", err, logs.String())
	case <-time.After(90 * time.Second):
		t.Fatalf("service did not listen within 90s\n%s", logs.String())
	}
	return nil
}

type response struct {
	status int
	body   []byte
}

func (r response) String() string { return fmt.Sprintf("%d %s", r.status, r.body) }

var httpClient = &http.Client{Timeout: 15 * time.Second}

// do sends one request; body, when not empty, is JSON.
func (s *service) do(method, path, token, body string) response {
	s.t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, s.base+path, rd)
	if err != nil {
		s.t.Fatal(err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := httpClient.Do(req)
	if err != nil {
		s.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		s.t.Fatal(err)
	}
	return response{status: resp.StatusCode, body: data}
}
