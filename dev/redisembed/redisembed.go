// Package redisembed runs an in-memory Redis-protocol server (miniredis) for
// `make run`. Its data lives only as long as the process: it holds sessions
// and caches, which a restart may lose.
package redisembed

import (
	"fmt"

	"github.com/alicebob/miniredis/v2"
)

// Server is a running in-memory Redis-protocol server.
type Server struct {
	mr *miniredis.Miniredis
}

// Start serves on addr, such as "127.0.0.1:6380", or "127.0.0.1:0" for a free
// port. It fails if addr cannot be bound.
func Start(addr string) (*Server, error) {
	mr := miniredis.NewMiniRedis()
	if err := mr.StartAddr(addr); err != nil {
		return nil, fmt.Errorf("redisembed: %w", err)
	}
	return &Server{mr: mr}, nil
}

// Addr returns the bound host:port.
func (s *Server) Addr() string { return s.mr.Addr() }

// URL returns a go-redis style URL for database 0, such as
// "redis://127.0.0.1:6380/0".
func (s *Server) URL() string { return "redis://" + s.mr.Addr() + "/0" }

// Close stops the server and drops its data. It always returns nil; the
// error is there so that Server is an io.Closer.
func (s *Server) Close() error {
	s.mr.Close()
	return nil
}
