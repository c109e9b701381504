package auth

import (
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/redis/go-redis/v9"

	"github.com/travluk/ecom/services/platform/internal/redistest"
	"github.com/travluk/ecom/services/platform/redisconn"
)

const (
	testIssuer   = "travluk"
	testAudience = "travluk"
)

// keyring holds real keys of every kind a test signs with.
type keyring struct {
	ed      ed25519.PrivateKey
	otherEd ed25519.PrivateKey
	ec      *ecdsa.PrivateKey
	rsa     *rsa.PrivateKey
}

func newKeyring(t *testing.T) keyring {
	t.Helper()
	_, ed, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	_, otherEd, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	ec, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	rk, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	return keyring{ed: ed, otherEd: otherEd, ec: ec, rsa: rk}
}

// static is what a verifier knows: each public key under its kid.
func (k keyring) static() StaticKeys {
	return StaticKeys{
		"ed1":  k.ed.Public(),
		"ec1":  &k.ec.PublicKey,
		"rsa1": &k.rsa.PublicKey,
	}
}

func claimsFor(sid string) *Claims {
	now := time.Now()
	return &Claims{
		RegisteredClaims: jwt.RegisteredClaims{
			Issuer:    testIssuer,
			Subject:   "customer-1",
			Audience:  jwt.ClaimStrings{testAudience},
			ExpiresAt: jwt.NewNumericDate(now.Add(5 * time.Minute)),
			IssuedAt:  jwt.NewNumericDate(now),
			ID:        rand.Text(),
		},
		SessionID: sid,
		Role:      RoleCustomer,
	}
}

func sign(t *testing.T, method jwt.SigningMethod, key any, kid string, c *Claims) string {
	t.Helper()
	tok := jwt.NewWithClaims(method, c)
	if kid != "" {
		tok.Header["kid"] = kid
	}
	s, err := tok.SignedString(key)
	if err != nil {
		t.Fatalf("sign %s: %v", method.Alg(), err)
	}
	return s
}

func testRedis(t *testing.T) *redis.Client {
	t.Helper()
	rdb, err := redisconn.Connect(redistest.URL(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { rdb.Close() })
	return rdb
}

// newSession stores a live session the way the customer service does (a
// hash under SessionKey) and returns its id.
func newSession(t *testing.T, rdb *redis.Client) string {
	t.Helper()
	sid := rand.Text()
	ctx := context.Background()
	if err := rdb.HSet(ctx, SessionKey(sid), "customerId", "customer-1").Err(); err != nil {
		t.Fatal(err)
	}
	rdb.Expire(ctx, SessionKey(sid), time.Minute)
	t.Cleanup(func() { rdb.Del(context.Background(), SessionKey(sid)) })
	return sid
}

func newTestVerifier(keys KeySource, sessions SessionChecker) *Verifier {
	return NewVerifier(VerifierOptions{Issuer: testIssuer, Audience: testAudience, Keys: keys, Sessions: sessions})
}

func TestVerify(t *testing.T) {
	rdb := testRedis(t)
	k := newKeyring(t)
	v := newTestVerifier(k.static(), NewRedisSessions(rdb, time.Second))
	sid := newSession(t, rdb)
	edPub := []byte(k.ed.Public().(ed25519.PublicKey))

	with := func(change func(*Claims)) *Claims {
		c := claimsFor(sid)
		change(c)
		return c
	}
	tamper := func(token string) string {
		parts := strings.Split(token, ".")
		payload, _ := base64.RawURLEncoding.DecodeString(parts[1])
		payload = []byte(strings.Replace(string(payload), `"role":"customer"`, `"role":"admin"`, 1))
		parts[1] = base64.RawURLEncoding.EncodeToString(payload)
		return strings.Join(parts, ".")
	}
	none := func() string {
		tok := jwt.NewWithClaims(jwt.SigningMethodNone, claimsFor(sid))
		tok.Header["kid"] = "ed1"
		s, err := tok.SignedString(jwt.UnsafeAllowNoneSignatureType)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}

	tests := []struct {
		name    string
		token   string
		wantErr error
	}{
		{"EdDSA", sign(t, jwt.SigningMethodEdDSA, k.ed, "ed1", claimsFor(sid)), nil},
		{"ES256", sign(t, jwt.SigningMethodES256, k.ec, "ec1", claimsFor(sid)), nil},
		{"HS256 with the public key as secret", sign(t, jwt.SigningMethodHS256, edPub, "ed1", claimsFor(sid)), ErrInvalidToken},
		{"alg none", none(), ErrInvalidToken},
		{"RS256", sign(t, jwt.SigningMethodRS256, k.rsa, "rsa1", claimsFor(sid)), ErrInvalidToken},
		{"forged by another Ed25519 key", sign(t, jwt.SigningMethodEdDSA, k.otherEd, "ed1", claimsFor(sid)), ErrInvalidToken},
		{"payload tampered", tamper(sign(t, jwt.SigningMethodEdDSA, k.ed, "ed1", claimsFor(sid))), ErrInvalidToken},
		{"ES256 naming an Ed25519 kid", sign(t, jwt.SigningMethodES256, k.ec, "ed1", claimsFor(sid)), ErrInvalidToken},
		{"EdDSA naming a P-256 kid", sign(t, jwt.SigningMethodEdDSA, k.ed, "ec1", claimsFor(sid)), ErrInvalidToken},
		{"no kid", sign(t, jwt.SigningMethodEdDSA, k.ed, "", claimsFor(sid)), ErrInvalidToken},
		{"unknown kid", sign(t, jwt.SigningMethodEdDSA, k.ed, "ed9", claimsFor(sid)), ErrInvalidToken},
		{"expired", sign(t, jwt.SigningMethodEdDSA, k.ed, "ed1", with(func(c *Claims) {
			c.ExpiresAt = jwt.NewNumericDate(time.Now().Add(-time.Minute))
		})), ErrInvalidToken},
		{"no exp", sign(t, jwt.SigningMethodEdDSA, k.ed, "ed1", with(func(c *Claims) { c.ExpiresAt = nil })), ErrInvalidToken},
		{"issued in the future", sign(t, jwt.SigningMethodEdDSA, k.ed, "ed1", with(func(c *Claims) {
			c.IssuedAt = jwt.NewNumericDate(time.Now().Add(time.Hour))
		})), ErrInvalidToken},
		{"not yet valid", sign(t, jwt.SigningMethodEdDSA, k.ed, "ed1", with(func(c *Claims) {
			c.NotBefore = jwt.NewNumericDate(time.Now().Add(time.Hour))
		})), ErrInvalidToken},
		{"wrong audience", sign(t, jwt.SigningMethodEdDSA, k.ed, "ed1", with(func(c *Claims) {
			c.Audience = jwt.ClaimStrings{"someone-else"}
		})), ErrInvalidToken},
		{"wrong issuer", sign(t, jwt.SigningMethodEdDSA, k.ed, "ed1", with(func(c *Claims) { c.Issuer = "evil" })), ErrInvalidToken},
		{"no sid", sign(t, jwt.SigningMethodEdDSA, k.ed, "ed1", with(func(c *Claims) { c.SessionID = "" })), ErrInvalidToken},
		{"no sub", sign(t, jwt.SigningMethodEdDSA, k.ed, "ed1", with(func(c *Claims) { c.Subject = "" })), ErrInvalidToken},
		{"ended session", sign(t, jwt.SigningMethodEdDSA, k.ed, "ed1", with(func(c *Claims) { c.SessionID = "gone-" + rand.Text() })), ErrSessionEnded},
		{"garbage", "not.a.token", ErrInvalidToken},
		{"empty", "", ErrInvalidToken},
		{"oversized", strings.Repeat("a", maxTokenBytes+1), ErrInvalidToken},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			claims, err := v.Verify(context.Background(), tt.token)
			if tt.wantErr == nil {
				if err != nil {
					t.Fatalf("Verify: %v", err)
				}
				if claims.SessionID != sid || claims.Subject != "customer-1" || claims.Role != RoleCustomer {
					t.Errorf("claims = %+v", claims)
				}
				return
			}
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("Verify error = %v, want %v", err, tt.wantErr)
			}
			t.Logf("refused: %v", err)
			if claims != nil {
				t.Errorf("Verify returned claims %+v with an error", claims)
			}
		})
	}
}

func TestLeeway(t *testing.T) {
	rdb := testRedis(t)
	k := newKeyring(t)
	sid := newSession(t, rdb)
	c := claimsFor(sid)
	c.ExpiresAt = jwt.NewNumericDate(time.Now().Add(-10 * time.Second))
	token := sign(t, jwt.SigningMethodEdDSA, k.ed, "ed1", c)
	v := NewVerifier(VerifierOptions{Issuer: testIssuer, Audience: testAudience, Keys: k.static(),
		Sessions: NewRedisSessions(rdb, 0), Leeway: 30 * time.Second})
	if _, err := v.Verify(context.Background(), token); err != nil {
		t.Errorf("Verify within leeway: %v", err)
	}
}

// TestLogoutRefusedWithin2s holds the design's promise: once the session
// key is deleted, the token is refused within 2 s, cache included.
func TestLogoutRefusedWithin2s(t *testing.T) {
	rdb := testRedis(t)
	k := newKeyring(t)
	v := newTestVerifier(k.static(), NewRedisSessions(rdb, time.Second))
	sid := newSession(t, rdb)
	token := sign(t, jwt.SigningMethodEdDSA, k.ed, "ed1", claimsFor(sid))
	ctx := context.Background()
	if _, err := v.Verify(ctx, token); err != nil {
		t.Fatalf("Verify before logout: %v", err)
	}

	if err := rdb.Del(ctx, SessionKey(sid)).Err(); err != nil {
		t.Fatal(err)
	}
	loggedOut := time.Now()
	for {
		_, err := v.Verify(ctx, token)
		if errors.Is(err, ErrSessionEnded) {
			break
		}
		if err != nil {
			t.Fatalf("Verify after logout: %v, want ErrSessionEnded", err)
		}
		if time.Since(loggedOut) > 2*time.Second {
			t.Fatal("token still accepted 2s after logout")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestSessionCache(t *testing.T) {
	rdb := testRedis(t)
	ctx := context.Background()
	tests := []struct {
		name         string
		ttl          time.Duration
		wantCachedAt time.Duration // answer still true this long after delete
		wantEndedBy  time.Duration // answer false by then
	}{
		{"no cache", 0, 0, 10 * time.Millisecond},
		{"short cache", 300 * time.Millisecond, 100 * time.Millisecond, 400 * time.Millisecond},
		{"cache capped at 1s", time.Hour, 500 * time.Millisecond, 1200 * time.Millisecond},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sessions := NewRedisSessions(rdb, tt.ttl)
			sid := newSession(t, rdb)
			if ok, err := sessions.Active(ctx, sid); !ok || err != nil {
				t.Fatalf("Active = %v, %v before delete", ok, err)
			}
			rdb.Del(ctx, SessionKey(sid))
			deleted := time.Now()
			if tt.wantCachedAt > 0 {
				time.Sleep(tt.wantCachedAt - time.Since(deleted))
				if ok, _ := sessions.Active(ctx, sid); !ok {
					t.Errorf("Active = false %v after delete; want the cached true", tt.wantCachedAt)
				}
			}
			time.Sleep(tt.wantEndedBy - time.Since(deleted))
			if ok, err := sessions.Active(ctx, sid); ok || err != nil {
				t.Errorf("Active = %v, %v %v after delete; want false", ok, err, tt.wantEndedBy)
			}
		})
	}
}

func unreachableRedis(t *testing.T) *redis.Client {
	t.Helper()
	rdb, err := redisconn.Connect("redis://" + redistest.ClosedAddr(t) + "/0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { rdb.Close() })
	return rdb
}

func TestVerifyRedisUnreachable(t *testing.T) {
	k := newKeyring(t)
	v := newTestVerifier(k.static(), NewRedisSessions(unreachableRedis(t), time.Second))
	token := sign(t, jwt.SigningMethodEdDSA, k.ed, "ed1", claimsFor("any-session"))

	began := time.Now()
	_, err := v.Verify(context.Background(), token)
	if !errors.Is(err, ErrUnavailable) {
		t.Fatalf("Verify = %v, want ErrUnavailable", err)
	}
	if took := time.Since(began); took > time.Second {
		t.Errorf("Verify took %v to give up, want under 1s", took)
	}

	rec := httptest.NewRecorder()
	req := httptest.NewRequest(http.MethodGet, "/api/customers/me", nil)
	req.Header.Set("Authorization", "Bearer "+token)
	began = time.Now()
	v.Authenticate(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {
		t.Error("handler reached without a session check")
	})).ServeHTTP(rec, req)
	if took := time.Since(began); took > time.Second {
		t.Errorf("Authenticate took %v to answer, want under 1s", took)
	}
	if rec.Code != http.StatusServiceUnavailable || rec.Header().Get("Retry-After") != "1" ||
		rec.Header().Get("Content-Type") != "application/problem+json" {
		t.Errorf("Authenticate = %d Retry-After %q %q", rec.Code, rec.Header().Get("Retry-After"), rec.Header().Get("Content-Type"))
	}
	if strings.Contains(rec.Body.String(), "127.0.0.1") {
		t.Errorf("503 body carries internals: %s", rec.Body)
	}
}

func TestAuthenticate(t *testing.T) {
	rdb := testRedis(t)
	k := newKeyring(t)
	v := newTestVerifier(k.static(), NewRedisSessions(rdb, time.Second))
	sid := newSession(t, rdb)
	good := sign(t, jwt.SigningMethodEdDSA, k.ed, "ed1", claimsFor(sid))
	ended := sign(t, jwt.SigningMethodEdDSA, k.ed, "ed1", claimsFor("ended-"+rand.Text()))

	tests := []struct {
		name       string
		header     http.Header
		wantStatus int
		wantCode   string
		wantAuthn  bool // WWW-Authenticate sent
	}{
		{"bearer", http.Header{"Authorization": {"Bearer " + good}}, 200, "", false},
		{"bearer in lower case", http.Header{"Authorization": {"bearer " + good}}, 200, "", false},
		{"x-auth-token", http.Header{"X-Auth-Token": {good}}, 200, "", false},
		{"no token", http.Header{}, 401, "unauthenticated", true},
		{"basic auth", http.Header{"Authorization": {"Basic dXNlcjpwYXNz"}}, 401, "unauthenticated", true},
		{"bad token", http.Header{"Authorization": {"Bearer " + good + "x"}}, 401, "invalid_token", true},
		{"ended session", http.Header{"Authorization": {"Bearer " + ended}}, 401, "session_ended", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := httptest.NewRequest(http.MethodGet, "/", nil)
			req.Header = tt.header
			rec := httptest.NewRecorder()
			v.Authenticate(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				c, ok := ClaimsFrom(r.Context())
				if !ok || c.SessionID != sid {
					t.Errorf("ClaimsFrom = %+v, %v", c, ok)
				}
			})).ServeHTTP(rec, req)
			if rec.Code != tt.wantStatus {
				t.Fatalf("status = %d, want %d: %s", rec.Code, tt.wantStatus, rec.Body)
			}
			if got := rec.Header().Get("WWW-Authenticate") != ""; got != tt.wantAuthn {
				t.Errorf("WWW-Authenticate = %q", rec.Header().Get("WWW-Authenticate"))
			}
			if tt.wantCode != "" {
				var body struct{ Code string }
				_ = json.Unmarshal(rec.Body.Bytes(), &body)
				if body.Code != tt.wantCode {
					t.Errorf("code = %q, want %q", body.Code, tt.wantCode)
				}
			}
		})
	}
}

func TestRequireRole(t *testing.T) {
	rdb := testRedis(t)
	k := newKeyring(t)
	v := newTestVerifier(k.static(), NewRedisSessions(rdb, time.Second))
	tokenFor := func(role string) string {
		c := claimsFor(newSession(t, rdb))
		c.Role = role
		return sign(t, jwt.SigningMethodEdDSA, k.ed, "ed1", c)
	}
	ok := http.HandlerFunc(func(http.ResponseWriter, *http.Request) {})
	tests := []struct {
		name    string
		handler http.Handler
		role    string
		want    int
	}{
		{"customer on customer route", v.Customer(ok), RoleCustomer, 200},
		{"admin on customer route", v.Customer(ok), RoleAdmin, 200},
		{"admin on admin route", v.Admin(ok), RoleAdmin, 200},
		{"customer on admin route", v.Admin(ok), RoleCustomer, 403},
		{"no role on customer route", v.RequireRole(RoleCustomer, ok), "", 403},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := httptest.NewRequest(http.MethodGet, "/", nil)
			req.Header.Set("Authorization", "Bearer "+tokenFor(tt.role))
			rec := httptest.NewRecorder()
			tt.handler.ServeHTTP(rec, req)
			if rec.Code != tt.want {
				t.Errorf("status = %d, want %d: %s", rec.Code, tt.want, rec.Body)
			}
		})
	}
}

func TestTokenFrom(t *testing.T) {
	tests := []struct {
		name   string
		header http.Header
		want   string
	}{
		{"bearer", http.Header{"Authorization": {"Bearer abc"}}, "abc"},
		{"bearer any case, extra space", http.Header{"Authorization": {"BEARER  abc "}}, "abc"},
		{"x-auth-token", http.Header{"X-Auth-Token": {"abc"}}, "abc"},
		{"bearer wins", http.Header{"Authorization": {"Bearer abc"}, "X-Auth-Token": {"def"}}, "abc"},
		{"other scheme falls back", http.Header{"Authorization": {"Basic xyz"}, "X-Auth-Token": {"def"}}, "def"},
		{"scheme alone", http.Header{"Authorization": {"Bearer"}}, ""},
		{"none", http.Header{}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := httptest.NewRequest(http.MethodGet, "/", nil)
			req.Header = tt.header
			if got := TokenFrom(req); got != tt.want {
				t.Errorf("TokenFrom = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestNewVerifierRefusesIncompleteOptions(t *testing.T) {
	keys := StaticKeys{}
	sessions := NewRedisSessions(nil, 0)
	tests := []struct {
		name string
		o    VerifierOptions
	}{
		{"no issuer", VerifierOptions{Audience: "a", Keys: keys, Sessions: sessions}},
		{"no audience", VerifierOptions{Issuer: "i", Keys: keys, Sessions: sessions}},
		{"no keys", VerifierOptions{Issuer: "i", Audience: "a", Sessions: sessions}},
		{"no sessions", VerifierOptions{Issuer: "i", Audience: "a", Keys: keys}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			defer func() {
				if recover() == nil {
					t.Error("NewVerifier did not panic")
				}
			}()
			NewVerifier(tt.o)
		})
	}
}
