package server_test

import (
	"testing"

	"github.com/travluk/ecom/dev/shoptest"
)

// TestHeadAnswersLikeGet sends GET and then HEAD to every GET route of a
// running service: HEAD must get the same status and headers
// (Content-Length included) and no body.
func TestHeadAnswersLikeGet(t *testing.T) {
	svc := start(t, baseEnv(t), validated(t))
	a := svc.register(t, "Heady")
	tok := svc.login(t, a.email, a.password)
	for _, tt := range []struct{ path, token string }{
		{"/api/customers/home", tok.access},
		{"/api/customers/home", ""},
		{"/api/customers/me", tok.access},
		{"/api/customers/" + a.id, tok.access},
		{"/api/customers/not-a-valid-id", tok.access},
		{"/api/customers/openapi.json", ""},
		{"/.well-known/jwks.json", ""},
	} {
		t.Run(tt.path, func(t *testing.T) { shoptest.HeadAnswersLikeGet(t, svc.base+tt.path, tt.token) })
	}
}

// TestWrongMethod sends, without a token, a method each route does not
// serve: the answer is 405 with Allow and a problem, never 401, because the
// method is checked before authentication.
func TestWrongMethod(t *testing.T) {
	svc := start(t, baseEnv(t), validated(t))
	tests := []struct {
		method, path, allow string
	}{
		{"GET", "/api/customers/register", "POST"},
		{"PUT", "/api/customers/register", "POST"},
		{"GET", "/api/customers/login", "POST"},
		{"GET", "/api/customers/refresh", "POST"},
		{"GET", "/api/customers/logout", "POST"},
		{"DELETE", "/api/customers/logout", "POST"},
		{"POST", "/api/customers/home", "GET, HEAD"},
		{"PUT", "/api/customers/me", "GET, HEAD"},
		{"PUT", "/api/customers/openapi.json", "GET, HEAD"},
		{"POST", "/api/customers/x", "GET, HEAD, PUT"},
		{"DELETE", "/api/customers/x", "GET, HEAD, PUT"},
		{"PATCH", "/api/customers/x", "GET, HEAD, PUT"},
		{"POST", "/.well-known/jwks.json", "GET, HEAD"},
		{"POST", "/healthz", "GET, HEAD"},
	}
	for _, tt := range tests {
		t.Run(tt.method+" "+tt.path, func(t *testing.T) { shoptest.MethodNotAllowed(t, tt.method, svc.base+tt.path, tt.allow) })
	}
}
