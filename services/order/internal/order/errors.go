package order

import (
	"errors"
	"strings"
)

// Expected outcomes of the use cases. The transport layers map each to a
// response; anything else is an internal error.
var (
	// ErrNotFound means no order has this id, or the caller may not see it
	// (another customer's order): the two are indistinguishable outside.
	ErrNotFound = errors.New("order not found")
	// ErrForbidden means the caller may see the order but not do this to
	// it, such as a customer moving their order to another status than
	// cancelled.
	ErrForbidden = errors.New("not allowed")
	// ErrIllegalTransition means the state machine does not allow the move
	// from the order's current status.
	ErrIllegalTransition = errors.New("illegal status transition")
	// ErrAlreadyShipped means the order is no longer open for changes: it
	// has shipped (or been delivered or cancelled).
	ErrAlreadyShipped = errors.New("order can no longer be changed")
	// ErrConflict means the order kept changing under a status change,
	// which gave up after a few attempts; the caller may retry.
	ErrConflict = errors.New("order changed concurrently")
	// ErrAlreadyExists is the repository's answer to inserting an order id
	// that is taken: the order was created before.
	ErrAlreadyExists = errors.New("order already exists")
	// ErrUnavailable means the order store cannot be reached right now.
	// Adapters wrap their connection errors with it.
	ErrUnavailable = errors.New("order store temporarily unavailable")
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
