// Package authtest issues access tokens for tests of services that verify
// them with platform/auth: an Ed25519 key published as a JWKS over
// httptest, tokens with the claims the customer service puts in, and live
// sessions written to Redis the way the customer service writes them.
package authtest

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/redis/go-redis/v9"

	"github.com/travluk/ecom/services/platform/auth"
	"github.com/travluk/ecom/services/platform/redisconn"
)

// IssuerName and Audience are the iss and aud of the tokens an Issuer
// signs: the services' defaults of JWT_ISSUER and JWT_AUDIENCE.
const (
	IssuerName = "travluk"
	Audience   = "travluk"
)

// sessionTTL outlives any test; sessions are also deleted when it ends.
const sessionTTL = time.Hour

// Issuer signs tokens and keeps their sessions, like the customer service.
type Issuer struct {
	key  ed25519.PrivateKey
	kid  string
	jwks *httptest.Server
	rdb  *redis.Client
}

// NewIssuer generates a key, serves its JWKS until t ends, and connects to
// the Redis at redisURL, where sessions are written. It fails t when the
// key cannot be made or the URL is bad.
func NewIssuer(t testing.TB, redisURL string) *Issuer {
	t.Helper()
	pub, key, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatalf("authtest: generate key: %v", err)
	}
	rdb, err := redisconn.Connect(redisURL)
	if err != nil {
		t.Fatalf("authtest: %v", err)
	}
	kid := "test-" + rand.Text()[:8]
	srv := httptest.NewServer(auth.JWKSHandler(auth.JWKSet{Keys: []auth.JWK{auth.PublicJWK(kid, pub)}}))
	t.Cleanup(func() {
		srv.Close()
		rdb.Close()
	})
	return &Issuer{key: key, kid: kid, jwks: srv, rdb: rdb}
}

// JWKSURL is where the JWKS is served, for a service's JWKS_URL.
func (i *Issuer) JWKSURL() string { return i.jwks.URL + "/.well-known/jwks.json" }

// Keys returns the public key by kid, for a Verifier built in the test.
func (i *Issuer) Keys() auth.StaticKeys {
	return auth.StaticKeys{i.kid: i.key.Public()}
}

// Token starts a session for sub with role (auth.RoleCustomer or
// auth.RoleAdmin) and returns a 15-minute access token for it and the
// session id. The session is deleted when t ends.
func (i *Issuer) Token(t testing.TB, sub, role string) (token, sid string) {
	t.Helper()
	sid = rand.Text()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	key := auth.SessionKey(sid)
	if err := i.rdb.HSet(ctx, key, "customerId", sub, "role", role).Err(); err != nil {
		t.Fatalf("authtest: write session: %v", err)
	}
	if err := i.rdb.Expire(ctx, key, sessionTTL).Err(); err != nil {
		t.Fatalf("authtest: expire session: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		i.rdb.Del(ctx, key)
	})
	now := time.Now()
	claims := auth.Claims{
		RegisteredClaims: jwt.RegisteredClaims{
			Issuer:    IssuerName,
			Subject:   sub,
			Audience:  jwt.ClaimStrings{Audience},
			ExpiresAt: jwt.NewNumericDate(now.Add(15 * time.Minute)),
			IssuedAt:  jwt.NewNumericDate(now),
			ID:        rand.Text(),
		},
		SessionID: sid,
		Role:      role,
	}
	tok := jwt.NewWithClaims(jwt.SigningMethodEdDSA, claims)
	tok.Header["kid"] = i.kid
	token, err := tok.SignedString(i.key)
	if err != nil {
		t.Fatalf("authtest: sign: %v", err)
	}
	return token, sid
}

// EndSession logs the session out, as the customer service's logout does:
// its tokens are refused from then on (after the verifier's session cache,
// at most a second).
func (i *Issuer) EndSession(t testing.TB, sid string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := i.rdb.Del(ctx, auth.SessionKey(sid)).Err(); err != nil {
		t.Fatalf("authtest: end session: %v", err)
	}
}
