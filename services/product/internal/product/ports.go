package product

import (
	"context"
	"time"
)

// Repository stores products. Ids are opaque strings it assigns. Errors
// wrap ErrUnavailable when the store cannot be reached.
type Repository interface {
	// Create stores p and sets p.ID.
	Create(ctx context.Context, p *Product) error
	// ByID returns the product, or ErrNotFound (also for a malformed id).
	ByID(ctx context.Context, id string) (*Product, error)
	// List returns up to q.Limit products matching q, in q.Sort order,
	// strictly after q.After when it is set. A cursor naming an id the
	// store cannot have issued is InvalidCursor().
	List(ctx context.Context, q ListQuery) ([]*Product, error)
	// Update applies p and increments the version, in one atomic
	// single-document write, and returns the product as written. When
	// ifVersions is not nil the write happens only if the current version
	// is one of them; otherwise it fails with ErrPreconditionFailed. An
	// unknown id is ErrNotFound.
	Update(ctx context.Context, id string, p Patch, ifVersions []int64) (*Product, error)
	// Delete removes the product, under the same precondition as Update.
	Delete(ctx context.Context, id string, ifVersions []int64) error
}

// Cache keeps recent products for fast reads. It is only an
// optimisation: its methods report no errors, because the service must
// answer the same with or without it. An implementation logs and counts
// its own failures, and takes on the duty that no read through it returns
// a product older than the last write that returned (see package
// rediscache for how).
type Cache interface {
	// Get returns the cached product, or nil. On a miss it may also
	// return fill, which the caller calls with the product it then read
	// from the repository; fill refuses data that a write has overtaken.
	Get(ctx context.Context, id string) (p *Product, fill func(context.Context, *Product))
	// Stored records that p is the latest version of its product, right
	// after it was written.
	Stored(ctx context.Context, p *Product)
	// Deleted records that the product is gone.
	Deleted(ctx context.Context, id string)
	// Uncertain records that a write of the product may or may not have
	// happened (the store did not answer), so nothing cached about it can
	// be trusted.
	Uncertain(ctx context.Context, id string)
}

// NoCache is a Cache that keeps nothing.
type NoCache struct{}

// Get always misses.
func (NoCache) Get(context.Context, string) (*Product, func(context.Context, *Product)) {
	return nil, nil
}

// Stored does nothing.
func (NoCache) Stored(context.Context, *Product) {}

// Deleted does nothing.
func (NoCache) Deleted(context.Context, string) {}

// Uncertain does nothing.
func (NoCache) Uncertain(context.Context, string) {}

// Clock tells the time; tests pass a fixed one.
type Clock func() time.Time
