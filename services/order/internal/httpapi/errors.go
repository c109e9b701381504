package httpapi

import (
	"errors"
	"net/http"
	"time"

	"github.com/travluk/ecom/services/order/internal/order"
	"github.com/travluk/ecom/services/platform/problem"
)

// unavailableRetry is the Retry-After sent when MongoDB cannot be reached;
// platform/auth uses the same for its own 503s.
const unavailableRetry = time.Second

// writeError answers err as a problem with a stable code. It is the only
// place that decides what a core error means over HTTP. Unknown errors are
// logged and answered 500 without detail.
func (h *handlers) writeError(w http.ResponseWriter, r *http.Request, err error) {
	var (
		p       *problem.Problem
		invalid *order.ValidationError
	)
	switch {
	case errors.As(err, &p):
		// Already a problem (from jsonbody or the body's shape).
	case errors.As(err, &invalid):
		p = problem.Validation(fieldErrors(invalid)...)
	case errors.Is(err, order.ErrNotFound):
		p = problem.New(http.StatusNotFound, "not_found", "No such order.")
	case errors.Is(err, order.ErrForbidden):
		p = problem.New(http.StatusForbidden, "forbidden", "Customers may only cancel their own orders, and list only their own.")
	case errors.Is(err, order.ErrIllegalTransition):
		p = problem.New(http.StatusConflict, "illegal_transition", "The order cannot move to that status from its current one.")
	case errors.Is(err, order.ErrAlreadyShipped):
		p = problem.New(http.StatusConflict, "order_closed", "The order has shipped or is closed; it can no longer be changed.")
	case errors.Is(err, order.ErrConflict):
		p = problem.New(http.StatusConflict, "concurrent_change", "The order kept changing meanwhile; read it again and retry.")
	case errors.Is(err, order.ErrUnavailable):
		h.log.WarnContext(r.Context(), "order store unavailable", "method", r.Method, "path", r.URL.Path, "error", err)
		p = problem.Unavailable("The service is temporarily unavailable; try again shortly.", unavailableRetry)
	default:
		h.log.ErrorContext(r.Context(), "request failed", "method", r.Method, "path", r.URL.Path, "error", err)
		p = problem.Internal()
	}
	problem.Write(w, p)
}

func fieldErrors(v *order.ValidationError) []problem.FieldError {
	fields := make([]problem.FieldError, len(v.Errors))
	for i, f := range v.Errors {
		fields[i] = problem.FieldError{Field: f.Field, Message: f.Message}
	}
	return fields
}

// withCoreVerdict answers the body's field errors together with what the
// core says of the fields that could be read, so that one answer lists
// every mistake.
func withCoreVerdict(body []problem.FieldError, verdict error) *problem.Problem {
	var invalid *order.ValidationError
	if errors.As(verdict, &invalid) {
		body = problem.MergeFields(body, fieldErrors(invalid))
	}
	return problem.Validation(body...)
}
