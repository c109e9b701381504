package customer

import (
	"errors"
	"fmt"
	"strings"
	"time"
)

// Expected outcomes of the use cases. The transport layer maps each to a
// response; anything else is an internal error.
var (
	// ErrNotFound means no such customer, or one the caller may not see.
	ErrNotFound = errors.New("customer not found")
	// ErrEmailTaken means another account already uses the email.
	ErrEmailTaken = errors.New("email already registered")
	// ErrInvalidCredentials is the one answer for an unknown email and a
	// wrong password alike, so a login reveals no accounts.
	ErrInvalidCredentials = errors.New("invalid email or password")
	// ErrForbidden means the caller is known but may not do this.
	ErrForbidden = errors.New("forbidden")
	// ErrInvalidRefreshToken means the refresh token is malformed, expired,
	// belongs to an ended session, or was already spent.
	ErrInvalidRefreshToken = errors.New("invalid refresh token")
	// ErrRefreshTokenReused is returned (wrapped together with
	// ErrInvalidRefreshToken) when a spent refresh token came back: the
	// whole session has been revoked because the token was probably stolen.
	ErrRefreshTokenReused = errors.New("refresh token reused; session revoked")
	// ErrUnavailable means a backing store (Redis for sessions and
	// throttling, or MongoDB) cannot be reached right now. Adapters wrap
	// their connection errors with it; callers may retry later.
	ErrUnavailable = errors.New("temporarily unavailable")
)

// FieldError names one invalid field of an input and why.
type FieldError struct {
	Field   string
	Message string
}

// ValidationError lists every invalid field of an input, so a client can fix
// them all at once.
type ValidationError struct {
	Errors []FieldError
}

// Error lists the invalid fields and why.
func (e *ValidationError) Error() string {
	parts := make([]string, len(e.Errors))
	for i, f := range e.Errors {
		parts[i] = f.Field + " " + f.Message
	}
	return "invalid input: " + strings.Join(parts, "; ")
}

// validation returns a *ValidationError for errs, or nil when errs is empty.
func validation(errs []FieldError) error {
	if len(errs) == 0 {
		return nil
	}
	return &ValidationError{Errors: errs}
}

// ThrottledError refuses a login because the account or the client failed
// too often recently. RetryAfter is how long until the window ends.
type ThrottledError struct {
	RetryAfter time.Duration
}

// Error says how long to wait.
func (e *ThrottledError) Error() string {
	return fmt.Sprintf("too many failed logins; retry after %s", e.RetryAfter)
}
