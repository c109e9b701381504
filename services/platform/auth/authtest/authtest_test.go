package authtest_test

import (
	"context"
	"errors"
	"testing"

	"github.com/travluk/ecom/services/platform/auth"
	"github.com/travluk/ecom/services/platform/auth/authtest"
	"github.com/travluk/ecom/services/platform/internal/redistest"
	"github.com/travluk/ecom/services/platform/redisconn"
)

func TestIssuedTokensVerify(t *testing.T) {
	url := redistest.URL(t)
	iss := authtest.NewIssuer(t, url)
	rdb, err := redisconn.Connect(url)
	if err != nil {
		t.Fatal(err)
	}
	defer rdb.Close()
	v := auth.NewVerifier(auth.VerifierOptions{Issuer: authtest.IssuerName, Audience: authtest.Audience,
		Keys: auth.NewJWKSClient(iss.JWKSURL(), nil), Sessions: auth.NewRedisSessions(rdb, 0)})
	ctx := context.Background()
	token, sid := iss.Token(t, "admin-1", auth.RoleAdmin)
	claims, err := v.Verify(ctx, token)
	if err != nil {
		t.Fatalf("Verify: %v", err)
	}
	if claims.Subject != "admin-1" || claims.Role != auth.RoleAdmin || claims.SessionID != sid || claims.ID == "" {
		t.Errorf("claims = %+v", claims)
	}
	iss.EndSession(t, sid)
	if _, err := v.Verify(ctx, token); !errors.Is(err, auth.ErrSessionEnded) {
		t.Errorf("Verify after EndSession = %v, want ErrSessionEnded", err)
	}
}
