// Package redistest finds the real Redis the platform's tests talk to.
package redistest

import (
	"context"
	"net"
	"os"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// DefaultURL is the machine's Redis, on a database of its own so that tests
// do not touch anything else kept there.
const DefaultURL = "redis://127.0.0.1:6379/15"

// URL returns REDIS_URL, or DefaultURL when unset, after checking that the
// server answers. When it does not, the test is skipped with the reason,
// or failed when REQUIRE_SERVICES is "1", as it is in CI.
func URL(t testing.TB) string {
	t.Helper()
	url := os.Getenv("REDIS_URL")
	if url == "" {
		url = DefaultURL
	}
	opt, err := redis.ParseURL(url)
	if err != nil {
		t.Fatalf("REDIS_URL: %v", err)
	}
	// Fail fast when nothing listens, so that a skip costs no time.
	opt.MaxRetries, opt.DialerRetries, opt.DialTimeout = -1, 1, time.Second
	rdb := redis.NewClient(opt)
	defer rdb.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if err := rdb.Ping(ctx).Err(); err != nil {
		if os.Getenv("REQUIRE_SERVICES") == "1" {
			t.Fatalf("Redis at %s is unreachable (%v) and REQUIRE_SERVICES=1", opt.Addr, err)
		}
		t.Skipf("Redis at %s is unreachable (%v): set REDIS_URL or start Redis (REQUIRE_SERVICES=1 makes this a failure)", opt.Addr, err)
	}
	return url
}

// ClosedAddr returns a loopback address nothing listens on: it was bound a
// moment ago and closed, so connections to it are refused at once.
func ClosedAddr(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	if err := ln.Close(); err != nil {
		t.Fatal(err)
	}
	return addr
}
