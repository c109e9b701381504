package customer

import (
	"context"
	"time"
)

// Repository stores customers. Emails are unique (as normalised); ids are
// opaque strings the repository assigns.
type Repository interface {
	// Create stores c and sets c.ID. It returns ErrEmailTaken when the email
	// is already used.
	Create(ctx context.Context, c *Customer) error
	// ByID returns the customer, or ErrNotFound (also for a malformed id).
	ByID(ctx context.Context, id string) (*Customer, error)
	// ByEmail returns the customer with this normalised email, or ErrNotFound.
	ByEmail(ctx context.Context, email string) (*Customer, error)
	// Update applies the non-nil fields of p to the customer in one write and
	// returns the result. It returns ErrNotFound or ErrEmailTaken.
	Update(ctx context.Context, id string, p Patch) (*Customer, error)
}

// Patch is a partial update: nil fields stay as they are.
type Patch struct {
	Name         *string
	Email        *string
	Address      *string
	Role         *Role
	PasswordHash *string
	UpdatedAt    time.Time
}

// Session is a logged-in session: what a refresh token leads to and what an
// access token's sid names.
type Session struct {
	ID         string
	CustomerID string
	Role       Role
}

// Sessions keeps logged-in sessions. Each holds the hash of its current
// refresh secret and remembers the spent ones. Implementations return errors
// wrapping ErrUnavailable when their store cannot be reached.
type Sessions interface {
	// Create starts session s with the hash of its first refresh secret; it
	// lives for ttl.
	Create(ctx context.Context, s Session, secretHash string, ttl time.Duration) error
	// Rotate replaces the session's current secret hash with newHash when
	// presentedHash is the current one, and returns the session. A spent hash
	// ends the whole session and returns ErrRefreshTokenReused; an unknown
	// session or hash returns ErrInvalidRefreshToken.
	Rotate(ctx context.Context, sessionID, presentedHash, newHash string) (Session, error)
	// Delete ends one session; ending an ended session is no error.
	Delete(ctx context.Context, sessionID string) error
	// DeleteAll ends every session of a customer except the one named
	// except (may be empty).
	DeleteAll(ctx context.Context, customerID, except string) error
}

// Throttle counts failed logins per account and per client address over a
// window and says when either is over its limit.
type Throttle interface {
	// Check returns how long the caller must wait before trying again, or 0
	// when neither the account nor the client is locked.
	Check(ctx context.Context, account, client string) (time.Duration, error)
	// Fail counts one failed attempt against the account and the client.
	Fail(ctx context.Context, account, client string) error
	// Reset forgets the account's failures (after a successful login).
	Reset(ctx context.Context, account string) error
}

// PasswordHasher hashes and verifies passwords.
type PasswordHasher interface {
	Hash(password string) (string, error)
	// Verify reports whether password matches encoded; an error means the
	// encoded hash is unusable.
	Verify(encoded, password string) (bool, error)
	// VerifyDummy does the work of a Verify against no account, so a login
	// for an unknown email takes as long as one with a wrong password.
	VerifyDummy(password string)
}

// TokenIssuer signs access tokens.
type TokenIssuer interface {
	// Issue returns a signed access token for the session and its lifetime.
	Issue(customerID string, role Role, sessionID string, now time.Time) (token string, ttl time.Duration, err error)
}

// Clock tells the time; tests pass a fixed one.
type Clock interface {
	Now() time.Time
}

// ClockFunc adapts a function (such as time.Now) to Clock.
type ClockFunc func() time.Time

// Now calls f.
func (f ClockFunc) Now() time.Time { return f() }
