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
	"github.com/travluk/ecom/services/platform/openapi"
	"github.com/travluk/ecom/services/platform/problem"
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
	r := mux.NewRouter()
	r.Handle("/api/products", http.HandlerFunc(h.list)).Methods(http.MethodGet)
	r.Handle("/api/products", v.Admin(http.HandlerFunc(h.create))).Methods(http.MethodPost)
	r.Handle("/api/products/buy", v.Customer(newBuyHandler(log, opts))).Methods(http.MethodPost)
	r.Handle("/api/products/openapi.json", openapi.Handler(OpenAPI)).Methods(http.MethodGet)
	r.Handle("/api/products/{productId}", http.HandlerFunc(h.get)).Methods(http.MethodGet)
	r.Handle("/api/products/{productId}", v.Admin(http.HandlerFunc(h.update))).Methods(http.MethodPut)
	r.Handle("/api/products/{productId}", v.Admin(http.HandlerFunc(h.delete))).Methods(http.MethodDelete)

	r.NotFoundHandler = http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		problem.Write(w, problem.New(http.StatusNotFound, "not_found", "No such resource."))
	})
	r.MethodNotAllowedHandler = http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		problem.Write(w, problem.New(http.StatusMethodNotAllowed, "method_not_allowed", "This method is not allowed here."))
	})
	return r
}
