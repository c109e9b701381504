// Package auth verifies the access tokens the customer service issues, in
// every service: an Ed25519 (or ES256) signed JWT whose session must still
// be live in Redis.
//
// The rule it keeps: a token is accepted only when its algorithm is on an
// explicit allow-list, its key is known by kid, its issuer, audience and
// times check out, and its session key "session:<sid>" exists in Redis.
// Logout deletes that key, so a logged-out token is refused everywhere
// within the session cache's lifetime (at most one second). When Redis
// cannot be asked, verification fails with ErrUnavailable, answered as 503:
// a token is never accepted without its session being checked.
package auth

import (
	"context"
	"errors"

	"github.com/golang-jwt/jwt/v5"
)

// Roles carried in the "role" claim. An admin passes every role check.
const (
	RoleCustomer = "customer"
	RoleAdmin    = "admin"
)

// Errors of Verify and of key sources. Each returned error wraps exactly
// one of them, so callers branch with errors.Is.
var (
	// ErrInvalidToken means the token is missing, malformed, forged,
	// expired or not meant for us: 401.
	ErrInvalidToken = errors.New("invalid token")
	// ErrSessionEnded means the token is genuine but its session was
	// logged out or revoked: 401.
	ErrSessionEnded = errors.New("session ended")
	// ErrUnavailable means the token could not be checked because the
	// session store or the signing keys could not be reached: 503.
	ErrUnavailable = errors.New("token verification unavailable")
)

// Claims are the claims of an access token.
type Claims struct {
	jwt.RegisteredClaims
	SessionID string `json:"sid"`
	Role      string `json:"role"`
}

// HasRole reports whether the claims satisfy role: they name it, or they
// are an admin's.
func (c *Claims) HasRole(role string) bool {
	return c.Role == role || c.Role == RoleAdmin
}

type claimsKey struct{}

// WithClaims returns a context carrying c, as Authenticate does; handler
// tests use it to stand in for a verified token.
func WithClaims(ctx context.Context, c *Claims) context.Context {
	return context.WithValue(ctx, claimsKey{}, c)
}

// ClaimsFrom returns the claims Authenticate verified for this request.
func ClaimsFrom(ctx context.Context) (*Claims, bool) {
	c, ok := ctx.Value(claimsKey{}).(*Claims)
	return c, ok && c != nil
}

// SessionKey is the Redis key whose existence means the session sid is
// live. The customer service creates it at login and deletes it at logout
// or revocation; every verifier checks it.
func SessionKey(sid string) string {
	return "session:" + sid
}
