// Package httpapi is the customer service's HTTP surface: the routes of
// DESIGN §2's customer table, JSON in and out, and one mapping from the
// core's errors to RFC 9457 problems.
package httpapi

import (
	_ "embed"
	"log/slog"
	"net/http"

	"github.com/gorilla/mux"

	"github.com/travluk/ecom/services/customer/internal/customer"
	"github.com/travluk/ecom/services/platform/auth"
	"github.com/travluk/ecom/services/platform/openapi"
	"github.com/travluk/ecom/services/platform/problem"
)

// OpenAPI is the OpenAPI 3.1 description of every route below, served at
// GET /api/customers/openapi.json.
//
//go:embed openapi.json
var OpenAPI []byte

// Options tune the handler.
type Options struct {
	// TrustForwardedFor takes the client address for login throttling from
	// the last X-Forwarded-For entry, the one the proxy in front of us
	// appended. Set it only behind such a proxy: otherwise clients choose
	// their own address.
	TrustForwardedFor bool
	Logger            *slog.Logger
}

// NewHandler returns the router with every route of the customer API.
// Literal paths come before /api/customers/{customerId}, which would
// otherwise swallow them.
func NewHandler(svc *customer.Service, v *auth.Verifier, jwks http.Handler, o Options) *mux.Router {
	h := &handlers{svc: svc, log: o.Logger, trustForwardedFor: o.TrustForwardedFor}
	if h.log == nil {
		h.log = slog.New(slog.DiscardHandler)
	}
	r := mux.NewRouter()
	r.Handle("/api/customers/register", http.HandlerFunc(h.register)).Methods(http.MethodPost)
	r.Handle("/api/customers/login", http.HandlerFunc(h.login)).Methods(http.MethodPost)
	r.Handle("/api/customers/refresh", http.HandlerFunc(h.refresh)).Methods(http.MethodPost)
	r.Handle("/api/customers/logout", v.Authenticate(http.HandlerFunc(h.logout))).Methods(http.MethodPost)
	r.Handle("/api/customers/home", v.Authenticate(http.HandlerFunc(h.home))).Methods(http.MethodGet)
	r.Handle("/api/customers/me", v.Authenticate(http.HandlerFunc(h.me))).Methods(http.MethodGet)
	r.Handle("/api/customers/openapi.json", openapi.Handler(OpenAPI)).Methods(http.MethodGet)
	r.Handle("/api/customers/{customerId}", v.Authenticate(http.HandlerFunc(h.get))).Methods(http.MethodGet)
	r.Handle("/api/customers/{customerId}", v.Authenticate(http.HandlerFunc(h.update))).Methods(http.MethodPut)
	r.Handle("/.well-known/jwks.json", jwks).Methods(http.MethodGet)

	r.NotFoundHandler = http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		problem.Write(w, problem.New(http.StatusNotFound, "not_found", "No such resource."))
	})
	r.MethodNotAllowedHandler = http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		problem.Write(w, problem.New(http.StatusMethodNotAllowed, "method_not_allowed", "This method is not allowed here."))
	})
	return r
}
