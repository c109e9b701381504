package product

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// ErrNotRequested means an event about an order arrived for a purchase
// that never asked for one yet (still reserving): the event is early or
// foreign. Consumers retry it, and dead-letter it after the delivery limit.
var ErrNotRequested = errors.New("purchase has not requested an order")

// Confirm applies order.confirmed: every reservation of the order becomes
// a sale, the purchase becomes confirmed, and the buy waiting for it (on
// any replica) is woken. Repeating it changes nothing; after Cancel it
// changes nothing either (the units were given back, never sold). An
// unknown order is ErrPurchaseNotFound.
func (f *Flow) Confirm(ctx context.Context, orderID string, confirmedAt time.Time) error {
	p, err := f.purchases.ByID(ctx, orderID)
	if err != nil {
		return err
	}
	switch p.Status {
	case StatusReserving:
		return fmt.Errorf("confirm %s: %w", orderID, ErrNotRequested)
	case StatusRequested:
		for _, l := range p.Lines {
			if _, err := f.reservations.Sell(ctx, l.ProductID, orderID, l.Quantity); err != nil {
				return fmt.Errorf("confirm %s: sell %s: %w", orderID, l.ProductID, err)
			}
		}
		if confirmedAt.IsZero() {
			confirmedAt = f.now()
		}
		now := f.now().UTC().Truncate(time.Millisecond)
		err := f.purchases.Confirm(ctx, orderID, confirmedAt.UTC().Truncate(time.Millisecond), now)
		if err != nil && !errors.Is(err, ErrPurchaseMoved) {
			return fmt.Errorf("confirm %s: %w", orderID, err)
		}
	default:
		// Confirmed already (a redelivery), or released or rejected:
		// nothing to sell.
	}
	f.waiter.Notify(ctx, orderID)
	return nil
}

// Cancel applies order.cancelled: each line's units go back to stock
// exactly once (from reserved if the confirmation has not been applied
// yet, else from sold), then the purchase becomes released. Repeating it,
// or a late order.confirmed, changes nothing. An unknown order is
// ErrPurchaseNotFound.
func (f *Flow) Cancel(ctx context.Context, orderID string) error {
	p, err := f.purchases.ByID(ctx, orderID)
	if err != nil {
		return err
	}
	switch p.Status {
	case StatusReserving:
		return fmt.Errorf("cancel %s: %w", orderID, ErrNotRequested)
	case StatusRequested, StatusConfirmed:
		for _, l := range p.Lines {
			prod, err := f.reservations.Cancel(ctx, l.ProductID, orderID, l.Quantity)
			if err != nil {
				f.cache.Uncertain(ctx, l.ProductID)
				return fmt.Errorf("cancel %s: give back %s: %w", orderID, l.ProductID, err)
			}
			if prod != nil {
				f.cache.Stored(ctx, prod)
			}
		}
		err := f.purchases.Release(ctx, orderID, f.now().UTC().Truncate(time.Millisecond))
		if err != nil && !errors.Is(err, ErrPurchaseMoved) {
			return fmt.Errorf("cancel %s: %w", orderID, err)
		}
	default:
		// Released already (a redelivery: every line was given back before
		// the status changed), or rejected (no order was ever requested).
	}
	f.waiter.Notify(ctx, orderID)
	return nil
}

// Sweep finishes what crashes left half-way, and is safe to run on every
// replica at once:
//
//   - a purchase still reserving after the purchase timeout (its buy died
//     between reservation and the outbox write) is rejected and its
//     reservations released;
//   - a reservation whose purchase is gone, rejected or released (a
//     rollback that died half-way) is released.
//
// A requested purchase is never touched: its order.requested is in its
// outbox until the broker confirmed it, and the relay keeps trying.
func (f *Flow) Sweep(ctx context.Context) error {
	now := f.now().UTC().Truncate(time.Millisecond)
	stuck, err := f.purchases.Stuck(ctx, now.Add(-f.timeout), sweepBatch)
	if err != nil {
		return fmt.Errorf("sweep: stuck purchases: %w", err)
	}
	for _, p := range stuck {
		err := f.purchases.Reject(ctx, p.OrderID, RejectTimeout, "", now)
		if errors.Is(err, ErrPurchaseMoved) {
			continue // its buy finished meanwhile
		}
		if err != nil {
			return fmt.Errorf("sweep: reject %s: %w", p.OrderID, err)
		}
		f.log.WarnContext(ctx, "purchase stuck reserving rolled back", "orderId", p.OrderID, "createdAt", p.CreatedAt)
		f.releaseLines(ctx, p.OrderID, p.Lines)
	}

	held, err := f.reservations.Held(ctx, sweepHeldScan)
	if err != nil {
		return fmt.Errorf("sweep: held reservations: %w", err)
	}
	status := map[string]PurchaseStatus{}
	for _, r := range held {
		st, ok := status[r.OrderID]
		if !ok {
			p, err := f.purchases.ByID(ctx, r.OrderID)
			switch {
			case errors.Is(err, ErrPurchaseNotFound):
				st = ""
			case err != nil:
				return fmt.Errorf("sweep: purchase %s: %w", r.OrderID, err)
			default:
				st = p.Status
			}
			status[r.OrderID] = st
		}
		if st == "" || st == StatusRejected || st == StatusReleased {
			f.log.WarnContext(ctx, "orphaned reservation released", "orderId", r.OrderID, "productId", r.ProductID, "purchaseStatus", string(st))
			f.releaseLines(ctx, r.OrderID, []PurchaseLine{{ProductID: r.ProductID, Quantity: r.Quantity}})
		}
	}
	return nil
}

// RunSweeper calls Sweep every interval until ctx ends. Errors are logged;
// the next sweep tries again.
func (f *Flow) RunSweeper(ctx context.Context, interval time.Duration) {
	if interval <= 0 {
		interval = DefaultSweepInterval
	}
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if err := f.Sweep(ctx); err != nil && ctx.Err() == nil {
			f.log.WarnContext(ctx, "sweep failed", "error", err)
		}
	}
}
