// Package redisstore keeps the customer service's short-lived state in
// Redis: logged-in sessions and login failure counters.
//
// Every Redis error (other than a missing key) is returned wrapped in
// customer.ErrUnavailable: the service then answers 503 instead of guessing.
package redisstore

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/travluk/ecom/services/customer/internal/customer"
)

// Sessions implements customer.Sessions.
//
// A session is the HASH "session:<sid>" (the key every service checks for
// existence, see platform/auth) with fields customerId, role, secret (hash of
// the current refresh secret) and one "spent:<hash>" field per rotated-out
// secret. It expires with the session. "customer-sessions:<customerId>" is a
// SET of the customer's session ids, so they can all be ended at once.
type Sessions struct {
	rdb redis.UniversalClient
}

// NewSessions returns a session store on rdb.
func NewSessions(rdb redis.UniversalClient) *Sessions {
	return &Sessions{rdb: rdb}
}

func sessionKey(sid string) string         { return "session:" + sid }
func customerSessionsKey(id string) string { return "customer-sessions:" + id }

// Create writes the session and indexes it under its customer, both
// expiring after ttl.
func (s *Sessions) Create(ctx context.Context, sess customer.Session, secretHash string, ttl time.Duration) error {
	ctx, cancel := bound(ctx)
	defer cancel()
	_, err := s.rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
		key := sessionKey(sess.ID)
		p.HSet(ctx, key, "customerId", sess.CustomerID, "role", string(sess.Role), "secret", secretHash)
		p.PExpire(ctx, key, ttl)
		idx := customerSessionsKey(sess.CustomerID)
		p.SAdd(ctx, idx, sess.ID)
		// Every session lives equally long, so the newest one ends last.
		p.PExpire(ctx, idx, ttl)
		return nil
	})
	return wrap(err)
}

// rotateScript swaps the current secret hash atomically, so two refreshes
// racing with one token cannot both win. It returns
//
//	{1, customerId, role}  rotated
//	{0}                    no such session (ended or expired)
//	{-1}                   a spent secret: the session is deleted
//	{-2}                   a secret this session never issued
var rotateScript = redis.NewScript(`
local cur = redis.call('HGET', KEYS[1], 'secret')
if not cur then return {0} end
if cur == ARGV[1] then
  redis.call('HSET', KEYS[1], 'secret', ARGV[2], 'spent:' .. ARGV[1], '1')
  local f = redis.call('HMGET', KEYS[1], 'customerId', 'role')
  return {1, f[1], f[2]}
end
if redis.call('HEXISTS', KEYS[1], 'spent:' .. ARGV[1]) == 1 then
  redis.call('DEL', KEYS[1])
  return {-1}
end
return {-2}
`)

// Rotate implements customer.Sessions.Rotate. The session keeps its
// original expiry: refreshing never extends a session past
// REFRESH_TOKEN_TTL after login.
func (s *Sessions) Rotate(ctx context.Context, sid, presentedHash, newHash string) (customer.Session, error) {
	ctx, cancel := bound(ctx)
	defer cancel()
	res, err := rotateScript.Run(ctx, s.rdb, []string{sessionKey(sid)}, presentedHash, newHash).Slice()
	if err != nil {
		return customer.Session{}, wrap(err)
	}
	status, _ := res[0].(int64)
	switch status {
	case 1:
		id, _ := res[1].(string)
		role, _ := res[2].(string)
		return customer.Session{ID: sid, CustomerID: id, Role: customer.Role(role)}, nil
	case -1:
		return customer.Session{}, fmt.Errorf("session %s: %w", sid, errors.Join(customer.ErrRefreshTokenReused, customer.ErrInvalidRefreshToken))
	}
	return customer.Session{}, customer.ErrInvalidRefreshToken
}

// Delete ends a session. Its id may stay in the customer's index until that
// expires; deleting a missing key there is harmless.
func (s *Sessions) Delete(ctx context.Context, sid string) error {
	ctx, cancel := bound(ctx)
	defer cancel()
	return wrap(s.rdb.Del(ctx, sessionKey(sid)).Err())
}

// DeleteAll ends every session of the customer but except.
func (s *Sessions) DeleteAll(ctx context.Context, customerID, except string) error {
	ctx, cancel := bound(ctx)
	defer cancel()
	idx := customerSessionsKey(customerID)
	sids, err := s.rdb.SMembers(ctx, idx).Result()
	if err != nil {
		return wrap(err)
	}
	var keys []string
	var gone []any
	for _, sid := range sids {
		if sid != except {
			keys = append(keys, sessionKey(sid))
			gone = append(gone, sid)
		}
	}
	if len(keys) == 0 {
		return nil
	}
	_, err = s.rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
		p.Del(ctx, keys...)
		p.SRem(ctx, idx, gone...)
		return nil
	})
	return wrap(err)
}

// callTimeout bounds each call of this package, retries included. The
// client's own timeouts bound one attempt (0.5 s to read), but it retries
// once, so a Redis that accepts connections and never answers held a login
// (throttle check, then session write) for 1.5 to 2 s; under this bound the
// first hanging call fails the login with a 503 in about half a second,
// as the README promises.
const callTimeout = 500 * time.Millisecond

func bound(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, callTimeout)
}

// wrap marks Redis failures as customer.ErrUnavailable.
func wrap(err error) error {
	if err == nil || errors.Is(err, redis.Nil) {
		return nil
	}
	return fmt.Errorf("%w: redis: %w", customer.ErrUnavailable, err)
}
