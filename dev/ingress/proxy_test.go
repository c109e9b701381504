package ingress

import (
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestLookup(t *testing.T) {
	tests := []struct {
		path    string
		service string // "" when nothing matches
	}{
		{"/api/customers", "customer"},
		{"/api/customers/login", "customer"},
		{"/api/customers/", "customer"},
		{"/api/customersX", ""},
		{"/.well-known/jwks.json", "customer"},
		{"/.well-known/jwks.json/x", ""},
		{"/api/products/buy", "product"},
		{"/api/orders", "order"},
		{"/api/orders/status/1", "order"},
		{"/api/ordersX", ""},
		{"/api", ""},
		{"/", ""},
		{"/healthz", ""},
	}
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			r, ok := Lookup(Routes(), tt.path)
			if got := map[bool]string{true: r.Service, false: ""}[ok]; got != tt.service {
				t.Errorf("Lookup(%q) = %q, want %q", tt.path, got, tt.service)
			}
		})
	}
}

func TestLookupPrefersExactAndLongest(t *testing.T) {
	routes := []Route{
		{Prefix: "/a", Service: "short"},
		{Prefix: "/a/b", Service: "long"},
		{Prefix: "/a/b", Exact: true, Service: "exact"},
	}
	tests := map[string]string{"/a/b": "exact", "/a/b/c": "long", "/a/c": "short"}
	for path, want := range tests {
		if r, _ := Lookup(routes, path); r.Service != want {
			t.Errorf("Lookup(%q) = %q, want %q", path, r.Service, want)
		}
	}
}

// TestProxyRoutesToServices runs the stand-in in front of real HTTP servers
// and checks what a client sees: the right service answers, the client's
// address is forwarded, and unknown paths and dead services get problems.
func TestProxyRoutesToServices(t *testing.T) {
	backend := func(name string) string {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("X-Service", name)
			w.Header().Set("X-Seen-Forwarded-For", r.Header.Get("X-Forwarded-For"))
			_, _ = io.WriteString(w, name+" "+r.Method+" "+r.URL.RequestURI())
		}))
		t.Cleanup(srv.Close)
		return strings.TrimPrefix(srv.URL, "http://")
	}
	dead, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	deadAddr := dead.Addr().String()
	dead.Close()

	routes := []Route{
		{Prefix: "/.well-known/jwks.json", Exact: true, Service: "customer"},
		{Prefix: "/api/customers", Service: "customer"},
		{Prefix: "/api/products", Service: "product"},
		{Prefix: "/api/orders", Service: "order"},
	}
	p, err := NewProxy(routes, map[string]string{
		"customer": backend("customer"),
		"product":  backend("product"),
		"order":    deadAddr,
	}, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	front := httptest.NewServer(p)
	defer front.Close()

	tests := []struct {
		method, path string
		status       int
		body         string // prefix of the body, or the problem code
	}{
		{"GET", "/api/customers/me", 200, "customer GET /api/customers/me"},
		{"POST", "/api/products/buy?x=1", 200, "product POST /api/products/buy?x=1"},
		{"GET", "/.well-known/jwks.json", 200, "customer GET /.well-known/jwks.json"},
		{"GET", "/api/nothing", 404, "not_found"},
		{"GET", "/api/orders", 502, "bad_gateway"},
	}
	for _, tt := range tests {
		t.Run(tt.method+" "+tt.path, func(t *testing.T) {
			req, _ := http.NewRequest(tt.method, front.URL+tt.path, nil)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			body, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != tt.status {
				t.Fatalf("status = %d, want %d (%s)", resp.StatusCode, tt.status, body)
			}
			if tt.status != 200 {
				var p struct{ Code string }
				if err := json.Unmarshal(body, &p); err != nil || p.Code != tt.body {
					t.Fatalf("problem code = %q (%v), want %q; body %s", p.Code, err, tt.body, body)
				}
				if ct := resp.Header.Get("Content-Type"); ct != "application/problem+json" {
					t.Errorf("Content-Type = %q", ct)
				}
				return
			}
			if !strings.HasPrefix(string(body), tt.body) {
				t.Errorf("body = %q, want %q", body, tt.body)
			}
			if got := resp.Header.Get("X-Seen-Forwarded-For"); got != "127.0.0.1" {
				t.Errorf("backend saw X-Forwarded-For %q, want the client's address", got)
			}
		})
	}
}

func TestNewProxyNeedsEveryBackend(t *testing.T) {
	routes := []Route{{Prefix: "/a", Service: "a"}, {Prefix: "/b", Service: "b"}}
	_, err := NewProxy(routes, map[string]string{"a": "127.0.0.1:1"}, slog.New(slog.DiscardHandler))
	if err == nil || !strings.Contains(err.Error(), `"b"`) {
		t.Fatalf("err = %v, want one naming the missing backend b", err)
	}
}
