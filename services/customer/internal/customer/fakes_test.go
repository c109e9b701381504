package customer_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/travluk/ecom/services/customer/internal/customer"
)

// The fakes below keep the core's tests fast and focused on its rules; the
// adapters have their own tests against real servers.

type memRepo struct {
	mu     sync.Mutex
	byID   map[string]customer.Customer
	nextID int
}

func newMemRepo() *memRepo { return &memRepo{byID: map[string]customer.Customer{}} }

func (r *memRepo) Create(_ context.Context, c *customer.Customer) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, o := range r.byID {
		if o.Email == c.Email {
			return customer.ErrEmailTaken
		}
	}
	r.nextID++
	c.ID = fmt.Sprintf("c%d", r.nextID)
	r.byID[c.ID] = *c
	return nil
}

func (r *memRepo) ByID(_ context.Context, id string) (*customer.Customer, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	c, ok := r.byID[id]
	if !ok {
		return nil, customer.ErrNotFound
	}
	return &c, nil
}

func (r *memRepo) ByEmail(_ context.Context, email string) (*customer.Customer, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, c := range r.byID {
		if c.Email == email {
			return &c, nil
		}
	}
	return nil, customer.ErrNotFound
}

func (r *memRepo) Update(_ context.Context, id string, p customer.Patch) (*customer.Customer, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	c, ok := r.byID[id]
	if !ok {
		return nil, customer.ErrNotFound
	}
	if p.Email != nil {
		for _, o := range r.byID {
			if o.ID != id && o.Email == *p.Email {
				return nil, customer.ErrEmailTaken
			}
		}
		c.Email = *p.Email
	}
	set := func(dst *string, v *string) {
		if v != nil {
			*dst = *v
		}
	}
	set(&c.Name, p.Name)
	set(&c.Address, p.Address)
	set(&c.PasswordHash, p.PasswordHash)
	if p.Role != nil {
		c.Role = *p.Role
	}
	c.UpdatedAt = p.UpdatedAt
	r.byID[id] = c
	return &c, nil
}

type memSession struct {
	customer.Session
	secret string
	spent  map[string]bool
}

type memSessions struct {
	mu   sync.Mutex
	byID map[string]*memSession
	down bool // simulates Redis being away
}

func newMemSessions() *memSessions { return &memSessions{byID: map[string]*memSession{}} }

func (s *memSessions) Create(_ context.Context, sess customer.Session, hash string, _ time.Duration) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.down {
		return customer.ErrUnavailable
	}
	s.byID[sess.ID] = &memSession{Session: sess, secret: hash, spent: map[string]bool{}}
	return nil
}

func (s *memSessions) Rotate(_ context.Context, sid, presented, next string) (customer.Session, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	m, ok := s.byID[sid]
	switch {
	case !ok:
		return customer.Session{}, customer.ErrInvalidRefreshToken
	case m.secret == presented:
		m.spent[presented] = true
		m.secret = next
		return m.Session, nil
	case m.spent[presented]:
		delete(s.byID, sid)
		return customer.Session{}, fmt.Errorf("%w; %w", customer.ErrRefreshTokenReused, customer.ErrInvalidRefreshToken)
	}
	return customer.Session{}, customer.ErrInvalidRefreshToken
}

func (s *memSessions) Delete(_ context.Context, sid string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.byID, sid)
	return nil
}

func (s *memSessions) DeleteAll(_ context.Context, customerID, except string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for id, m := range s.byID {
		if m.CustomerID == customerID && id != except {
			delete(s.byID, id)
		}
	}
	return nil
}

func (s *memSessions) live(sid string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	_, ok := s.byID[sid]
	return ok
}

// memThrottle locks a key once it reached limit failures; the window never
// ends within a test.
type memThrottle struct {
	mu       sync.Mutex
	limit    int
	failures map[string]int
}

const testWindow = 15 * time.Minute

func newMemThrottle(limit int) *memThrottle {
	return &memThrottle{limit: limit, failures: map[string]int{}}
}

func (t *memThrottle) Check(_ context.Context, account, client string) (time.Duration, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.failures["a:"+account] >= t.limit || (client != "" && t.failures["c:"+client] >= t.limit) {
		return testWindow, nil
	}
	return 0, nil
}

func (t *memThrottle) Fail(_ context.Context, account, client string) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.failures["a:"+account]++
	if client != "" {
		t.failures["c:"+client]++
	}
	return nil
}

func (t *memThrottle) Reset(_ context.Context, account string) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	delete(t.failures, "a:"+account)
	return nil
}

// countingHasher stands in for argon2 and counts how often a password was
// checked, which is what the login timing promise is about.
type countingHasher struct {
	mu            sync.Mutex
	verifications int
}

func (h *countingHasher) Hash(pw string) (string, error) { return "hashed:" + pw, nil }

func (h *countingHasher) Verify(encoded, pw string) (bool, error) {
	h.mu.Lock()
	h.verifications++
	h.mu.Unlock()
	return encoded == "hashed:"+pw, nil
}

func (h *countingHasher) VerifyDummy(pw string) { h.Verify("hashed:\x00dummy", pw) }

func (h *countingHasher) count() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.verifications
}

type fakeTokens struct{}

func (fakeTokens) Issue(id string, role customer.Role, sid string, _ time.Time) (string, time.Duration, error) {
	return strings.Join([]string{"access", id, string(role), sid}, ":"), 15 * time.Minute, nil
}
