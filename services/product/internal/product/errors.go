package product

import (
	"errors"
	"strings"
)

// Expected outcomes of the use cases. The transport layer maps each to a
// response; anything else is an internal error.
var (
	// ErrNotFound means no product has this id (malformed ids included:
	// ids are opaque to clients).
	ErrNotFound = errors.New("product not found")
	// ErrPreconditionFailed means the caller's expected version (If-Match)
	// is not the product's current one: someone else changed it first.
	ErrPreconditionFailed = errors.New("product changed since it was read")
	// ErrUnavailable means the product store cannot be reached right now.
	// Adapters wrap their connection errors with it.
	ErrUnavailable = errors.New("product store temporarily unavailable")
)

// FieldError names one invalid field of an input and why.
type FieldError struct {
	Field   string
	Message string
}

// ValidationError lists every invalid field of an input, so that a client
// can fix them all at once.
type ValidationError struct {
	Errors []FieldError
}

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
