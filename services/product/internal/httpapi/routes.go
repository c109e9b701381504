// Package httpapi is the product service's HTTP surface: the routes of
// DESIGN §2's product table, JSON in and out, ETags, and one mapping from
// the core's errors to RFC 9457 problems.
package httpapi

import (
	_ "embed"
	"log/slog"
	"net/http"

	"github.com/gorilla/mux"

	"github.com/travluk/ecom/services/platform/auth"
	"github.com/travluk/ecom/services/platform/httproute"
	"github.com/travluk/ecom/services/platform/openapi"
	"github.com/travluk/ecom/services/product/internal/product"
)

// OpenAPI is the OpenAPI 3.1 description of every route below, served at
// GET /api/products/openapi.json.
//
//go:embed openapi.json
var OpenAPI []byte

// NewHandler returns the router with every route of the product API.
// Literal paths come before /api/products/{productId}, which would
// otherwise swallow them. WithBuy supplies the order flow behind buy.
func NewHandler(svc *product.Service, v *auth.Verifier, log *slog.Logger, opts ...Option) *mux.Router {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	h := &handlers{svc: svc, log: log}
	r := httproute.NewRouter()
	// Only the lists take query parameters; any other is refused
	// (httproute.Query), after authentication as a body would be.
	query := httproute.Query
	httproute.Handle(r, "/api/products", httproute.Methods{
		http.MethodGet:  query(http.HandlerFunc(h.list), "limit", "cursor", "q", "minPrice", "maxPrice", "inStock", "sort"),
		http.MethodPost: v.Admin(query(http.HandlerFunc(h.create))),
	})
	httproute.Handle(r, "/api/products/buy", httproute.Methods{http.MethodPost: v.Customer(query(newBuyHandler(log, opts)))})
	listDead, getDead, replayDead := deadLetterRoutes(opts)
	httproute.Handle(r, "/api/products/dead-letters", httproute.Methods{http.MethodGet: v.Admin(query(listDead, "limit"))})
	httproute.Handle(r, "/api/products/dead-letters/{eventId}", httproute.Methods{http.MethodGet: v.Admin(query(getDead))})
	httproute.Handle(r, "/api/products/dead-letters/{eventId}/replay", httproute.Methods{http.MethodPost: v.Admin(query(replayDead))})
	httproute.Handle(r, "/api/products/openapi.json", httproute.Methods{http.MethodGet: query(openapi.Handler(OpenAPI))})
	httproute.Handle(r, "/api/products/{productId}", httproute.Methods{
		http.MethodGet:    query(http.HandlerFunc(h.get)),
		http.MethodPut:    v.Admin(query(http.HandlerFunc(h.update))),
		http.MethodDelete: v.Admin(query(http.HandlerFunc(h.delete))),
	})
	return r
}
