package redisstore

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"time"

	"github.com/redis/go-redis/v9"
)

// Throttle implements customer.Throttle with one counter per account and one
// per client address, each a Redis integer that expires a window after its
// first failure (a fixed window: simple, and the reset time is exactly the
// Retry-After to send).
type Throttle struct {
	rdb          redis.UniversalClient
	accountLimit int64
	clientLimit  int64
	window       time.Duration
}

// ThrottleLimits configure a Throttle: how many failures per account and
// per client each window allows.
type ThrottleLimits struct {
	Account int
	Client  int
	Window  time.Duration
}

// NewThrottle returns a Throttle on rdb with limits l.
func NewThrottle(rdb redis.UniversalClient, l ThrottleLimits) *Throttle {
	return &Throttle{rdb: rdb, accountLimit: int64(l.Account), clientLimit: int64(l.Client), window: l.Window}
}

// Keys hold a hash of the email or address, not the value itself, so the
// Redis keyspace carries no personal data.
func accountKey(email string) string { return "login-failures:account:" + digest(email) }
func clientKey(addr string) string   { return "login-failures:client:" + digest(addr) }

func digest(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:16])
}

// Check returns the longest remaining window among the counters that reached
// their limit, or 0. An empty client is not checked.
func (t *Throttle) Check(ctx context.Context, account, client string) (time.Duration, error) {
	ctx, cancel := bound(ctx)
	defer cancel()
	type counter struct {
		limit int64
		n     *redis.StringCmd
		ttl   *redis.DurationCmd
	}
	var counters []counter
	_, err := t.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		add := func(key string, limit int64) {
			counters = append(counters, counter{limit, p.Get(ctx, key), p.PTTL(ctx, key)})
		}
		add(accountKey(account), t.accountLimit)
		if client != "" {
			add(clientKey(client), t.clientLimit)
		}
		return nil
	})
	if err = wrap(err); err != nil {
		return 0, err
	}
	var wait time.Duration
	for _, c := range counters {
		n, err := c.n.Int64()
		if err != nil || n < c.limit {
			continue // missing (redis.Nil) or under the limit
		}
		left := c.ttl.Val()
		if left <= 0 {
			left = t.window // a counter without expiry would be a bug; never lock forever
		}
		wait = max(wait, left)
	}
	return wait, nil
}

// failScript counts one failure and starts the window on the first one. It
// also repairs a counter that somehow lost its expiry.
var failScript = redis.NewScript(`
local n = redis.call('INCR', KEYS[1])
if n == 1 or redis.call('PTTL', KEYS[1]) < 0 then
  redis.call('PEXPIRE', KEYS[1], ARGV[1])
end
return n
`)

// Fail counts a failure for the account and (unless empty) the client.
func (t *Throttle) Fail(ctx context.Context, account, client string) error {
	ctx, cancel := bound(ctx)
	defer cancel()
	window := t.window.Milliseconds()
	if err := failScript.Run(ctx, t.rdb, []string{accountKey(account)}, window).Err(); err != nil {
		return wrap(err)
	}
	if client == "" {
		return nil
	}
	return wrap(failScript.Run(ctx, t.rdb, []string{clientKey(client)}, window).Err())
}

// Reset forgets the account's failures.
func (t *Throttle) Reset(ctx context.Context, account string) error {
	ctx, cancel := bound(ctx)
	defer cancel()
	return wrap(t.rdb.Del(ctx, accountKey(account)).Err())
}
