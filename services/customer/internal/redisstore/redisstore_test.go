package redisstore_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/travluk/ecom/dev/testenv"
	"github.com/travluk/ecom/services/customer/internal/customer"
	"github.com/travluk/ecom/services/customer/internal/redisstore"
)

func client(t *testing.T) *redis.Client {
	t.Helper()
	opt, err := redis.ParseURL(testenv.Redis(t))
	if err != nil {
		t.Fatal(err)
	}
	rdb := redis.NewClient(opt)
	t.Cleanup(func() { rdb.Close() })
	return rdb
}

func unique(prefix string) string {
	b := make([]byte, 8)
	rand.Read(b)
	return prefix + hex.EncodeToString(b)
}

func TestSessionLifecycle(t *testing.T) {
	ctx := context.Background()
	rdb := client(t)
	s := redisstore.NewSessions(rdb)
	cid := unique("c")
	sess := customer.Session{ID: unique("s"), CustomerID: cid, Role: customer.RoleAdmin}
	if err := s.Create(ctx, sess, "h1", time.Hour); err != nil {
		t.Fatal(err)
	}
	// The key every other service checks (platform/auth) exists and expires.
	if ttl := rdb.PTTL(ctx, "session:"+sess.ID).Val(); ttl <= 0 || ttl > time.Hour {
		t.Fatalf("session TTL = %v, want within (0, 1h]", ttl)
	}

	got, err := s.Rotate(ctx, sess.ID, "h1", "h2")
	if err != nil || got != sess {
		t.Fatalf("Rotate = %+v, %v; want %+v", got, err, sess)
	}
	if _, err := s.Rotate(ctx, sess.ID, "unknown", "h3"); !errors.Is(err, customer.ErrInvalidRefreshToken) || errors.Is(err, customer.ErrRefreshTokenReused) {
		t.Fatalf("unknown secret: err = %v, want ErrInvalidRefreshToken only", err)
	}
	if n := rdb.Exists(ctx, "session:"+sess.ID).Val(); n != 1 {
		t.Fatal("a wrong secret must not end the session")
	}
	if _, err := s.Rotate(ctx, sess.ID, "h1", "h3"); !errors.Is(err, customer.ErrRefreshTokenReused) {
		t.Fatalf("spent secret: err = %v, want ErrRefreshTokenReused", err)
	}
	if n := rdb.Exists(ctx, "session:"+sess.ID).Val(); n != 0 {
		t.Fatal("reuse must end the session")
	}
	if _, err := s.Rotate(ctx, sess.ID, "h2", "h3"); !errors.Is(err, customer.ErrInvalidRefreshToken) {
		t.Fatalf("ended session: err = %v", err)
	}
}

func TestSessionDeleteAll(t *testing.T) {
	ctx := context.Background()
	rdb := client(t)
	s := redisstore.NewSessions(rdb)
	cid, other := unique("c"), unique("c")
	ids := []string{unique("s"), unique("s"), unique("s")}
	for _, id := range ids {
		s.Create(ctx, customer.Session{ID: id, CustomerID: cid, Role: customer.RoleCustomer}, "h", time.Hour)
	}
	otherSID := unique("s")
	s.Create(ctx, customer.Session{ID: otherSID, CustomerID: other, Role: customer.RoleCustomer}, "h", time.Hour)

	if err := s.DeleteAll(ctx, cid, ids[1]); err != nil {
		t.Fatal(err)
	}
	for i, id := range ids {
		want := int64(0)
		if i == 1 {
			want = 1
		}
		if got := rdb.Exists(ctx, "session:"+id).Val(); got != want {
			t.Errorf("session %d exists = %d, want %d", i, got, want)
		}
	}
	if rdb.Exists(ctx, "session:"+otherSID).Val() != 1 {
		t.Error("another customer's session was ended")
	}
	if err := s.Delete(ctx, ids[1]); err != nil || rdb.Exists(ctx, "session:"+ids[1]).Val() != 0 {
		t.Errorf("Delete: %v", err)
	}
}

func TestThrottle(t *testing.T) {
	ctx := context.Background()
	th := redisstore.NewThrottle(client(t), redisstore.ThrottleLimits{Account: 2, Client: 3, Window: time.Minute})
	acct, acct2, cl := unique("a"), unique("a"), unique("ip")

	wait := func(account, client string) time.Duration {
		t.Helper()
		d, err := th.Check(ctx, account, client)
		if err != nil {
			t.Fatal(err)
		}
		return d
	}
	if d := wait(acct, cl); d != 0 {
		t.Fatalf("fresh: wait %v", d)
	}
	th.Fail(ctx, acct, cl)
	if d := wait(acct, cl); d != 0 {
		t.Fatalf("1 failure of 2: wait %v", d)
	}
	th.Fail(ctx, acct, cl)
	if d := wait(acct, ""); d <= 0 || d > time.Minute {
		t.Fatalf("account at its limit: wait %v, want (0, 1m]", d)
	}
	// The client has 2 of 3; a third failure on another account locks it.
	if d := wait(acct2, cl); d != 0 {
		t.Fatalf("client under its limit: wait %v", d)
	}
	th.Fail(ctx, acct2, cl)
	if d := wait(acct2, cl); d <= 0 {
		t.Fatal("client at its limit is not locked")
	}
	if d := wait(acct2, unique("ip")); d != 0 {
		t.Fatalf("account 2 from another client: wait %v", d)
	}
	if err := th.Reset(ctx, acct); err != nil {
		t.Fatal(err)
	}
	if d := wait(acct, ""); d != 0 {
		t.Fatalf("after reset: wait %v", d)
	}
}

func TestRedisAwayIsUnavailable(t *testing.T) {
	ctx := context.Background()
	rdb := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1", DialTimeout: 100 * time.Millisecond, MaxRetries: -1, DialerRetries: 1})
	defer rdb.Close()
	s := redisstore.NewSessions(rdb)
	th := redisstore.NewThrottle(rdb, redisstore.ThrottleLimits{Account: 1, Client: 1, Window: time.Minute})
	errs := map[string]error{
		"Create":    s.Create(ctx, customer.Session{ID: "s", CustomerID: "c"}, "h", time.Minute),
		"Delete":    s.Delete(ctx, "s"),
		"DeleteAll": s.DeleteAll(ctx, "c", ""),
		"Fail":      th.Fail(ctx, "a", "b"),
		"Reset":     th.Reset(ctx, "a"),
	}
	_, errs["Rotate"] = s.Rotate(ctx, "s", "a", "b")
	_, errs["Check"] = th.Check(ctx, "a", "b")
	for name, err := range errs {
		if !errors.Is(err, customer.ErrUnavailable) {
			t.Errorf("%s: err = %v, want ErrUnavailable", name, err)
		}
	}
}
