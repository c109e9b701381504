package auth

import (
	"context"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
)

// maxCacheTTL bounds how long a positive session answer may be reused, and
// so how long a logged-out token can still pass.
const maxCacheTTL = time.Second

// SessionChecker reports whether a session is live. An error means the
// answer is unknown, never that the session ended.
type SessionChecker interface {
	Active(ctx context.Context, sid string) (bool, error)
}

// NewRedisSessions returns a SessionChecker that asks whether
// SessionKey(sid) exists in rdb. Live answers are reused for cacheTTL,
// which is capped at one second; zero or less disables the cache. Ended
// sessions and errors are never cached, so a session that comes back or a
// Redis that recovers is seen on the next call.
func NewRedisSessions(rdb redis.UniversalClient, cacheTTL time.Duration) SessionChecker {
	return &redisSessions{
		rdb:   rdb,
		ttl:   min(cacheTTL, maxCacheTTL),
		now:   time.Now,
		live:  make(map[string]time.Time),
		swept: time.Now(),
	}
}

type redisSessions struct {
	rdb redis.UniversalClient
	ttl time.Duration
	now func() time.Time

	mu    sync.Mutex
	live  map[string]time.Time // sid -> when the positive answer expires
	swept time.Time
}

func (s *redisSessions) Active(ctx context.Context, sid string) (bool, error) {
	if s.ttl > 0 && s.cached(sid) {
		return true, nil
	}
	n, err := s.rdb.Exists(ctx, SessionKey(sid)).Result()
	if err != nil {
		return false, err
	}
	if n == 0 {
		return false, nil
	}
	if s.ttl > 0 {
		s.remember(sid)
	}
	return true, nil
}

func (s *redisSessions) cached(sid string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	until, ok := s.live[sid]
	return ok && s.now().Before(until)
}

func (s *redisSessions) remember(sid string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	// Dropping expired answers once per TTL keeps the map to the sessions
	// seen in the last second or two, however many pass through.
	if now.Sub(s.swept) >= s.ttl {
		for k, until := range s.live {
			if !now.Before(until) {
				delete(s.live, k)
			}
		}
		s.swept = now
	}
	s.live[sid] = now.Add(s.ttl)
}
