// Package token signs the customer service's access tokens: Ed25519 (EdDSA)
// JWTs whose public key other services fetch as a JWKS.
package token

import (
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/travluk/ecom/services/customer/internal/customer"
	"github.com/travluk/ecom/services/platform/auth"
)

// Issuer signs access tokens with one Ed25519 key.
type Issuer struct {
	key      ed25519.PrivateKey
	kid      string
	issuer   string
	audience string
	ttl      time.Duration
}

// NewIssuer returns an Issuer that signs with key and stamps tokens with
// issuer, audience and a lifetime of ttl.
func NewIssuer(key ed25519.PrivateKey, issuer, audience string, ttl time.Duration) *Issuer {
	pub := key.Public().(ed25519.PublicKey)
	return &Issuer{key: key, kid: KeyID(pub), issuer: issuer, audience: audience, ttl: ttl}
}

// KeyID derives a key's kid from the public key itself (the first 16
// characters of base64url(SHA-256(key))), so every replica holding the same
// key names it the same way and a new key gets a new kid with no
// bookkeeping.
func KeyID(pub ed25519.PublicKey) string {
	sum := sha256.Sum256(pub)
	return base64.RawURLEncoding.EncodeToString(sum[:])[:16]
}

// KeyID returns the kid put in every token's header.
func (i *Issuer) KeyID() string { return i.kid }

// PublicKey returns the key that verifies this issuer's tokens.
func (i *Issuer) PublicKey() ed25519.PublicKey { return i.key.Public().(ed25519.PublicKey) }

// Issue signs an access token for a session. It implements
// customer.TokenIssuer.
func (i *Issuer) Issue(customerID string, role customer.Role, sessionID string, now time.Time) (string, time.Duration, error) {
	jti := make([]byte, 16)
	rand.Read(jti)
	claims := auth.Claims{
		RegisteredClaims: jwt.RegisteredClaims{
			Issuer:    i.issuer,
			Audience:  jwt.ClaimStrings{i.audience},
			Subject:   customerID,
			IssuedAt:  jwt.NewNumericDate(now),
			ExpiresAt: jwt.NewNumericDate(now.Add(i.ttl)),
			ID:        base64.RawURLEncoding.EncodeToString(jti),
		},
		SessionID: sessionID,
		Role:      string(role),
	}
	t := jwt.NewWithClaims(jwt.SigningMethodEdDSA, claims)
	t.Header["kid"] = i.kid
	signed, err := t.SignedString(i.key)
	if err != nil {
		return "", 0, fmt.Errorf("sign access token: %w", err)
	}
	return signed, i.ttl, nil
}
