package order

import (
	"context"
	"sync"
	"time"
)

// memoryRepo is an in-memory Repository for the core's tests; the
// MongoDB adapter has its own tests against a real store.
type memoryRepo struct {
	mu     sync.Mutex
	orders map[string]*Order
	events map[string][]Event
	// beforeChange, when set, runs inside ChangeStatus before the status
	// check, to simulate a concurrent writer.
	beforeChange func(o *Order)
}

func newMemoryRepo() *memoryRepo {
	return &memoryRepo{orders: map[string]*Order{}, events: map[string][]Event{}}
}

func clone(o *Order) *Order {
	c := *o
	c.Items = append([]Item(nil), o.Items...)
	c.History = append([]HistoryEntry(nil), o.History...)
	return &c
}

func (m *memoryRepo) Insert(_ context.Context, o *Order, events []Event) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.orders[o.ID]; ok {
		return ErrAlreadyExists
	}
	m.orders[o.ID] = clone(o)
	m.events[o.ID] = append(m.events[o.ID], events...)
	return nil
}

func (m *memoryRepo) ByID(_ context.Context, id string) (*Order, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	o, ok := m.orders[id]
	if !ok {
		return nil, ErrNotFound
	}
	return clone(o), nil
}

func (m *memoryRepo) List(context.Context, ListQuery) ([]*Order, error) { return nil, nil }

func (m *memoryRepo) ChangeStatus(_ context.Context, id string, from Status, e HistoryEntry, ev *Event) (*Order, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	o, ok := m.orders[id]
	if !ok {
		return nil, ErrNotFound
	}
	if m.beforeChange != nil {
		m.beforeChange(o)
		m.beforeChange = nil
	}
	if o.Status != from {
		return nil, ErrStatusChanged
	}
	o.Status, o.UpdatedAt = e.Status, e.At
	o.History = append(o.History, e)
	if ev != nil {
		m.events[id] = append(m.events[id], *ev)
	}
	return clone(o), nil
}

func (m *memoryRepo) UpdateDetails(_ context.Context, id string, d Details, at time.Time) (*Order, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	o, ok := m.orders[id]
	if !ok {
		return nil, ErrNotFound
	}
	if !o.Status.BeforeShipping() {
		return nil, ErrAlreadyShipped
	}
	if d.ShippingAddress != nil {
		o.ShippingAddress = *d.ShippingAddress
	}
	if d.Notes != nil {
		o.Notes = *d.Notes
	}
	o.UpdatedAt = at
	return clone(o), nil
}
