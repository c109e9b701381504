package auth

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sync"
	"time"
)

// KeySource finds the public key a token names in its kid header. An
// unknown kid is an error wrapping ErrInvalidToken; a source that cannot be
// reached and has no such key cached returns one wrapping ErrUnavailable.
type KeySource interface {
	PublicKey(ctx context.Context, kid string) (crypto.PublicKey, error)
}

// StaticKeys is a KeySource over keys in memory: the issuer verifying its
// own tokens, or a parsed JWKS.
type StaticKeys map[string]crypto.PublicKey

// PublicKey returns the key with that kid.
func (s StaticKeys) PublicKey(_ context.Context, kid string) (crypto.PublicKey, error) {
	if key, ok := s[kid]; ok {
		return key, nil
	}
	return nil, fmt.Errorf("%w: unknown key id %q", ErrInvalidToken, kid)
}

// JWK is a public JSON Web Key (RFC 7517): OKP/Ed25519 uses X, EC/P-256
// uses X and Y.
type JWK struct {
	Kty string `json:"kty"`
	Crv string `json:"crv,omitempty"`
	X   string `json:"x,omitempty"`
	Y   string `json:"y,omitempty"`
	Kid string `json:"kid"`
	Alg string `json:"alg,omitempty"`
	Use string `json:"use,omitempty"`
}

// JWKSet is a JSON Web Key Set, as served at /.well-known/jwks.json.
type JWKSet struct {
	Keys []JWK `json:"keys"`
}

// PublicJWK returns the JWK of an Ed25519 signing key, for the JWKS the
// issuer publishes.
func PublicJWK(kid string, pub ed25519.PublicKey) JWK {
	return JWK{
		Kty: "OKP",
		Crv: "Ed25519",
		X:   base64.RawURLEncoding.EncodeToString(pub),
		Kid: kid,
		Alg: "EdDSA",
		Use: "sig",
	}
}

// JWKSHandler serves set as application/json. Verifiers cache it, and
// fetch it again when they see a kid they do not know, so a short public
// cache lifetime is enough.
func JWKSHandler(set JWKSet) http.Handler {
	body, err := json.Marshal(set)
	return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		if err != nil {
			http.Error(w, "jwks unavailable", http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "public, max-age=300")
		_, _ = w.Write(body)
	})
}

// ParseJWKS returns the signature keys of a JWKS document: Ed25519 (OKP)
// and P-256 (EC) keys with a kid. Keys of other types, or meant for
// encryption, are skipped, so that a new kind of key in the set does not
// break verifiers that cannot use it. It fails on malformed JSON, on a
// malformed key of a supported type, and when no key is usable.
func ParseJWKS(data []byte) (StaticKeys, error) {
	var set JWKSet
	if err := json.Unmarshal(data, &set); err != nil {
		return nil, fmt.Errorf("parse JWKS: %w", err)
	}
	keys := make(StaticKeys, len(set.Keys))
	for _, k := range set.Keys {
		if k.Kid == "" || (k.Use != "" && k.Use != "sig") {
			continue
		}
		key, err := parseJWK(k)
		if err != nil {
			return nil, fmt.Errorf("parse JWKS key %q: %w", k.Kid, err)
		}
		if key != nil {
			keys[k.Kid] = key
		}
	}
	if len(keys) == 0 {
		return nil, errors.New("parse JWKS: no usable signing key")
	}
	return keys, nil
}

// parseJWK returns nil, nil for a key of a type verifiers do not accept.
func parseJWK(k JWK) (crypto.PublicKey, error) {
	switch {
	case k.Kty == "OKP" && k.Crv == "Ed25519" && (k.Alg == "" || k.Alg == "EdDSA"):
		x, err := base64.RawURLEncoding.DecodeString(k.X)
		if err != nil || len(x) != ed25519.PublicKeySize {
			return nil, errors.New("x is not a base64url Ed25519 public key")
		}
		return ed25519.PublicKey(x), nil
	case k.Kty == "EC" && k.Crv == "P-256" && (k.Alg == "" || k.Alg == "ES256"):
		x, errX := base64.RawURLEncoding.DecodeString(k.X)
		y, errY := base64.RawURLEncoding.DecodeString(k.Y)
		if errX != nil || errY != nil || len(x) != 32 || len(y) != 32 {
			return nil, errors.New("x and y are not base64url P-256 coordinates")
		}
		point := append(append([]byte{4}, x...), y...)
		pub, err := ecdsa.ParseUncompressedPublicKey(elliptic.P256(), point)
		if err != nil {
			return nil, fmt.Errorf("not a P-256 point: %w", err)
		}
		return pub, nil
	}
	return nil, nil
}

// JWKS fetching limits. Refetching on an unknown kid lets a verifier pick up
// a rotated key at once, and the interval keeps tokens with made-up kids
// from turning every request into a fetch.
const (
	jwksRefetchInterval = 5 * time.Second
	jwksMaxAge          = 10 * time.Minute
	jwksMaxBytes        = 1 << 20
	jwksClientTimeout   = 5 * time.Second
)

// NewJWKSClient returns a KeySource that fetches the JWKS at url and caches
// it. A kid not in the cache triggers a refetch, at most once per five
// seconds; the set is also refetched after ten minutes so that removed keys
// stop being accepted. When a refetch fails, keys already known keep
// working; a kid never seen is then ErrUnavailable. A nil client means one
// with a 5 s timeout.
func NewJWKSClient(url string, client *http.Client) KeySource {
	return newJWKSClient(url, client, time.Now, jwksRefetchInterval)
}

func newJWKSClient(url string, client *http.Client, now func() time.Time, interval time.Duration) *jwksClient {
	if client == nil {
		client = &http.Client{Timeout: jwksClientTimeout}
	}
	return &jwksClient{url: url, client: client, now: now, interval: interval}
}

type jwksClient struct {
	url      string
	client   *http.Client
	now      func() time.Time
	interval time.Duration

	// fetchMu serialises fetches, so that requests waiting on an unknown
	// kid share one fetch; mu guards the keys, so that requests with known
	// keys never wait for a fetch.
	fetchMu     sync.Mutex
	lastAttempt time.Time
	lastErr     error

	mu      sync.RWMutex
	keys    StaticKeys
	fetched time.Time
}

func (c *jwksClient) PublicKey(ctx context.Context, kid string) (crypto.PublicKey, error) {
	if key, fresh := c.lookup(kid); key != nil && fresh {
		return key, nil
	}

	c.fetchMu.Lock()
	defer c.fetchMu.Unlock()
	key, fresh := c.lookup(kid)
	if key != nil && fresh {
		return key, nil
	}
	if c.now().Sub(c.lastAttempt) >= c.interval || c.lastAttempt.IsZero() {
		c.lastAttempt = c.now()
		// One fetch serves every waiting request, so the caller that
		// happened to start it must not cancel it for all; the client's
		// timeout bounds it instead.
		c.lastErr = c.fetch(context.WithoutCancel(ctx))
		key, _ = c.lookup(kid)
	}
	switch {
	case key != nil:
		return key, nil
	case c.lastErr != nil:
		return nil, fmt.Errorf("%w: fetch JWKS: %w", ErrUnavailable, c.lastErr)
	default:
		return nil, fmt.Errorf("%w: unknown key id %q", ErrInvalidToken, kid)
	}
}

// lookup returns the cached key, and whether the cache is young enough to
// use without refetching.
func (c *jwksClient) lookup(kid string) (crypto.PublicKey, bool) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.keys[kid], c.now().Sub(c.fetched) < jwksMaxAge
}

func (c *jwksClient) fetch(ctx context.Context) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.url, nil)
	if err != nil {
		return err
	}
	req.Header.Set("Accept", "application/json")
	resp, err := c.client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %s", c.url, resp.Status)
	}
	data, err := io.ReadAll(io.LimitReader(resp.Body, jwksMaxBytes))
	if err != nil {
		return fmt.Errorf("GET %s: %w", c.url, err)
	}
	keys, err := ParseJWKS(data)
	if err != nil {
		return err
	}
	c.mu.Lock()
	c.keys, c.fetched = keys, c.now()
	c.mu.Unlock()
	return nil
}
