package order

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"time"
	"unicode/utf8"
)

// Limits on what an order holds.
const (
	MaxItems              = 50
	MaxQuantity           = 1000
	MaxNameLength         = 500
	MaxAddressLength      = 500
	MaxNotesLength        = 2000
	MaxStatusNoteLength   = 500
	maxIDLength           = 128
	maxStatusChangeRounds = 5
)

var (
	objectIDPattern = regexp.MustCompile(`^[0-9a-f]{24}$`)
	currencyPattern = regexp.MustCompile(`^[A-Z]{3}$`)
)

// Service holds the order use cases.
type Service struct {
	repo     Repository
	now      Clock
	appended func(orderID string)
}

// NewService returns a Service over repo. now defaults to the wall clock;
// appended, when not nil, is called with the order's id after every write
// that appended an event to its outbox, to wake the relay that publishes
// it.
func NewService(repo Repository, now Clock, appended func(orderID string)) *Service {
	if now == nil {
		now = time.Now
	}
	if appended == nil {
		appended = func(string) {}
	}
	return &Service{repo: repo, now: now, appended: appended}
}

// clock returns the time as stored: UTC, to the millisecond, which is
// what BSON dates keep, so an order reads back as it was written.
func (s *Service) clock() time.Time { return s.now().UTC().Truncate(time.Millisecond) }

// CreateFromRequest creates the confirmed order an order.requested event
// asks for, with order.confirmed in its outbox, in one write. It is safe
// to repeat: when the order exists already (a redelivery, even after the
// order moved on) it changes nothing, publishes nothing and reports
// created false. A request that can never be valid is a *ValidationError.
func (s *Service) CreateFromRequest(ctx context.Context, r Request) (created bool, err error) {
	o, err := newOrder(r, s.clock())
	if err != nil {
		return false, err
	}
	err = s.repo.Insert(ctx, o, []Event{confirmedEvent(o)})
	if errors.Is(err, ErrAlreadyExists) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("create order %s: %w", r.OrderID, err)
	}
	s.appended(o.ID)
	return true, nil
}

// newOrder checks r and prices it exactly.
func newOrder(r Request, now time.Time) (*Order, error) {
	var errs []FieldError
	bad := func(field, msg string) { errs = append(errs, FieldError{Field: field, Message: msg}) }
	if !objectIDPattern.MatchString(r.OrderID) {
		bad("orderId", "must be 24 lower-case hex digits")
	}
	if r.CustomerID == "" || len(r.CustomerID) > maxIDLength {
		bad("customerId", "must be 1 to 128 characters")
	}
	if !currencyPattern.MatchString(r.Currency) {
		bad("currency", "must be an ISO 4217 code such as EUR")
	}
	if utf8.RuneCountInString(r.ShippingAddress) > MaxAddressLength {
		bad("shippingAddress", fmt.Sprintf("must be at most %d characters", MaxAddressLength))
	}
	if len(r.Items) == 0 || len(r.Items) > MaxItems {
		bad("items", fmt.Sprintf("must have 1 to %d lines", MaxItems))
	}
	o := &Order{
		ID:              r.OrderID,
		CustomerID:      r.CustomerID,
		Currency:        r.Currency,
		Status:          Confirmed,
		History:         []HistoryEntry{{Status: Confirmed, At: now}},
		ShippingAddress: strings.TrimSpace(r.ShippingAddress),
		CreatedAt:       now,
		UpdatedAt:       now,
		Items:           make([]Item, 0, len(r.Items)),
	}
	seen := map[string]bool{}
	for i, it := range r.Items {
		field := fmt.Sprintf("items[%d].", i)
		switch {
		case it.ProductID == "" || len(it.ProductID) > maxIDLength:
			bad(field+"productId", "must be 1 to 128 characters")
		case seen[it.ProductID]:
			bad(field+"productId", "appears more than once")
		}
		seen[it.ProductID] = true
		if it.Name == "" || utf8.RuneCountInString(it.Name) > MaxNameLength {
			bad(field+"name", fmt.Sprintf("must be 1 to %d characters", MaxNameLength))
		}
		if it.UnitPrice <= 0 || it.UnitPrice > MaxAmount {
			bad(field+"unitPrice", "must be positive and at most "+MaxAmount.String())
		}
		if it.Quantity < 1 || it.Quantity > MaxQuantity {
			bad(field+"quantity", fmt.Sprintf("must be a whole number from 1 to %d", MaxQuantity))
		}
		if len(errs) > 0 {
			continue
		}
		// Both factors are bounded, so the product cannot overflow.
		line := it.UnitPrice * Money(it.Quantity)
		o.Total += line
		o.Quantity += it.Quantity
		if line > MaxAmount || o.Total > MaxAmount {
			bad(field+"quantity", "makes the order total too large")
		}
		o.Items = append(o.Items, Item{ProductID: it.ProductID, Name: it.Name, UnitPrice: it.UnitPrice, Quantity: it.Quantity, LineTotal: line})
	}
	if err := validation(errs); err != nil {
		return nil, err
	}
	return o, nil
}

// Get returns an order its owner or an admin asks for. Another customer's
// order is ErrNotFound, like an order that does not exist.
func (s *Service) Get(ctx context.Context, a Actor, id string) (*Order, error) {
	o, err := s.repo.ByID(ctx, id)
	if err != nil {
		return nil, err
	}
	if !a.canSee(o) {
		return nil, ErrNotFound
	}
	return o, nil
}

// ListPage is one page of orders; NextCursor is "" on the last page.
type ListPage struct {
	Items      []*Order
	NextCursor string
}

// List returns one page of the orders q selects (see ParseListQuery for
// who may select what).
func (s *Service) List(ctx context.Context, q ListQuery) (ListPage, error) {
	want := q.Limit
	q.Limit++ // one more tells whether there is a next page
	orders, err := s.repo.List(ctx, q)
	if err != nil {
		return ListPage{}, err
	}
	page := ListPage{Items: orders}
	if len(orders) > want {
		page.Items = orders[:want]
		last := page.Items[want-1]
		page.NextCursor = Cursor{CreatedAt: last.CreatedAt, ID: last.ID}.Encode()
	}
	return page, nil
}

// ChangeStatus moves an order to status to, recording note in its
// history. An admin may make any move the state machine allows; the owner
// may only cancel, and only before shipping. Cancelling appends
// order.cancelled (with the quantities to give back) in the same write.
//
// Errors: a bad status or note is a *ValidationError; an order the caller
// may not see is ErrNotFound; an owner asking for another status than
// cancelled is ErrForbidden; a move the state machine refuses from the
// current status is ErrIllegalTransition. Concurrent changes are decided
// by the store: each attempt is conditional on the status it read, and a
// loser re-reads and re-checks, so two conflicting moves never both apply.
func (s *Service) ChangeStatus(ctx context.Context, a Actor, id string, to Status, note string) (*Order, error) {
	if err := ValidateStatusChange(to, note); err != nil {
		return nil, err
	}
	note = strings.TrimSpace(note)
	for range maxStatusChangeRounds {
		o, err := s.Get(ctx, a, id)
		if err != nil {
			return nil, err
		}
		if !a.Admin && to != Cancelled {
			return nil, fmt.Errorf("customer moving an order to %s: %w", to, ErrForbidden)
		}
		if !o.Status.CanMoveTo(to) {
			return nil, fmt.Errorf("from %s to %s: %w", o.Status, to, ErrIllegalTransition)
		}
		now := s.clock()
		var event *Event
		if to == Cancelled {
			e := cancelledEvent(o, note, now)
			event = &e
		}
		updated, err := s.repo.ChangeStatus(ctx, id, o.Status, HistoryEntry{Status: to, At: now, Note: note}, event)
		if errors.Is(err, ErrStatusChanged) {
			continue
		}
		if err != nil {
			return nil, err
		}
		if event != nil {
			s.appended(o.ID)
		}
		return updated, nil
	}
	return nil, ErrConflict
}

// ValidateStatusChange returns a *ValidationError listing what is wrong
// with a move to status to with note, or nil; ChangeStatus checks the same.
func ValidateStatusChange(to Status, note string) error {
	var errs []FieldError
	if !to.Valid() {
		errs = append(errs, FieldError{Field: "status", Message: "must be one of " + statusList()})
	}
	if utf8.RuneCountInString(strings.TrimSpace(note)) > MaxStatusNoteLength {
		errs = append(errs, FieldError{Field: "note", Message: fmt.Sprintf("must be at most %d characters", MaxStatusNoteLength)})
	}
	return validation(errs)
}

// Validate returns a *ValidationError listing every invalid field of d, or
// nil; Update checks the same.
func (d Details) Validate() error {
	var errs []FieldError
	if d.ShippingAddress != nil {
		if n := utf8.RuneCountInString(strings.TrimSpace(*d.ShippingAddress)); n == 0 || n > MaxAddressLength {
			errs = append(errs, FieldError{Field: "shippingAddress", Message: fmt.Sprintf("must be 1 to %d characters", MaxAddressLength)})
		}
	}
	if d.Notes != nil && utf8.RuneCountInString(*d.Notes) > MaxNotesLength {
		errs = append(errs, FieldError{Field: "notes", Message: fmt.Sprintf("must be at most %d characters", MaxNotesLength)})
	}
	return validation(errs)
}

// Update changes an order's shipping address and notes, for its owner or
// an admin, while the order is before shipping (ErrAlreadyShipped after).
// The address, when given, is trimmed and must not be empty.
func (s *Service) Update(ctx context.Context, a Actor, id string, d Details) (*Order, error) {
	if err := d.Validate(); err != nil {
		return nil, err
	}
	if d.ShippingAddress != nil {
		addr := strings.TrimSpace(*d.ShippingAddress)
		d.ShippingAddress = &addr
	}
	o, err := s.Get(ctx, a, id)
	if err != nil {
		return nil, err
	}
	if !o.Status.BeforeShipping() {
		return nil, ErrAlreadyShipped
	}
	return s.repo.UpdateDetails(ctx, id, d, s.clock())
}
