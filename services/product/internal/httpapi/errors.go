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
		p = problem.Validation(fieldErrors(invalid)...)
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

func fieldErrors(v *product.ValidationError) []problem.FieldError {
	fields := make([]problem.FieldError, len(v.Errors))
	for i, f := range v.Errors {
		fields[i] = problem.FieldError{Field: f.Field, Message: f.Message}
	}
	return fields
}

// withCoreVerdict adds to a body refused field by field (a 422) what the
// core says of the fields that could be read, so that one answer lists
// every mistake. Any other refusal (400, 413, 415) stands alone.
func withCoreVerdict(decoded *problem.Problem, verdict error) *problem.Problem {
	var invalid *product.ValidationError
	if decoded.Status != http.StatusUnprocessableEntity || !errors.As(verdict, &invalid) {
		return decoded
	}
	return problem.Validation(problem.MergeFields(decoded.Errors, fieldErrors(invalid))...)
}
