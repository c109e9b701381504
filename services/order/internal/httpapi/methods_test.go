package httpapi

import (
	"testing"

	"github.com/travluk/ecom/dev/shoptest"
)

// TestHeadAnswersLikeGet sends GET and then HEAD, with the owner's token,
// to every GET route: HEAD must get the same status and headers and no
// body.
func TestHeadAnswersLikeGet(t *testing.T) {
	e := newEnv(t, envOptions{})
	o := e.order("ada")
	for _, tt := range []struct{ path, token string }{
		{"/api/orders", e.ada},
		{"/api/orders", ""},
		{"/api/orders/" + o.ID, e.ada},
		{"/api/orders/" + o.ID, e.bob},
		{"/api/orders/status/" + o.ID, e.ada},
		{"/api/orders/openapi.json", ""},
	} {
		t.Run(tt.path, func(t *testing.T) { shoptest.HeadAnswersLikeGet(t, e.url+tt.path, tt.token) })
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
		{"POST", "/api/orders", "GET, HEAD"},
		{"DELETE", "/api/orders", "GET, HEAD"},
		{"PUT", "/api/orders/openapi.json", "GET, HEAD"},
		{"POST", "/api/orders/status/x", "GET, HEAD, PUT"},
		{"DELETE", "/api/orders/status/x", "GET, HEAD, PUT"},
		{"POST", "/api/orders/x", "GET, HEAD, PUT"},
		{"DELETE", "/api/orders/x", "GET, HEAD, PUT"},
		{"PATCH", "/api/orders/x", "GET, HEAD, PUT"},
	}
	for _, tt := range tests {
		t.Run(tt.method+" "+tt.path, func(t *testing.T) { shoptest.MethodNotAllowed(t, tt.method, e.url+tt.path, tt.allow) })
	}
}
