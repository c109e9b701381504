package token

import (
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/travluk/ecom/services/customer/internal/customer"
	"github.com/travluk/ecom/services/platform/auth"
)

func TestIssueSignsVerifiableClaims(t *testing.T) {
	_, key, _ := ed25519.GenerateKey(rand.Reader)
	iss := NewIssuer(key, "travluk", "travluk-api", 15*time.Minute)
	now := time.Now()
	signed, ttl, err := iss.Issue("c1", customer.RoleAdmin, "s1", now)
	if err != nil {
		t.Fatal(err)
	}
	if ttl != 15*time.Minute {
		t.Errorf("ttl = %v", ttl)
	}
	var claims auth.Claims
	tok, err := jwt.ParseWithClaims(signed, &claims, func(tok *jwt.Token) (any, error) {
		if tok.Header["kid"] != iss.KeyID() {
			t.Errorf("kid = %v, want %v", tok.Header["kid"], iss.KeyID())
		}
		return iss.PublicKey(), nil
	}, jwt.WithValidMethods([]string{"EdDSA"}), jwt.WithIssuer("travluk"), jwt.WithAudience("travluk-api"))
	if err != nil || !tok.Valid {
		t.Fatalf("parse: %v", err)
	}
	if claims.Subject != "c1" || claims.SessionID != "s1" || claims.Role != "admin" || claims.ID == "" ||
		claims.IssuedAt == nil || !claims.ExpiresAt.Time.Equal(now.Add(15*time.Minute).Truncate(time.Second)) {
		t.Errorf("claims = %+v", claims)
	}
}

func TestLoadKey(t *testing.T) {
	_, key, _ := ed25519.GenerateKey(rand.Reader)
	pemText, _ := EncodePEM(key)
	file := filepath.Join(t.TempDir(), "key.pem")
	os.WriteFile(file, pemText, 0o600)

	t.Run("file wins", func(t *testing.T) {
		got, err := LoadKey(KeySource{File: file, PEM: "garbage", DataDir: t.TempDir()})
		if err != nil || !got.Equal(key) {
			t.Fatalf("LoadKey = %v", err)
		}
	})
	t.Run("PEM text", func(t *testing.T) {
		got, err := LoadKey(KeySource{PEM: string(pemText)})
		if err != nil || !got.Equal(key) {
			t.Fatalf("LoadKey = %v", err)
		}
	})
	t.Run("bad PEM text", func(t *testing.T) {
		if _, err := LoadKey(KeySource{PEM: "not a key"}); err == nil {
			t.Fatal("want an error")
		}
	})
	t.Run("missing file", func(t *testing.T) {
		if _, err := LoadKey(KeySource{File: file + ".missing"}); err == nil {
			t.Fatal("want an error")
		}
	})
	t.Run("nothing configured", func(t *testing.T) {
		if _, err := LoadKey(KeySource{}); !errors.Is(err, ErrNoKey) {
			t.Fatalf("err = %v, want ErrNoKey", err)
		}
	})
	t.Run("generated once and kept", func(t *testing.T) {
		dir := t.TempDir()
		first, err := LoadKey(KeySource{DataDir: dir})
		if err != nil {
			t.Fatal(err)
		}
		second, err := LoadKey(KeySource{DataDir: dir})
		if err != nil || !second.Equal(first) {
			t.Fatalf("second load: %v (equal %v)", err, second.Equal(first))
		}
		info, err := os.Stat(filepath.Join(dir, "customer", "jwt-signing-key.pem"))
		if err != nil {
			t.Fatal(err)
		}
		if info.Mode().Perm() != 0o600 {
			t.Errorf("key file mode = %v, want 0600", info.Mode().Perm())
		}
	})
}
