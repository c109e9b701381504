package server_test

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/travluk/ecom/dev/testenv"
	"github.com/travluk/ecom/services/customer/internal/customer"
	"github.com/travluk/ecom/services/customer/internal/token"
	"github.com/travluk/ecom/services/customer/server"
	"github.com/travluk/ecom/services/platform/auth"
)

// BenchmarkLogin measures a full login over HTTP: throttle check, MongoDB
// read, argon2id verification, session write, token signing.
func BenchmarkLogin(b *testing.B) {
	svc := start(b, baseEnv(b), server.Options{})
	a := svc.register(b, "Bench")
	for b.Loop() {
		svc.login(b, a.email, a.password)
	}
}

// BenchmarkVerifyAccessToken measures what every authenticated request of
// every service pays: signature, claims and the Redis session check,
// without and with the one-second session cache other services may use.
func BenchmarkVerifyAccessToken(b *testing.B) {
	ctx := context.Background()
	opt, err := redis.ParseURL(testenv.Redis(b))
	if err != nil {
		b.Fatal(err)
	}
	rdb := redis.NewClient(opt)
	defer rdb.Close()
	_, key, _ := ed25519.GenerateKey(rand.Reader)
	issuer := token.NewIssuer(key, "travluk", "travluk", 15*time.Minute)
	sid := "bench-" + uniq()
	if err := rdb.Set(ctx, auth.SessionKey(sid), "1", time.Minute).Err(); err != nil {
		b.Fatal(err)
	}
	access, _, err := issuer.Issue("c1", customer.RoleCustomer, sid, time.Now())
	if err != nil {
		b.Fatal(err)
	}
	for _, bc := range []struct {
		name  string
		cache time.Duration
	}{{"no session cache", 0}, {"1s session cache", time.Second}} {
		b.Run(bc.name, func(b *testing.B) {
			v := auth.NewVerifier(auth.VerifierOptions{Issuer: "travluk", Audience: "travluk",
				Keys: auth.StaticKeys{issuer.KeyID(): issuer.PublicKey()}, Sessions: auth.NewRedisSessions(rdb, bc.cache)})
			for b.Loop() {
				if _, err := v.Verify(ctx, access); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
