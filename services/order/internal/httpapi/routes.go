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
	"github.com/travluk/ecom/services/platform/openapi"
	"github.com/travluk/ecom/services/platform/problem"
)

// OpenAPI is the OpenAPI 3.1 description of every route below, served at
// GET /api/orders/openapi.json.
//
//go:embed openapi.json
var OpenAPI []byte

// NewHandler returns the router with every route of the order API.
// Literal paths come before /api/orders/{orderId}, which would otherwise
// swallow them.
func NewHandler(svc *order.Service, v *auth.Verifier, log *slog.Logger) *mux.Router {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	h := &handlers{svc: svc, log: log}
	r := mux.NewRouter()
	r.Handle("/api/orders", v.Customer(http.HandlerFunc(h.list))).Methods(http.MethodGet)
	r.Handle("/api/orders/openapi.json", openapi.Handler(OpenAPI)).Methods(http.MethodGet)
	r.Handle("/api/orders/status/{orderId}", v.Customer(http.HandlerFunc(h.getStatus))).Methods(http.MethodGet)
	r.Handle("/api/orders/status/{orderId}", v.Customer(http.HandlerFunc(h.changeStatus))).Methods(http.MethodPut)
	r.Handle("/api/orders/{orderId}", v.Customer(http.HandlerFunc(h.get))).Methods(http.MethodGet)
	r.Handle("/api/orders/{orderId}", v.Customer(http.HandlerFunc(h.update))).Methods(http.MethodPut)

	r.NotFoundHandler = http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		problem.Write(w, problem.New(http.StatusNotFound, "not_found", "No such resource."))
	})
	r.MethodNotAllowedHandler = http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		problem.Write(w, problem.New(http.StatusMethodNotAllowed, "method_not_allowed", "This method is not allowed here."))
	})
	return r
}
