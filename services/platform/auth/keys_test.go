package auth

import (
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

func ecJWK(kid string, pub *ecdsa.PublicKey) JWK {
	b, err := pub.Bytes() // 0x04 || X || Y
	if err != nil {
		panic(err)
	}
	return JWK{Kty: "EC", Crv: "P-256", Kid: kid, Alg: "ES256", Use: "sig",
		X: base64.RawURLEncoding.EncodeToString(b[1:33]), Y: base64.RawURLEncoding.EncodeToString(b[33:])}
}

func TestParseJWKS(t *testing.T) {
	k := newKeyring(t)
	edPub := k.ed.Public().(ed25519.PublicKey)
	good := JWKSet{Keys: []JWK{
		PublicJWK("ed1", edPub),
		ecJWK("ec1", &k.ec.PublicKey),
		{Kty: "RSA", Kid: "rsa1", Alg: "RS256"},
		{Kty: "OKP", Crv: "Ed25519", Kid: "enc1", Use: "enc", X: "AAAA"},
		{Kty: "OKP", Crv: "Ed25519", X: PublicJWK("", edPub).X}, // no kid
	}}
	data, err := json.Marshal(good)
	if err != nil {
		t.Fatal(err)
	}
	keys, err := ParseJWKS(data)
	if err != nil {
		t.Fatalf("ParseJWKS: %v", err)
	}
	if len(keys) != 2 {
		t.Errorf("parsed %d keys, want ed1 and ec1 only: %v", len(keys), keys)
	}
	if pub, ok := keys["ed1"].(ed25519.PublicKey); !ok || !pub.Equal(edPub) {
		t.Errorf("ed1 = %v, want the Ed25519 key", keys["ed1"])
	}
	if pub, ok := keys["ec1"].(*ecdsa.PublicKey); !ok || !pub.Equal(&k.ec.PublicKey) {
		t.Errorf("ec1 = %v, want the P-256 key", keys["ec1"])
	}

	bad := []struct {
		name string
		data string
	}{
		{"not JSON", `{"keys":`},
		{"no usable key", `{"keys":[{"kty":"RSA","kid":"r"}]}`},
		{"short Ed25519 key", `{"keys":[{"kty":"OKP","crv":"Ed25519","kid":"e","x":"AAAA"}]}`},
		{"bad EC point", `{"keys":[{"kty":"EC","crv":"P-256","kid":"e","x":"` + base64.RawURLEncoding.EncodeToString(make([]byte, 32)) + `","y":"` + base64.RawURLEncoding.EncodeToString(make([]byte, 32)) + `"}]}`},
	}
	for _, tt := range bad {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := ParseJWKS([]byte(tt.data)); err == nil {
				t.Error("ParseJWKS succeeded, want an error")
			}
		})
	}
}

func TestPublicJWK(t *testing.T) {
	pub, _, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	rec := httptest.NewRecorder()
	JWKSHandler(JWKSet{Keys: []JWK{PublicJWK("k1", pub)}}).ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/.well-known/jwks.json", nil))
	if rec.Header().Get("Content-Type") != "application/json" {
		t.Errorf("Content-Type = %q", rec.Header().Get("Content-Type"))
	}
	var raw struct {
		Keys []map[string]string `json:"keys"`
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &raw); err != nil || len(raw.Keys) != 1 {
		t.Fatalf("body %s: %v", rec.Body, err)
	}
	for _, field := range []string{"kty", "crv", "x", "kid", "alg", "use"} {
		if raw.Keys[0][field] == "" {
			t.Errorf("JWK lacks %q: %v", field, raw.Keys[0])
		}
	}
	keys, err := ParseJWKS(rec.Body.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	if got, ok := keys["k1"].(ed25519.PublicKey); !ok || !got.Equal(pub) {
		t.Errorf("round trip gave %v", keys["k1"])
	}
}

// jwksServer serves a key set that a test can change or take down, and
// counts fetches.
type jwksServer struct {
	*httptest.Server
	mu      sync.Mutex
	set     JWKSet
	down    bool
	fetches atomic.Int32
}

func newJWKSServer(t *testing.T, keys ...JWK) *jwksServer {
	s := &jwksServer{set: JWKSet{Keys: keys}}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.fetches.Add(1)
		s.mu.Lock()
		defer s.mu.Unlock()
		if s.down {
			http.Error(w, "down", http.StatusBadGateway)
			return
		}
		JWKSHandler(s.set).ServeHTTP(w, r)
	}))
	t.Cleanup(s.Close)
	return s
}

func (s *jwksServer) update(down bool, keys ...JWK) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.down = down
	if keys != nil {
		s.set = JWKSet{Keys: keys}
	}
}

// clock is a settable time for the JWKS client's rate limit and max age.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

func TestJWKSClient(t *testing.T) {
	pub1, _, _ := ed25519.GenerateKey(rand.Reader)
	pub2, _, _ := ed25519.GenerateKey(rand.Reader)
	srv := newJWKSServer(t, PublicJWK("k1", pub1))
	clk := &clock{now: time.Unix(1_700_000_000, 0)}
	c := newJWKSClient(srv.URL, srv.Client(), clk.Now, 5*time.Second)
	ctx := context.Background()

	type step struct {
		name        string
		do          func()
		kid         string
		wantErr     error
		wantFetches int32
	}
	steps := []step{
		{name: "first use fetches", kid: "k1", wantFetches: 1},
		{name: "known kid is cached", kid: "k1", wantFetches: 1},
		{name: "unknown kid right after a fetch does not refetch", kid: "nope", wantErr: ErrInvalidToken, wantFetches: 1},
		{name: "unknown kid once the interval passed refetches",
			do:  func() { clk.advance(5 * time.Second) },
			kid: "nope", wantErr: ErrInvalidToken, wantFetches: 2},
		{name: "another unknown kid soon after does not", kid: "nope2", wantErr: ErrInvalidToken, wantFetches: 2},
		{name: "rotated key is found once the interval passed",
			do:  func() { srv.update(false, PublicJWK("k1", pub1), PublicJWK("k2", pub2)); clk.advance(5 * time.Second) },
			kid: "k2", wantFetches: 3},
		{name: "known keys survive the JWKS going down",
			do:  func() { srv.update(true); clk.advance(11 * time.Minute) },
			kid: "k1", wantFetches: 4},
		{name: "unknown kid while down is unavailable",
			do:  func() { clk.advance(5 * time.Second) },
			kid: "k3", wantErr: ErrUnavailable, wantFetches: 5},
		{name: "back up, the set is refetched",
			do:  func() { srv.update(false, PublicJWK("k3", pub2)); clk.advance(5 * time.Second) },
			kid: "k3", wantFetches: 6},
	}
	for _, s := range steps {
		if s.do != nil {
			s.do()
		}
		_, err := c.PublicKey(ctx, s.kid)
		if s.wantErr == nil && err != nil {
			t.Errorf("%s: PublicKey(%q) = %v", s.name, s.kid, err)
		}
		if s.wantErr != nil && !errors.Is(err, s.wantErr) {
			t.Errorf("%s: PublicKey(%q) = %v, want %v", s.name, s.kid, err, s.wantErr)
		}
		if got := srv.fetches.Load(); got != s.wantFetches {
			t.Errorf("%s: %d fetches, want %d", s.name, got, s.wantFetches)
		}
	}
}

func TestJWKSClientUnknownKidFlood(t *testing.T) {
	pub, _, _ := ed25519.GenerateKey(rand.Reader)
	srv := newJWKSServer(t, PublicJWK("k1", pub))
	c := NewJWKSClient(srv.URL, nil)
	var wg sync.WaitGroup
	for range 50 {
		wg.Go(func() { _, _ = c.PublicKey(context.Background(), rand.Text()) })
	}
	wg.Wait()
	if got := srv.fetches.Load(); got != 1 {
		t.Errorf("50 unknown kids caused %d fetches, want 1", got)
	}
}

func TestVerifierWithJWKS(t *testing.T) {
	rdb := testRedis(t)
	k := newKeyring(t)
	srv := newJWKSServer(t, PublicJWK("ed1", k.ed.Public().(ed25519.PublicKey)), ecJWK("ec1", &k.ec.PublicKey))
	v := newTestVerifier(NewJWKSClient(srv.URL, nil), NewRedisSessions(rdb, time.Second))
	sid := newSession(t, rdb)
	for _, token := range []string{
		sign(t, jwt.SigningMethodEdDSA, k.ed, "ed1", claimsFor(sid)),
		sign(t, jwt.SigningMethodES256, k.ec, "ec1", claimsFor(sid)),
	} {
		if _, err := v.Verify(context.Background(), token); err != nil {
			t.Errorf("Verify: %v", err)
		}
	}

	srv.update(true)
	_, err := NewVerifier(VerifierOptions{Issuer: testIssuer, Audience: testAudience,
		Keys: NewJWKSClient(srv.URL, nil), Sessions: NewRedisSessions(rdb, 0)}).
		Verify(context.Background(), sign(t, jwt.SigningMethodEdDSA, k.ed, "ed1", claimsFor(sid)))
	if !errors.Is(err, ErrUnavailable) {
		t.Errorf("Verify with JWKS down and no cache = %v, want ErrUnavailable", err)
	}
}
