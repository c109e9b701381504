package product

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// Limits of one buy.
const (
	MaxBuyLines    = 50
	MinBuyQuantity = 1
	MaxBuyQuantity = 1000
	// MaxIdempotencyKeyLength bounds an Idempotency-Key, in bytes.
	MaxIdempotencyKeyLength = 255
	// MaxShippingAddressLength is the order service's limit on an
	// order's shipping address.
	MaxShippingAddressLength = 500
)

// Currency is the one currency of the catalog.
const Currency = "EUR"

// PurchaseStatus is where a purchase stands in the order flow (DESIGN §3).
//
//	reserving ─┬─> requested ──> confirmed ──> released (cancelled)
//	           │       └──────────────────────────┘
//	           └─> rejected (short stock, unknown product, or swept)
type PurchaseStatus string

// The statuses of a purchase.
const (
	// StatusReserving: recorded, its lines being reserved.
	StatusReserving PurchaseStatus = "reserving"
	// StatusRequested: every line reserved and order.requested in the
	// purchase's outbox; the order service has yet to confirm.
	StatusRequested PurchaseStatus = "requested"
	// StatusConfirmed: the order exists; the reservations became sales.
	StatusConfirmed PurchaseStatus = "confirmed"
	// StatusReleased: the order was cancelled and its stock given back.
	StatusReleased PurchaseStatus = "released"
	// StatusRejected: no order; nothing stays reserved.
	StatusRejected PurchaseStatus = "rejected"
)

// RejectReason says why a purchase was rejected.
type RejectReason string

// The reasons a purchase is rejected.
const (
	RejectOutOfStock     RejectReason = "out_of_stock"
	RejectUnknownProduct RejectReason = "unknown_product"
	// RejectTimeout: the purchase stayed in reserving longer than the
	// sweeper's timeout (its buy crashed or failed half-way).
	RejectTimeout RejectReason = "timeout"
	// RejectFailed: the store failed during reservation; the buy was
	// answered 503 and rolled back.
	RejectFailed RejectReason = "failed"
)

// Errors of the order flow. The transport layer maps each to a response.
var (
	// ErrPurchaseNotFound means no purchase has this order id.
	ErrPurchaseNotFound = errors.New("purchase not found")
	// ErrPurchaseExists means the customer already has a purchase under
	// this idempotency key (a concurrent buy inserted it first).
	ErrPurchaseExists = errors.New("purchase with this idempotency key exists")
	// ErrPurchaseMoved means a conditional status change found the
	// purchase in another status than expected.
	ErrPurchaseMoved = errors.New("purchase is no longer in the expected status")
	// ErrBuyInProgress means the first buy under an idempotency key is
	// still reserving: the client should retry later.
	ErrBuyInProgress = errors.New("a buy with this idempotency key is still in progress")
	// ErrIdempotencyKeyReused means the key was used with another body.
	ErrIdempotencyKeyReused = errors.New("idempotency key reused with another request body")
)

// OutOfStockError means a line could not be reserved: the product has
// fewer units than asked for. Available is what the store saw, when known
// (-1 otherwise).
type OutOfStockError struct {
	ProductID string
	Name      string
	Requested int64
	Available int64
}

func (e *OutOfStockError) Error() string {
	return fmt.Sprintf("product %s is out of stock: %d requested", e.ProductID, e.Requested)
}

// Is makes errors.Is(err, ErrOutOfStock) true for every OutOfStockError.
func (e *OutOfStockError) Is(target error) bool { return target == ErrOutOfStock }

// ErrOutOfStock matches every *OutOfStockError.
var ErrOutOfStock = errors.New("out of stock")

// UnknownProductError means a line names no product.
type UnknownProductError struct{ ProductID string }

func (e *UnknownProductError) Error() string { return "unknown product " + e.ProductID }

// Is makes errors.Is(err, ErrNotFound) true.
func (e *UnknownProductError) Is(target error) bool { return target == ErrNotFound }

// Line is one line of a buy as the client asks for it.
type Line struct {
	ProductID string
	Quantity  int64
}

// ValidateLines checks a buy's lines: 1 to MaxBuyLines lines, each naming
// a product once with a quantity from MinBuyQuantity to MaxBuyQuantity.
// Fields are named "items[i].productId" and "items[i].quantity".
func ValidateLines(lines []Line) error {
	var errs []FieldError
	if len(lines) == 0 || len(lines) > MaxBuyLines {
		errs = append(errs, FieldError{"items", fmt.Sprintf("must have 1 to %d lines", MaxBuyLines)})
		return validation(errs)
	}
	seen := make(map[string]int, len(lines))
	for i, l := range lines {
		field := "items[" + strconv.Itoa(i) + "]"
		switch first, dup := seen[l.ProductID]; {
		case l.ProductID == "":
			errs = append(errs, FieldError{field + ".productId", "is required"})
		case dup:
			errs = append(errs, FieldError{field + ".productId", fmt.Sprintf("appears more than once (also items[%d])", first)})
		default:
			seen[l.ProductID] = i
		}
		if l.Quantity < MinBuyQuantity || l.Quantity > MaxBuyQuantity {
			errs = append(errs, FieldError{field + ".quantity", fmt.Sprintf("must be a whole number from %d to %d", MinBuyQuantity, MaxBuyQuantity)})
		}
	}
	return validation(errs)
}

// ValidIdempotencyKey reports whether key may be used as an
// Idempotency-Key: 1 to MaxIdempotencyKeyLength printable ASCII characters.
func ValidIdempotencyKey(key string) bool {
	if key == "" || len(key) > MaxIdempotencyKeyLength || !utf8.ValidString(key) {
		return false
	}
	for _, r := range key {
		if r < 0x20 || r > 0x7e {
			return false
		}
	}
	return true
}

// ValidateShippingAddress checks a buy's shipping address by the order
// service's rule for one (PUT /api/orders/{id}): trimmed, 1 to
// MaxShippingAddressLength characters. nil (none sent) is valid.
func ValidateShippingAddress(addr *string) error {
	if addr == nil {
		return nil
	}
	if n := utf8.RuneCountInString(strings.TrimSpace(*addr)); n == 0 || n > MaxShippingAddressLength {
		return validation([]FieldError{{"shippingAddress", fmt.Sprintf("must be 1 to %d characters", MaxShippingAddressLength)}})
	}
	return nil
}

// BodyHash is the fingerprint of a buy's lines and shipping address (as
// stored: trimmed, "" for none) that an idempotency key is bound to. Lines
// are compared as a set, so the ids form {ids, quantity} and the same lines
// as items in any order are the same request. Without an address the hash
// is what it was before buys carried one, so that keys recorded then
// still replay.
func BodyHash(lines []Line, shippingAddress string) string {
	sorted := slices.Clone(lines)
	slices.SortFunc(sorted, func(a, b Line) int { return strings.Compare(a.ProductID, b.ProductID) })
	h := sha256.New()
	for _, l := range sorted {
		fmt.Fprintf(h, "%q:%d\n", l.ProductID, l.Quantity)
	}
	if shippingAddress != "" {
		fmt.Fprintf(h, "shippingAddress:%q\n", shippingAddress)
	}
	return hex.EncodeToString(h.Sum(nil))
}

// PurchaseLine is a line of a purchase. Name and UnitPrice are read from
// the product in the same write that reserves it, so the price charged is
// the price at the moment of reservation.
type PurchaseLine struct {
	ProductID string
	Quantity  int64
	Name      string
	UnitPrice Money
}

// Total is the line's price: unit price times quantity, in cents.
func (l PurchaseLine) Total() Money { return l.UnitPrice * Money(l.Quantity) }

// Purchase is one buy on the product side: the lines, their reservations'
// fate, and the order id under which the order service records the
// order. Purchases are kept (never deleted): the idempotency key of each
// is bound to it for as long as it exists, which is far longer than the
// 24 hours promised.
type Purchase struct {
	OrderID    string
	CustomerID string
	// IdempotencyKey is the client's Idempotency-Key, or "" when it sent
	// none.
	IdempotencyKey string
	BodyHash       string
	Lines          []PurchaseLine
	// ShippingAddress is where the order goes, trimmed, or "" when the
	// buy named none; order.requested carries it to the order.
	ShippingAddress string
	Status          PurchaseStatus
	// Reason and ReasonProductID say why a rejected purchase was
	// rejected, and for which product.
	Reason          RejectReason
	ReasonProductID string
	CreatedAt       time.Time
	UpdatedAt       time.Time
	// ConfirmedAt is when the order service confirmed the order.
	ConfirmedAt time.Time
}

// Total is the sum of the lines' totals.
func (p *Purchase) Total() Money {
	var t Money
	for _, l := range p.Lines {
		t += l.Total()
	}
	return t
}

// Quantity is the number of units over all lines.
func (p *Purchase) Quantity() int64 {
	var n int64
	for _, l := range p.Lines {
		n += l.Quantity
	}
	return n
}

// settled reports whether the purchase has left the statuses a buy waits
// through.
func (p *Purchase) settled() bool {
	return p.Status != StatusReserving && p.Status != StatusRequested
}

// OutboxEvent is an event stored with its aggregate, to be published by
// the outbox relay: its id and its encoded form (a CloudEvent).
type OutboxEvent struct {
	ID   string
	JSON []byte
}

// Purchases stores purchases. Every method is one single-document
// operation on the purchase, except that an adapter may keep a look-up
// document per idempotency key beside it (Create writing it first, ByKey
// reading it). Errors wrap ErrUnavailable when the store cannot be
// reached.
type Purchases interface {
	// Create stores p, whose status is reserving. It fails with
	// ErrPurchaseExists when the customer already has a purchase under
	// p.IdempotencyKey.
	Create(ctx context.Context, p *Purchase) error
	// ByID returns the purchase, or ErrPurchaseNotFound.
	ByID(ctx context.Context, orderID string) (*Purchase, error)
	// ByKey returns the customer's purchase under an idempotency key, or
	// ErrPurchaseNotFound.
	ByKey(ctx context.Context, customerID, key string) (*Purchase, error)
	// Request stores p's priced lines, status requested and e in the
	// purchase's outbox, in one write conditional on the purchase still
	// reserving; otherwise ErrPurchaseMoved.
	Request(ctx context.Context, p *Purchase, e OutboxEvent, now time.Time) error
	// Reject moves a reserving purchase to rejected with a reason; it
	// fails with ErrPurchaseMoved when the purchase is not reserving.
	Reject(ctx context.Context, orderID string, reason RejectReason, productID string, now time.Time) error
	// Confirm moves a requested purchase to confirmed; ErrPurchaseMoved
	// when it is not requested.
	Confirm(ctx context.Context, orderID string, confirmedAt, now time.Time) error
	// Release moves a requested or confirmed purchase to released;
	// ErrPurchaseMoved otherwise.
	Release(ctx context.Context, orderID string, now time.Time) error
	// Forget deletes a purchase that was rejected for a store failure or
	// a timeout (it bought nothing), so that its idempotency key can be
	// used again; ErrPurchaseMoved when the purchase is not such a one.
	Forget(ctx context.Context, orderID string) error
	// Stuck returns up to limit purchases still reserving that were
	// created before before, oldest first.
	Stuck(ctx context.Context, before time.Time, limit int) ([]*Purchase, error)
}

// Reservation is units of a product held for an order.
type Reservation struct {
	ProductID string
	OrderID   string
	Quantity  int64
}

// Reservations moves units of products between stock, reserved and sold,
// each move one conditional single-document write marked with the order
// id, so that repeating a move never applies it twice. Per product,
// initial stock + restocked = stock + reserved + sold holds after every
// move. Errors wrap ErrUnavailable when the store cannot be reached.
type Reservations interface {
	// Reserve moves q units from stock to reserved for orderID and returns
	// the product as written. An unknown or malformed id is
	// *UnknownProductError; too little stock *OutOfStockError. A product
	// already holding a reservation for orderID is returned unchanged.
	Reserve(ctx context.Context, productID, orderID string, q int64) (*Product, error)
	// Release gives orderID's reservation of q units back to stock and
	// returns the product as written, or nil when there was no such
	// reservation (never made, released or sold already).
	Release(ctx context.Context, productID, orderID string, q int64) (*Product, error)
	// Sell turns orderID's reservation of q units into a sale. It reports
	// false when there was no reservation (sold, released or cancelled
	// already): nothing changed.
	Sell(ctx context.Context, productID, orderID string, q int64) (bool, error)
	// Cancel gives the q units of a cancelled order back to stock, exactly
	// once however often it is called: from reserved when the reservation
	// is still held, else from sold. The product keeps a marker of the
	// order; it returns the product as written, or nil when the marker
	// was already there (or the product is gone).
	Cancel(ctx context.Context, productID, orderID string, q int64) (*Product, error)
	// Held returns up to limit reservations currently held.
	Held(ctx context.Context, limit int) ([]Reservation, error)
}

// Events builds the events the flow publishes.
type Events interface {
	// OrderRequested is the order.requested event of a purchase whose
	// lines are all reserved and priced. A buy asks for it once, after its
	// last reservation and before it appends the event.
	OrderRequested(ctx context.Context, p *Purchase) (OutboxEvent, error)
}

// Waiter lets a buy wait for its purchase to settle, whichever replica
// handles the confirmation.
type Waiter interface {
	// Watch starts watching a purchase: wake receives a value whenever the
	// purchase may have changed. Call stop when done.
	Watch(orderID string) (wake <-chan struct{}, stop func())
	// Notify wakes the watchers of orderID on every replica. It reports no
	// error: watchers also poll, so a lost notification only delays them.
	Notify(ctx context.Context, orderID string)
}

// ReservationOutcome labels the result of one line's reservation.
type ReservationOutcome string

// The outcomes of a reservation.
const (
	Reserved       ReservationOutcome = "reserved"
	OutOfStock     ReservationOutcome = "out_of_stock"
	UnknownProduct ReservationOutcome = "unknown_product"
)

// FlowMetrics counts what the flow does.
type FlowMetrics interface {
	// Reservation counts one line's reservation attempt.
	Reservation(outcome ReservationOutcome)
	// OrderRequested counts a purchase that became requested.
	OrderRequested()
}

type noMetrics struct{}

func (noMetrics) Reservation(ReservationOutcome) {}
func (noMetrics) OrderRequested()                {}
