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
		p = problem.Validation(fieldErrors(invalid)...)
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

func fieldErrors(v *customer.ValidationError) []problem.FieldError {
	fields := make([]problem.FieldError, len(v.Errors))
	for i, f := range v.Errors {
		fields[i] = problem.FieldError{Field: f.Field, Message: f.Message}
	}
	return fields
}

// withCoreVerdict adds to a body jsonbody refused field by field (a 422)
// what the core says of the fields it could read, so that one answer
// lists every mistake. Any other refusal (400, 413, 415) stands alone.
func withCoreVerdict(decoded *problem.Problem, verdict error) *problem.Problem {
	var invalid *customer.ValidationError
	if decoded.Status != http.StatusUnprocessableEntity || !errors.As(verdict, &invalid) {
		return decoded
	}
	return problem.Validation(problem.MergeFields(decoded.Errors, fieldErrors(invalid))...)
}
