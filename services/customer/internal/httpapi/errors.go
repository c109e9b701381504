package httpapi

import (
	"errors"
	"net/http"
	"time"

	"github.com/travluk/ecom/services/customer/internal/customer"
	"github.com/travluk/ecom/services/platform/problem"
)

// unavailableRetry is the Retry-After sent when Redis or MongoDB cannot be
// reached; platform/auth uses the same for its own 503s.
const unavailableRetry = time.Second

// writeError answers err as a problem with a stable code. It is the only
// place that decides what a core error means over HTTP. Unknown errors are
// logged and answered 500 without detail.
func (h *handlers) writeError(w http.ResponseWriter, r *http.Request, err error) {
	var (
		p         *problem.Problem
		invalid   *customer.ValidationError
		throttled *customer.ThrottledError
	)
	switch {
	case errors.As(err, &p):
		// Already a problem (from jsonbody).
	case errors.As(err, &invalid):
		fields := make([]problem.FieldError, len(invalid.Errors))
		for i, f := range invalid.Errors {
			fields[i] = problem.FieldError{Field: f.Field, Message: f.Message}
		}
		p = problem.Validation(fields...)
	case errors.As(err, &throttled):
		p = problem.New(http.StatusTooManyRequests, "too_many_attempts", "Too many failed attempts; try again later.")
		p.RetryAfter = throttled.RetryAfter
	case errors.Is(err, customer.ErrNotFound):
		p = problem.New(http.StatusNotFound, "not_found", "No such customer.")
	case errors.Is(err, customer.ErrEmailTaken):
		p = problem.New(http.StatusConflict, "email_taken", "An account with this email already exists.")
	case errors.Is(err, customer.ErrInvalidCredentials):
		p = problem.New(http.StatusUnauthorized, "invalid_credentials", "Invalid email or password.")
	case errors.Is(err, customer.ErrInvalidRefreshToken):
		if errors.Is(err, customer.ErrRefreshTokenReused) {
			h.log.WarnContext(r.Context(), "spent refresh token presented again; session revoked", "error", err)
		}
		p = problem.New(http.StatusUnauthorized, "invalid_refresh_token", "The refresh token is invalid, expired or already used; log in again.")
	case errors.Is(err, customer.ErrForbidden):
		p = problem.New(http.StatusForbidden, "forbidden", "You are not allowed to do this.")
	case errors.Is(err, customer.ErrUnavailable):
		h.log.WarnContext(r.Context(), "backing store unavailable", "method", r.Method, "path", r.URL.Path, "error", err)
		p = problem.Unavailable("The service is temporarily unavailable; try again shortly.", unavailableRetry)
	default:
		h.log.ErrorContext(r.Context(), "request failed", "method", r.Method, "path", r.URL.Path, "error", err)
		p = problem.Internal()
	}
	problem.Write(w, p)
}
