package product

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"
)

// Defaults of FlowOptions.
const (
	DefaultConfirmWait     = 5 * time.Second
	DefaultPurchaseTimeout = 30 * time.Second
	DefaultSweepInterval   = 5 * time.Second
)

// sweepBatch bounds the purchases and reservations one sweep looks at.
const (
	sweepBatch    = 100
	sweepHeldScan = 1000
)

// FlowOptions configure a Flow. Purchases, Reservations, Events and
// Waiter are required.
type FlowOptions struct {
	Purchases    Purchases
	Reservations Reservations
	Events       Events
	Waiter       Waiter
	// Cache learns of every stock change, so that a product read after a
	// buy shows its new stock. Nil means NoCache.
	Cache Cache
	// Nudge tells the outbox relay that an event was appended to the
	// outbox of the purchase aggregateID (the order id). Nil means the
	// relay finds it by polling.
	Nudge func(aggregateID string)
	// Metrics counts reservations and requested orders; nil counts
	// nothing.
	Metrics FlowMetrics
	Clock   Clock
	Logger  *slog.Logger
	// ConfirmWait is how long a buy waits for the order service's
	// confirmation before answering "pending" (DefaultConfirmWait).
	ConfirmWait time.Duration
	// PurchaseTimeout is how long a purchase may stay reserving before
	// the sweeper rolls it back (DefaultPurchaseTimeout).
	PurchaseTimeout time.Duration
}

// Flow is the order flow on the product side (DESIGN §3, steps 1, 2, 5
// and 6): buying, confirming, cancelling, and sweeping what a crash left
// half-way.
//
// The rule it keeps, per product: initial stock + restocked = stock +
// reserved + sold, and stock never below zero. Every move of units is one
// conditional single-document write marked with the order id, so that
// retries, redeliveries and races between replicas never apply one twice.
type Flow struct {
	purchases    Purchases
	reservations Reservations
	events       Events
	waiter       Waiter
	cache        Cache
	nudge        func(aggregateID string)
	metrics      FlowMetrics
	now          Clock
	log          *slog.Logger
	confirmWait  time.Duration
	timeout      time.Duration
}

// NewFlow returns a Flow; zero options take their defaults.
func NewFlow(o FlowOptions) *Flow {
	f := &Flow{
		purchases: o.Purchases, reservations: o.Reservations, events: o.Events, waiter: o.Waiter,
		cache: o.Cache, nudge: o.Nudge, metrics: o.Metrics, now: o.Clock, log: o.Logger,
		confirmWait: o.ConfirmWait, timeout: o.PurchaseTimeout,
	}
	if f.cache == nil {
		f.cache = NoCache{}
	}
	if f.nudge == nil {
		f.nudge = func(string) {}
	}
	if f.metrics == nil {
		f.metrics = noMetrics{}
	}
	if f.now == nil {
		f.now = time.Now
	}
	if f.log == nil {
		f.log = slog.New(slog.DiscardHandler)
	}
	if f.confirmWait <= 0 {
		f.confirmWait = DefaultConfirmWait
	}
	if f.timeout <= 0 {
		f.timeout = DefaultPurchaseTimeout
	}
	return f
}

// BuyRequest is a customer's buy.
type BuyRequest struct {
	CustomerID string
	// IdempotencyKey is optional; see Buy.
	IdempotencyKey string
	Lines          []Line
	// ShippingAddress is optional (nil: none); see ValidateShippingAddress.
	ShippingAddress *string
}

// Validate returns a *ValidationError listing every invalid field of r, or
// nil.
func (r BuyRequest) Validate() error {
	var errs []FieldError
	for _, err := range []error{ValidateLines(r.Lines), ValidateShippingAddress(r.ShippingAddress)} {
		if v, ok := err.(*ValidationError); ok {
			errs = append(errs, v.Errors...)
		}
	}
	return validation(errs)
}

// shippingAddress is the address as stored: trimmed, "" for none.
func (r BuyRequest) shippingAddress() string {
	if r.ShippingAddress == nil {
		return ""
	}
	return strings.TrimSpace(*r.ShippingAddress)
}

// Buy reserves every line for a new order and asks the order service for
// it, then waits up to the confirm wait for the confirmation. It returns
// the purchase: confirmed (or released, if it was cancelled meanwhile)
// when the confirmation came in time, requested when it did not.
//
// Nothing stays reserved when Buy fails: a *ValidationError for invalid
// lines; *UnknownProductError or *OutOfStockError naming the first line
// that could not be reserved (the lines before it are released); an error
// wrapping ErrUnavailable when the store failed (what was reserved is
// released, or else rolled back by the sweeper).
//
// With an idempotency key, a repeated buy of the same customer with the
// same lines and shipping address returns the first one's purchase (waiting again if it is
// still requested) or its error, and reserves nothing more; with other
// lines or another address it is ErrIdempotencyKeyReused, and while the first is still
// reserving ErrBuyInProgress.
func (f *Flow) Buy(ctx context.Context, req BuyRequest) (*Purchase, error) {
	if err := req.Validate(); err != nil {
		return nil, err
	}
	hash := BodyHash(req.Lines, req.shippingAddress())
	if req.IdempotencyKey != "" {
		prev, err := f.purchases.ByKey(ctx, req.CustomerID, req.IdempotencyKey)
		switch {
		case err == nil:
			return f.replay(ctx, req, prev, hash, true)
		case !errors.Is(err, ErrPurchaseNotFound):
			return nil, err
		}
	}
	return f.start(ctx, req, hash, true)
}

// start records a new purchase and carries it through. retry says whether
// a failed earlier attempt under the same key may still be replaced.
func (f *Flow) start(ctx context.Context, req BuyRequest, hash string, retry bool) (*Purchase, error) {
	now := f.now().UTC().Truncate(time.Millisecond)
	p := &Purchase{
		CustomerID: req.CustomerID, IdempotencyKey: req.IdempotencyKey, BodyHash: hash,
		Lines: make([]PurchaseLine, len(req.Lines)), ShippingAddress: req.shippingAddress(),
		Status: StatusReserving, CreatedAt: now, UpdatedAt: now,
	}
	for i, l := range req.Lines {
		p.Lines[i] = PurchaseLine{ProductID: l.ProductID, Quantity: l.Quantity}
	}
	err := f.purchases.Create(ctx, p)
	if errors.Is(err, ErrPurchaseExists) {
		// A concurrent buy under the same key recorded its purchase first.
		prev, err := f.purchases.ByKey(ctx, req.CustomerID, req.IdempotencyKey)
		if err != nil {
			return nil, err
		}
		return f.replay(ctx, req, prev, hash, retry)
	}
	if err != nil {
		return nil, err
	}

	// From here on a client that goes away must not leave the purchase
	// half-way: the writes run to the end on their own.
	work := context.WithoutCancel(ctx)
	if err := f.reserve(work, p); err != nil {
		return nil, err
	}
	// A crash from here until the purchase is requested leaves
	// reservations without an order: the sweeper rolls them back.
	wake, stop := f.waiter.Watch(p.OrderID)
	defer stop()
	event, err := f.events.OrderRequested(work, p)
	if err == nil {
		err = f.purchases.Request(work, p, event, f.now().UTC().Truncate(time.Millisecond))
	}
	if err != nil {
		// ErrPurchaseMoved: the sweeper rolled the purchase back, because
		// this buy was slower than the purchase timeout; release what it
		// reserved since. Any other error leaves the outcome unknown: if
		// the write happened the flow goes on (a retry with the same key
		// finds it), if not the sweeper rolls the purchase back. Releasing
		// then could undo a requested purchase's reservations.
		if errors.Is(err, ErrPurchaseMoved) {
			f.releaseLines(work, p.OrderID, p.Lines)
			return nil, fmt.Errorf("%w: purchase %s timed out while reserving", ErrUnavailable, p.OrderID)
		}
		return nil, fmt.Errorf("request order %s: %w", p.OrderID, err)
	}
	p.Status = StatusRequested
	f.metrics.OrderRequested()
	f.nudge(p.OrderID)
	return f.await(ctx, p, wake), nil
}

// reserve reserves p's lines one after the other, recording each line's
// name and unit price. On the first line that cannot be reserved it rolls
// the purchase back and returns why.
func (f *Flow) reserve(ctx context.Context, p *Purchase) error {
	for i, l := range p.Lines {
		prod, err := f.reservations.Reserve(ctx, l.ProductID, p.OrderID, l.Quantity)
		if err == nil {
			f.metrics.Reservation(Reserved)
			p.Lines[i].Name, p.Lines[i].UnitPrice = prod.Name, prod.Price
			f.cache.Stored(ctx, prod)
			continue
		}
		var (
			short   *OutOfStockError
			unknown *UnknownProductError
		)
		switch {
		case errors.As(err, &short):
			f.metrics.Reservation(OutOfStock)
			f.rollback(ctx, p, p.Lines[:i], RejectOutOfStock, l.ProductID)
		case errors.As(err, &unknown):
			f.metrics.Reservation(UnknownProduct)
			f.rollback(ctx, p, p.Lines[:i], RejectUnknownProduct, l.ProductID)
		default:
			// The write may or may not have happened: release this line
			// too (a release finds nothing when it did not).
			f.cache.Uncertain(ctx, l.ProductID)
			f.rollback(ctx, p, p.Lines[:i+1], RejectFailed, l.ProductID)
		}
		return err
	}
	return nil
}

// rollback releases the reserved lines, then marks the purchase rejected.
// A failure is logged and left to the sweeper, which finishes the job
// after the purchase timeout.
func (f *Flow) rollback(ctx context.Context, p *Purchase, reserved []PurchaseLine, reason RejectReason, productID string) {
	f.releaseLines(ctx, p.OrderID, reserved)
	err := f.purchases.Reject(ctx, p.OrderID, reason, productID, f.now().UTC().Truncate(time.Millisecond))
	if err != nil && !errors.Is(err, ErrPurchaseMoved) {
		f.log.WarnContext(ctx, "purchase not marked rejected; the sweeper will", "orderId", p.OrderID, "error", err)
	}
}

// releaseLines gives back whatever the lines hold for orderID.
func (f *Flow) releaseLines(ctx context.Context, orderID string, lines []PurchaseLine) {
	for _, l := range lines {
		prod, err := f.reservations.Release(ctx, l.ProductID, orderID, l.Quantity)
		if err != nil {
			f.cache.Uncertain(ctx, l.ProductID)
			f.log.WarnContext(ctx, "reservation not released; the sweeper will", "orderId", orderID, "productId", l.ProductID, "error", err)
			continue
		}
		if prod != nil {
			f.cache.Stored(ctx, prod)
		}
	}
}

// replay answers a buy whose idempotency key already has a purchase.
func (f *Flow) replay(ctx context.Context, req BuyRequest, prev *Purchase, hash string, retry bool) (*Purchase, error) {
	if prev.BodyHash != hash {
		return nil, ErrIdempotencyKeyReused
	}
	switch prev.Status {
	case StatusReserving:
		return nil, ErrBuyInProgress
	case StatusRequested:
		wake, stop := f.waiter.Watch(prev.OrderID)
		defer stop()
		// It may have settled between the caller's read and the watch.
		if cur, err := f.purchases.ByID(ctx, prev.OrderID); err == nil {
			prev = cur
		}
		if prev.settled() {
			return prev, nil
		}
		return f.await(ctx, prev, wake), nil
	case StatusRejected:
		switch prev.Reason {
		case RejectOutOfStock:
			return nil, &OutOfStockError{ProductID: prev.ReasonProductID, Requested: lineQuantity(prev, prev.ReasonProductID), Available: -1}
		case RejectUnknownProduct:
			return nil, &UnknownProductError{ProductID: prev.ReasonProductID}
		}
		// The first attempt failed in the store or timed out: it bought
		// nothing and was answered with an error, so the client's retry
		// gets a fresh attempt under the same key.
		if !retry {
			return nil, ErrBuyInProgress
		}
		if err := f.purchases.Forget(ctx, prev.OrderID); err != nil && !errors.Is(err, ErrPurchaseMoved) {
			return nil, err
		}
		return f.start(ctx, req, hash, false)
	}
	return prev, nil
}

func lineQuantity(p *Purchase, productID string) int64 {
	for _, l := range p.Lines {
		if l.ProductID == productID {
			return l.Quantity
		}
	}
	return 0
}

// await waits up to the confirm wait for p to settle and returns it as
// last read; still requested when the wait ran out.
func (f *Flow) await(ctx context.Context, p *Purchase, wake <-chan struct{}) *Purchase {
	timer := time.NewTimer(f.confirmWait)
	defer timer.Stop()
	for {
		select {
		case <-wake:
		case <-timer.C:
			return p
		case <-ctx.Done():
			return p
		}
		cur, err := f.purchases.ByID(ctx, p.OrderID)
		if err != nil {
			continue
		}
		if p = cur; p.settled() {
			return p
		}
	}
}

// Order returns the purchase recorded under orderID.
func (f *Flow) Order(ctx context.Context, orderID string) (*Purchase, error) {
	return f.purchases.ByID(ctx, orderID)
}
