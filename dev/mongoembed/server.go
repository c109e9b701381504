package mongoembed

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"github.com/FerretDB/FerretDB/ferretdb"
)

// Options configures Start.
type Options struct {
	// Dir holds the SQLite files, one per database; it is created if missing.
	// Data in it survives Close and a later Start on the same Dir.
	Dir string

	// Addr is the address clients connect to (default "127.0.0.1:0", a free
	// port; URI tells which).
	Addr string

	// Logger receives FerretDB's warnings and errors and the proxy's; nil
	// means slog.Default(). FerretDB's info and debug chatter, and its dumps
	// of failed commands' replies, are dropped.
	Logger *slog.Logger
}

// Server is a running embedded store. Close it to release Dir.
type Server struct {
	uri     string
	proxy   *proxy
	backend string // FerretDB's own address, behind the proxy

	stop      context.CancelFunc
	done      chan struct{} // closed when FerretDB has stopped and closed its SQLite files
	closeOnce sync.Once
	closeErr  error
}

// Start starts FerretDB on Dir and the proxy in front of it, and returns once
// both accept connections. ctx bounds the start only; the server runs until
// Close. Start fails if Dir cannot be created, the SQLite backend cannot open
// it, or Addr cannot be bound.
func Start(ctx context.Context, o Options) (*Server, error) {
	return start(ctx, o, proxyConfig{lockWrites: true, fastPath: true, idIndex: true})
}

// start is Start with the proxy's write lock, fast path and _id index
// optional, so that benchmarks can measure them and tests compare with and without.
func start(ctx context.Context, o Options, config proxyConfig) (*Server, error) {
	if o.Dir == "" {
		return nil, errors.New("mongoembed: Options.Dir is required")
	}
	if o.Addr == "" {
		o.Addr = "127.0.0.1:0"
	}
	log := o.Logger
	if log == nil {
		log = slog.Default()
	}
	dir, err := filepath.Abs(o.Dir)
	if err != nil {
		return nil, fmt.Errorf("mongoembed: %w", err)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("mongoembed: %w", err)
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}

	// Bind the proxy first: a taken Addr then fails before FerretDB opens Dir.
	ln, err := net.Listen("tcp", o.Addr)
	if err != nil {
		return nil, fmt.Errorf("mongoembed: listen: %w", err)
	}

	// The embedded package disables FerretDB's telemetry itself (no reporter,
	// state locked to "disabled"), so it never reaches for the network.
	f, err := ferretdb.New(&ferretdb.Config{
		Listener: ferretdb.ListenerConfig{TCP: "127.0.0.1:0"},
		Logger:   slog.New(quietHandler{log.Handler()}),
		Handler:  "sqlite",
		// The SQLite backend wants a file: URI naming a directory, with the
		// trailing slash. FerretDB runs SQLite in WAL mode; synchronous=normal
		// there syncs the WAL at checkpoints instead of at every commit: a
		// killed process still loses nothing (the OS holds the WAL), only a
		// power cut or kernel crash can take back the last commits. For a
		// developer's store that buys about a fifth more writes per second.
		SQLiteURL: (&url.URL{Scheme: "file", Path: dir + "/", RawQuery: "_pragma=synchronous(normal)"}).String(),
	})
	if err != nil {
		ln.Close()
		return nil, fmt.Errorf("mongoembed: start FerretDB in %s: %w", dir, err)
	}
	backend, err := backendAddr(f.MongoDBURI())
	if err != nil {
		ln.Close()
		// Run is FerretDB's only way to close what New opened.
		stopped, stop := context.WithCancel(context.Background())
		stop()
		_ = f.Run(stopped)
		return nil, err
	}

	runCtx, stop := context.WithCancel(context.WithoutCancel(ctx))
	s := &Server{
		uri:     (&url.URL{Scheme: "mongodb", Host: ln.Addr().String(), Path: "/"}).String(),
		backend: backend,
		stop:    stop,
		done:    make(chan struct{}),
	}
	go func() {
		defer close(s.done)
		_ = f.Run(runCtx) // always nil
	}()
	var ix *idIndexer
	if config.idIndex && config.lockWrites {
		// No client is served yet: nothing else writes to the files.
		ix = newIDIndexer(dir, log)
		ix.indexAll(ctx)
	}
	s.proxy = newProxy(ln, backend, config, ix, log)
	return s, nil
}

// backendAddr extracts host:port from FerretDB's mongodb:// URI, the only
// place the embedded package tells its bound address.
func backendAddr(uri string) (string, error) {
	u, err := url.Parse(uri)
	if err != nil || u.Host == "" {
		return "", fmt.Errorf("mongoembed: unexpected FerretDB URI %q", uri)
	}
	return u.Host, nil
}

// URI returns the connection string for clients, such as
// "mongodb://127.0.0.1:40123/". It names a standalone server, so the driver
// needs no further options.
func (s *Server) URI() string { return s.uri }

// Close ends every client connection, stops FerretDB and waits until it has
// closed its SQLite files. It is safe to call more than once.
func (s *Server) Close() error {
	s.closeOnce.Do(func() {
		// Proxy first: with its backend connections gone, FerretDB stops at
		// once instead of giving lingering clients a few seconds' grace.
		s.closeErr = s.proxy.close()
		s.stop()
		<-s.done
	})
	return s.closeErr
}

// quietHandler is the slog.Handler FerretDB logs to: it keeps warnings and
// errors, except FerretDB's dumps of every failed command's reply at warning
// level. Those are the client's errors (an unknown command, a missing
// namespace), which the client gets anyway; logged, they bury real problems.
type quietHandler struct {
	slog.Handler
}

func (h quietHandler) Enabled(ctx context.Context, l slog.Level) bool {
	return l >= slog.LevelWarn && h.Handler.Enabled(ctx, l)
}

func (h quietHandler) Handle(ctx context.Context, r slog.Record) error {
	if r.Level < slog.LevelError && strings.HasPrefix(r.Message, "Response ") {
		return nil
	}
	return h.Handler.Handle(ctx, r)
}

func (h quietHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	return quietHandler{h.Handler.WithAttrs(attrs)}
}

func (h quietHandler) WithGroup(name string) slog.Handler {
	return quietHandler{h.Handler.WithGroup(name)}
}
