package httpapi

import (
	"net/http"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestHeadAnswersLikeGet sends GET and then HEAD to every GET route: HEAD
// must get the same status and headers (Content-Length and ETag included)
// and no body.
func TestHeadAnswersLikeGet(t *testing.T) {
	e := newEnv(t, envOptions{})
	p := e.create("Lamp", "19.99", 3)
	for _, path := range []string{
		"/api/products?limit=5",
		"/api/products/" + p.ID,
		"/api/products/000000000000000000000000",
		"/api/products/openapi.json",
	} {
		t.Run(path, func(t *testing.T) {
			get := e.do(req{method: "GET", path: path})
			head := e.do(req{method: "HEAD", path: path})
			if head.status != get.status || len(head.body) != 0 {
				t.Errorf("HEAD = %d with %d body bytes, want GET's %d and none", head.status, len(head.body), get.status)
			}
			get.header.Del("Date")
			head.header.Del("Date")
			if diff := cmp.Diff(get.header, head.header); diff != "" {
				t.Errorf("HEAD headers differ from GET's (-get +head):\n%s", diff)
			}
		})
	}
}

// TestWrongMethod sends, without a token, a method each route does not
// serve: the answer is 405 with Allow and a problem, never 401, because the
// method is checked before authentication.
func TestWrongMethod(t *testing.T) {
	e := newEnv(t, envOptions{})
	tests := []struct {
		method, path, allow string
	}{
		{"DELETE", "/api/products", "GET, HEAD, POST"},
		{"GET", "/api/products/buy", "POST"},
		{"PUT", "/api/products/buy", "POST"},
		{"POST", "/api/products/openapi.json", "GET, HEAD"},
		{"DELETE", "/api/products/openapi.json", "GET, HEAD"},
		{"PATCH", "/api/products/x", "GET, HEAD, PUT, DELETE"},
		{"POST", "/api/products/x", "GET, HEAD, PUT, DELETE"},
		{"OPTIONS", "/api/products/x", "GET, HEAD, PUT, DELETE"},
	}
	for _, tt := range tests {
		t.Run(tt.method+" "+tt.path, func(t *testing.T) {
			r := e.do(req{method: tt.method, path: tt.path})
			if r.status != http.StatusMethodNotAllowed {
				t.Fatalf("got %s, want 405", r)
			}
			if a := r.header.Get("Allow"); a != tt.allow {
				t.Errorf("Allow = %q, want %q", a, tt.allow)
			}
			if ct := r.header.Get("Content-Type"); ct != "application/problem+json" {
				t.Errorf("Content-Type = %q, want application/problem+json", ct)
			}
			if p := decodeInto[apiProblem](t, r); p.Status != 405 || p.Code != "method_not_allowed" {
				t.Errorf("problem = %+v", p)
			}
		})
	}
}
