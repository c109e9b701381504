package product

import (
	"context"
	"errors"
	"time"
)

// Service carries out the catalog's use cases.
type Service struct {
	products Repository
	cache    Cache
	now      Clock
}

// NewService returns a Service over products, reading through cache. A
// nil cache means NoCache, a nil clock time.Now.
func NewService(products Repository, cache Cache, now Clock) *Service {
	if cache == nil {
		cache = NoCache{}
	}
	if now == nil {
		now = time.Now
	}
	return &Service{products: products, cache: cache, now: now}
}

// Create validates d and stores the new product.
func (s *Service) Create(ctx context.Context, d Draft) (*Product, error) {
	p, err := New(d, s.now())
	if err != nil {
		return nil, err
	}
	if err := s.products.Create(ctx, p); err != nil {
		return nil, err
	}
	return p, nil
}

// Get returns the product with id, from the cache when it has it.
func (s *Service) Get(ctx context.Context, id string) (*Product, error) {
	cached, fill := s.cache.Get(ctx, id)
	if cached != nil {
		return cached, nil
	}
	p, err := s.products.ByID(ctx, id)
	if err != nil {
		return nil, err
	}
	if fill != nil {
		fill(ctx, p)
	}
	return p, nil
}

// List returns one page of products. It asks the store for one product
// more than the page holds, to know whether another page follows without
// a second query.
func (s *Service) List(ctx context.Context, q ListQuery) (Page, error) {
	want := q.Limit
	q.Limit++
	items, err := s.products.List(ctx, q)
	if err != nil {
		return Page{}, err
	}
	page := Page{Items: items}
	if len(items) > want {
		page.Items = items[:want]
		page.NextCursor = EncodeCursor(q.Sort, page.Items[want-1])
	}
	return page, nil
}

// Update applies the changes c to the product with id, when its version
// is one of ifVersions (nil means any), and returns the product as now
// stored. The cache learns of the change before Update returns, so the
// next read shows it.
func (s *Service) Update(ctx context.Context, id string, c Changes, ifVersions []int64) (*Product, error) {
	patch, err := c.patch(s.now())
	if err != nil {
		return nil, err
	}
	p, err := s.products.Update(ctx, id, patch, ifVersions)
	if err != nil {
		s.afterFailedWrite(ctx, id, err)
		return nil, err
	}
	s.cache.Stored(ctx, p)
	return p, nil
}

// Delete removes the product with id, when its version is one of
// ifVersions (nil means any).
func (s *Service) Delete(ctx context.Context, id string, ifVersions []int64) error {
	if err := s.products.Delete(ctx, id, ifVersions); err != nil {
		s.afterFailedWrite(ctx, id, err)
		return err
	}
	s.cache.Deleted(ctx, id)
	return nil
}

// afterFailedWrite tells the cache when a failed write may nevertheless
// have happened: a store that timed out may have applied it. Refusals
// (not found, precondition, validation) changed nothing.
func (s *Service) afterFailedWrite(ctx context.Context, id string, err error) {
	var invalid *ValidationError
	if errors.Is(err, ErrNotFound) || errors.Is(err, ErrPreconditionFailed) || errors.As(err, &invalid) {
		return
	}
	s.cache.Uncertain(ctx, id)
}
