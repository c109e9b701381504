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
	"github.com/travluk/ecom/services/platform/httproute"
	"github.com/travluk/ecom/services/platform/openapi"
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
	r := httproute.NewRouter()
	// No route takes a query parameter; any is refused (httproute.Query),
	// after authentication as a body would be.
	none := httproute.Query
	httproute.Handle(r, "/api/customers/register", httproute.Methods{http.MethodPost: none(http.HandlerFunc(h.register))})
	httproute.Handle(r, "/api/customers/login", httproute.Methods{http.MethodPost: none(http.HandlerFunc(h.login))})
	httproute.Handle(r, "/api/customers/refresh", httproute.Methods{http.MethodPost: none(http.HandlerFunc(h.refresh))})
	httproute.Handle(r, "/api/customers/logout", httproute.Methods{http.MethodPost: v.Authenticate(none(http.HandlerFunc(h.logout)))})
	httproute.Handle(r, "/api/customers/home", httproute.Methods{http.MethodGet: v.Authenticate(none(http.HandlerFunc(h.home)))})
	httproute.Handle(r, "/api/customers/me", httproute.Methods{http.MethodGet: v.Authenticate(none(http.HandlerFunc(h.me)))})
	httproute.Handle(r, "/api/customers/openapi.json", httproute.Methods{http.MethodGet: none(openapi.Handler(OpenAPI))})
	httproute.Handle(r, "/api/customers/{customerId}", httproute.Methods{
		http.MethodGet: v.Authenticate(none(http.HandlerFunc(h.get))),
		http.MethodPut: v.Authenticate(none(http.HandlerFunc(h.update))),
	})
	httproute.Handle(r, "/.well-known/jwks.json", httproute.Methods{http.MethodGet: none(jwks)})
	return r
}
