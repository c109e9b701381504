package order

import (
	"encoding/base64"
	"strconv"
	"strings"
	"time"
)

// Page sizes of List.
const (
	DefaultLimit = 20
	MaxLimit     = 100
)

// ListParams are the raw query parameters of a list request.
type ListParams struct {
	Status     string
	CustomerID string
	Limit      string
	Cursor     string
}

// ListQuery is a checked list request. Orders come newest first, by
// creation time and then id, both descending.
type ListQuery struct {
	CustomerID string // "" means every customer
	Status     Status // "" means every status
	Limit      int
	After      *Cursor
}

// Cursor is the position after which the next page starts: the last
// order's creation time and id.
type Cursor struct {
	CreatedAt time.Time
	ID        string
}

// Encode returns the opaque text form of c.
func (c Cursor) Encode() string {
	return base64.RawURLEncoding.EncodeToString([]byte(strconv.FormatInt(c.CreatedAt.UnixMilli(), 10) + ":" + c.ID))
}

// decodeCursor reads Encode's output; anything else is an error.
func decodeCursor(s string) (*Cursor, bool) {
	raw, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return nil, false
	}
	ms, id, ok := strings.Cut(string(raw), ":")
	if !ok || id == "" {
		return nil, false
	}
	n, err := strconv.ParseInt(ms, 10, 64)
	if err != nil {
		return nil, false
	}
	return &Cursor{CreatedAt: time.UnixMilli(n).UTC(), ID: id}, true
}

// InvalidCursor is the validation error of a cursor the store cannot have
// issued; repositories return it for a cursor naming a malformed id.
func InvalidCursor() error {
	return &ValidationError{Errors: []FieldError{{Field: "cursor", Message: "is not a cursor of this listing"}}}
}

// ParseListQuery checks the parameters of a list request made by a. An
// admin lists every order, filtered by customerId and status when given;
// a customer lists their own orders only, and naming another customer is
// ErrForbidden (rather than an empty page, which would look like a
// customer without orders).
func ParseListQuery(a Actor, p ListParams) (ListQuery, error) {
	var errs []FieldError
	q := ListQuery{Limit: DefaultLimit, CustomerID: p.CustomerID, Status: Status(p.Status)}
	if p.Limit != "" {
		n, err := strconv.Atoi(p.Limit)
		if err != nil || n < 1 || n > MaxLimit {
			errs = append(errs, FieldError{Field: "limit", Message: "must be a whole number from 1 to " + strconv.Itoa(MaxLimit)})
		} else {
			q.Limit = n
		}
	}
	if p.Status != "" && !q.Status.Valid() {
		errs = append(errs, FieldError{Field: "status", Message: "must be one of " + statusList()})
	}
	if len(p.CustomerID) > maxIDLength {
		errs = append(errs, FieldError{Field: "customerId", Message: "is too long"})
	}
	if p.Cursor != "" {
		c, ok := decodeCursor(p.Cursor)
		if !ok {
			errs = append(errs, FieldError{Field: "cursor", Message: "is not a cursor of this listing"})
		}
		q.After = c
	}
	if err := validation(errs); err != nil {
		return ListQuery{}, err
	}
	if !a.Admin {
		if q.CustomerID != "" && q.CustomerID != a.ID {
			return ListQuery{}, ErrForbidden
		}
		q.CustomerID = a.ID
	}
	return q, nil
}

func statusList() string {
	names := make([]string, len(Statuses()))
	for i, s := range Statuses() {
		names[i] = string(s)
	}
	return strings.Join(names, ", ")
}
