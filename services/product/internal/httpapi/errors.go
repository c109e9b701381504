package httpapi

import (
	"errors"
	"net/http"
	"time"

	"github.com/travluk/ecom/services/platform/problem"
	"github.com/travluk/ecom/services/product/internal/product"
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
		invalid *product.ValidationError
	)
	switch {
	case errors.As(err, &p):
		// Already a problem (from jsonbody or the body's shape).
	case errors.As(err, &invalid):
		fields := make([]problem.FieldError, len(invalid.Errors))
		for i, f := range invalid.Errors {
			fields[i] = problem.FieldError{Field: f.Field, Message: f.Message}
		}
		p = problem.Validation(fields...)
	case errors.Is(err, product.ErrNotFound):
		p = problem.New(http.StatusNotFound, "not_found", "No such product.")
	case errors.Is(err, product.ErrPreconditionFailed):
		p = problem.New(http.StatusPreconditionFailed, "precondition_failed",
			"The product changed since the ETag in If-Match; read it again and retry.")
	case errors.Is(err, product.ErrUnavailable):
		h.log.WarnContext(r.Context(), "product store unavailable", "method", r.Method, "path", r.URL.Path, "error", err)
		p = problem.Unavailable("The service is temporarily unavailable; try again shortly.", unavailableRetry)
	default:
		h.log.ErrorContext(r.Context(), "request failed", "method", r.Method, "path", r.URL.Path, "error", err)
		p = problem.Internal()
	}
	problem.Write(w, p)
}
