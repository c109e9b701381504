package httpapi

import (
	"net/http"
	"testing"

	"github.com/google/go-cmp/cmp"
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
		t.Run(tt.path, func(t *testing.T) {
			get := e.do(req{method: "GET", path: tt.path, token: tt.token})
			head := e.do(req{method: "HEAD", path: tt.path, token: tt.token})
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
		t.Run(tt.method+" "+tt.path, func(t *testing.T) {
			r := e.do(req{method: tt.method, path: tt.path})
			if r.status != http.StatusMethodNotAllowed {
				t.Fatalf("got %d %s, want 405", r.status, r.body)
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
