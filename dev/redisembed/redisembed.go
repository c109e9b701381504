// Package redisembed runs an in-memory Redis-protocol server (miniredis) for
// `make run`. Its data lives only as long as the process: it holds sessions
// and caches, which a restart may lose.
package redisembed

import (
	"fmt"
	"time"

	"github.com/alicebob/miniredis/v2"
)

// clockStep is how often the server's clock moves on, and so how late a key
// may expire at most.
const clockStep = 100 * time.Millisecond

// Server is a running in-memory Redis-protocol server.
type Server struct {
	mr   *miniredis.Miniredis
	stop chan struct{}
	done chan struct{}
}

// Start serves on addr, such as "127.0.0.1:6380", or "127.0.0.1:0" for a free
// port. It fails if addr cannot be bound.
func Start(addr string) (*Server, error) {
	mr := miniredis.NewMiniRedis()
	if err := mr.StartAddr(addr); err != nil {
		return nil, fmt.Errorf("redisembed: %w", err)
	}
	s := &Server{mr: mr, stop: make(chan struct{}), done: make(chan struct{})}
	go s.tick()
	return s, nil
}

// tick moves miniredis's clock along with the wall clock: miniredis counts a
// key's TTL down only when told to, and sessions and throttle windows must
// end on time as on a real Redis.
func (s *Server) tick() {
	defer close(s.done)
	t := time.NewTicker(clockStep)
	defer t.Stop()
	last := time.Now()
	for {
		select {
		case <-s.stop:
			return
		case now := <-t.C:
			s.mr.FastForward(now.Sub(last))
			last = now
		}
	}
}

// Addr returns the bound host:port.
func (s *Server) Addr() string { return s.mr.Addr() }

// URL returns a go-redis style URL for database 0, such as
// "redis://127.0.0.1:6380/0".
func (s *Server) URL() string { return "redis://" + s.mr.Addr() + "/0" }

// Close stops the server and drops its data. It always returns nil; the
// error is there so that Server is an io.Closer.
func (s *Server) Close() error {
	close(s.stop)
	<-s.done
	s.mr.Close()
	return nil
}
