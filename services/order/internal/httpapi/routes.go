// Package httpapi is the order service's HTTP surface: the routes of
// DESIGN §2's order table, JSON in and out, and one mapping from the
// core's errors to RFC 9457 problems. Every route needs a token; who may
// do what is the core's rule, not this package's.
package httpapi

import (
	_ "embed"
	"log/slog"
	"net/http"

	"github.com/gorilla/mux"

	"github.com/travluk/ecom/services/order/internal/order"
	"github.com/travluk/ecom/services/platform/auth"
	"github.com/travluk/ecom/services/platform/httproute"
	"github.com/travluk/ecom/services/platform/openapi"
)

// OpenAPI is the OpenAPI 3.1 description of every route below, served at
// GET /api/orders/openapi.json.
//
//go:embed openapi.json
var OpenAPI []byte

// NewHandler returns the router with every route of the order API.
// Literal paths come before /api/orders/{orderId}, which would otherwise
// swallow them.
func NewHandler(svc *order.Service, v *auth.Verifier, log *slog.Logger, opts ...Option) *mux.Router {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	h := &handlers{svc: svc, log: log}
	r := httproute.NewRouter()
	// Only the lists take query parameters; any other is refused
	// (httproute.Query), after authentication as a body would be.
	query := httproute.Query
	httproute.Handle(r, "/api/orders", httproute.Methods{
		http.MethodGet: v.Customer(query(http.HandlerFunc(h.list), "status", "customerId", "limit", "cursor")),
	})
	listDead, getDead, replayDead := deadLetterRoutes(opts)
	httproute.Handle(r, "/api/orders/dead-letters", httproute.Methods{http.MethodGet: v.Admin(query(listDead, "limit"))})
	httproute.Handle(r, "/api/orders/dead-letters/{eventId}", httproute.Methods{http.MethodGet: v.Admin(query(getDead))})
	httproute.Handle(r, "/api/orders/dead-letters/{eventId}/replay", httproute.Methods{http.MethodPost: v.Admin(query(replayDead))})
	httproute.Handle(r, "/api/orders/openapi.json", httproute.Methods{http.MethodGet: query(openapi.Handler(OpenAPI))})
	httproute.Handle(r, "/api/orders/status/{orderId}", httproute.Methods{
		http.MethodGet: v.Customer(query(http.HandlerFunc(h.getStatus))),
		http.MethodPut: v.Customer(query(http.HandlerFunc(h.changeStatus))),
	})
	httproute.Handle(r, "/api/orders/{orderId}", httproute.Methods{
		http.MethodGet: v.Customer(query(http.HandlerFunc(h.get))),
		http.MethodPut: v.Customer(query(http.HandlerFunc(h.update))),
	})
	return r
}
