package server_test

import (
	"encoding/json"
	"net/http"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/travluk/ecom/services/customer/server"
)

// TestHeadAnswersLikeGet sends GET and then HEAD to every GET route of a
// running service: HEAD must get the same status and headers
// (Content-Length included) and no body.
func TestHeadAnswersLikeGet(t *testing.T) {
	svc := start(t, baseEnv(t), server.Options{})
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
		t.Run(tt.path, func(t *testing.T) {
			get := svc.do(req{method: "GET", path: tt.path, token: tt.token})
			head := svc.do(req{method: "HEAD", path: tt.path, token: tt.token})
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
	svc := start(t, baseEnv(t), server.Options{})
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
		t.Run(tt.method+" "+tt.path, func(t *testing.T) {
			r := expect(t, svc.do(req{method: tt.method, path: tt.path}), http.StatusMethodNotAllowed, tt.method+" "+tt.path)
			if a := r.header.Get("Allow"); a != tt.allow {
				t.Errorf("Allow = %q, want %q", a, tt.allow)
			}
			var p struct {
				Status int
				Code   string
			}
			if err := json.Unmarshal(r.body, &p); err != nil || p.Status != 405 || p.Code != "method_not_allowed" {
				t.Errorf("body = %s, want a 405 method_not_allowed problem", r.body)
			}
		})
	}
}
