package mongoembed

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"time"
)

// proxy forwards MongoDB wire-protocol messages between clients and one
// backend address, one backend connection per client connection, and lets
// one write command at a time through.
type proxy struct {
	ln      net.Listener
	backend string
	config  proxyConfig
	log     *slog.Logger

	// writeMu is held from forwarding a write command until its reply is back:
	// this is what restores MongoDB's single-document atomicity.
	writeMu sync.Mutex

	// ix creates the _id index on collection tables (idindex.go); nil
	// without config.idIndex.
	ix *idIndexer

	// fastServed counts requests the fast path served, for tests and
	// benchmarks to see that it did.
	fastServed atomic.Int64

	mu     sync.Mutex
	conns  map[net.Conn]struct{} // live client and backend connections, closed by close
	closed bool
	wg     sync.WaitGroup
}

// proxyConfig turns the proxy's features off, for benchmarks and tests that
// measure or compare them; Start turns both on.
type proxyConfig struct {
	lockWrites bool
	// fastPath serves conditional writes and reads by _id with lookups that
	// FerretDB pushes down to SQL (fastpath.go). Writes take it only with
	// lockWrites, on which their atomicity rests.
	fastPath bool
	// idIndex gives FerretDB's collection tables an index its _id lookups
	// use (idindex.go). It takes effect only with lockWrites, which keeps
	// the proxy's own connection to a database file from racing FerretDB's
	// writes to it and its removal.
	idIndex bool
}

// newProxy starts serving ln. ix is nil without config.idIndex.
func newProxy(ln net.Listener, backend string, config proxyConfig, ix *idIndexer, log *slog.Logger) *proxy {
	p := &proxy{
		ln:      ln,
		backend: backend,
		config:  config,
		log:     log,
		ix:      ix,
		conns:   make(map[net.Conn]struct{}),
	}
	p.wg.Add(1)
	go p.acceptLoop()
	return p
}

func (p *proxy) acceptLoop() {
	defer p.wg.Done()
	for {
		c, err := p.ln.Accept()
		if err != nil {
			if !errors.Is(err, net.ErrClosed) {
				p.log.Error("mongoembed: accept failed; proxy stopped", "err", err)
			}
			return
		}
		if !p.track(c) {
			c.Close()
			return
		}
		p.wg.Add(1)
		go func() {
			defer p.wg.Done()
			defer p.untrack(c)
			p.serve(c)
		}()
	}
}

// track records a live connection so that close can end it; it refuses (and
// reports false) once the proxy is closing.
func (p *proxy) track(c net.Conn) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return false
	}
	p.conns[c] = struct{}{}
	return true
}

func (p *proxy) untrack(c net.Conn) {
	p.mu.Lock()
	delete(p.conns, c)
	p.mu.Unlock()
	c.Close()
}

// serve relays one client connection until either side closes it or breaks
// the protocol. Requests and replies strictly alternate, which is all FerretDB
// v1 speaks: it never streams (exhaust) replies.
func (p *proxy) serve(client net.Conn) {
	backend, err := net.DialTimeout("tcp", p.backend, 5*time.Second)
	if err != nil {
		p.log.Error("mongoembed: cannot reach FerretDB", "err", err)
		return
	}
	if !p.track(backend) {
		backend.Close()
		return
	}
	defer p.untrack(backend)

	fromClient := bufio.NewReader(client)
	b := backendConn{Conn: backend, r: bufio.NewReader(backend)}
	for {
		req, err := readMessage(fromClient)
		if err == nil {
			err = p.roundTrip(req, client, b)
		}
		if err != nil {
			if !errors.Is(err, io.EOF) && !errors.Is(err, net.ErrClosed) {
				p.log.Warn("mongoembed: client connection dropped", "client", client.RemoteAddr(), "err", err)
			}
			return
		}
	}
}

// roundTrip forwards one request and relays its reply.
func (p *proxy) roundTrip(req message, client net.Conn, b backendConn) error {
	if req.opCode() == opCompressed {
		// A compressed message could hide a write from the lock. FerretDB
		// announces no compressors, so a driver never sends one.
		return errors.New("OP_COMPRESSED is not supported")
	}
	reply, err := p.exchange(req, b)
	if err != nil {
		return err
	}
	if reply.moreToCome() {
		return errors.New("streamed (exhaust) replies are not supported")
	}
	if req.moreToCome() {
		// The client asked for no reply (an unacknowledged write), but
		// FerretDB v1 answers every request anyway: waiting for that answer
		// kept the lock over the whole write, and dropping it keeps the
		// client's stream in step.
		return nil
	}
	if _, err := client.Write(reply); err != nil {
		return fmt.Errorf("relay reply: %w", err)
	}
	return nil
}

// exchange gets FerretDB's reply to req, or the fast path's, with a
// unique-index violation said as MongoDB says it (dupkey.go). For a write
// command it holds writeMu all along, and only that long: a slow client
// reading its reply does not hold up other writers. With the _id index on,
// it also holds writeMu over the commands that create, drop or rename
// collections, and keeps the index in step before letting go.
func (p *proxy) exchange(req message, b backendConn) (message, error) {
	name, write := p.classify(req)
	locked := p.config.lockWrites && (write || p.ix != nil && isSchemaCommand(name))
	if locked {
		p.writeMu.Lock()
		defer p.writeMu.Unlock()
	}
	reply, err := p.exchangeLocked(req, b, locked)
	if err == nil {
		reply = translateDuplicateKey(name, req, reply)
	}
	if err == nil && locked && p.ix != nil && name != "" {
		db, coll := commandTarget(req)
		p.ix.afterCommand(context.Background(), name, db, coll)
	}
	return reply, err
}

func (p *proxy) exchangeLocked(req message, b backendConn, locked bool) (message, error) {
	if p.config.fastPath {
		if plan := planFastPath(req, locked); plan != nil {
			reply, fast, err := plan.run(b, req)
			if fast && err == nil {
				p.fastServed.Add(1)
			}
			return reply, err
		}
	}
	return b.roundTrip(req)
}

// classify returns req's command name ("" if it has none the proxy can
// read) and whether req must be serialised as a write. A message the proxy
// cannot read is treated as a write: serialising a harmless message costs
// little, letting a write slip past the lock costs correctness.
func (p *proxy) classify(req message) (name string, write bool) {
	if req.opCode() != opMsg {
		return "", false // legacy OP_QUERY: FerretDB only serves the handshake over it
	}
	name, err := commandName(req)
	if err != nil {
		p.log.Warn("mongoembed: unreadable OP_MSG, serialising it", "err", err)
		return "", true
	}
	return name, isWriteCommand(name)
}

// isSchemaCommand reports whether the command creates, drops or renames a
// collection or database: the _id index's bookkeeping must not race it
// (idindex.go).
func isSchemaCommand(name string) bool {
	switch name {
	case "create", "createIndexes", "drop", "dropDatabase", "renameCollection":
		return true
	}
	return false
}

// commandTarget returns the database of an OP_MSG command and the string
// value of its first field, which names the collection of most commands;
// "" for what it cannot read.
func commandTarget(req message) (db, coll string) {
	m, err := splitOpMsg(req)
	if err != nil || m.body.Validate() != nil {
		return "", ""
	}
	db, _ = m.body.Lookup("$db").StringValueOK()
	if e, err := m.body.IndexErr(0); err == nil {
		coll, _ = e.Value().StringValueOK()
	}
	return db, coll
}

// close stops accepting, ends every live connection and waits for the
// connection goroutines.
func (p *proxy) close() error {
	err := p.ln.Close()
	p.mu.Lock()
	p.closed = true
	for c := range p.conns {
		c.Close()
	}
	p.mu.Unlock()
	p.wg.Wait()
	return err
}
