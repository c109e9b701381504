package httpapi

import (
	"testing"

	"github.com/travluk/ecom/dev/shoptest"
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
		t.Run(path, func(t *testing.T) { shoptest.HeadAnswersLikeGet(t, e.url+path, "") })
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
		t.Run(tt.method+" "+tt.path, func(t *testing.T) { shoptest.MethodNotAllowed(t, tt.method, e.url+tt.path, tt.allow) })
	}
}
