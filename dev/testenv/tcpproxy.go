package testenv

import (
	"io"
	"net"
	"sync"
	"testing"
	"time"
)

// TCPProxy relays TCP connections to a target and can cut them, to test what
// a client does when its server goes away and comes back.
type TCPProxy struct {
	ln     net.Listener
	target string
	wg     sync.WaitGroup

	mu    sync.Mutex
	cut   bool
	conns map[net.Conn]struct{} // both ends of every live relay
}

// NewTCPProxy starts a proxy on a free loopback port that relays every
// connection to target. It is closed, with all its connections, when t ends.
// It fails t if it cannot listen.
func NewTCPProxy(t testing.TB, target string) *TCPProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("testenv: TCP proxy: %v", err)
	}
	p := &TCPProxy{ln: ln, target: target, conns: make(map[net.Conn]struct{})}
	p.wg.Add(1)
	go p.acceptLoop()
	t.Cleanup(p.close)
	return p
}

// Addr returns the host:port clients should dial instead of the target.
func (p *TCPProxy) Addr() string { return p.ln.Addr().String() }

// Cut closes every live connection and, until Restore, closes each new one
// as soon as it is accepted. The port stays bound, so clients see their
// server drop them rather than a port that someone else may take.
func (p *TCPProxy) Cut() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.cut = true
	for c := range p.conns {
		c.Close()
	}
}

// Restore relays new connections again after Cut. Connections cut stay
// closed; clients reconnect.
func (p *TCPProxy) Restore() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.cut = false
}

func (p *TCPProxy) acceptLoop() {
	defer p.wg.Done()
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return // closed by close
		}
		p.wg.Add(1)
		go func() {
			defer p.wg.Done()
			p.relay(c)
		}()
	}
}

// relay copies both ways between client and a new connection to the target
// until both directions end, passing half-closes on.
func (p *TCPProxy) relay(client net.Conn) {
	defer client.Close()
	p.mu.Lock()
	cut := p.cut
	p.mu.Unlock()
	if cut {
		return
	}
	server, err := net.DialTimeout("tcp", p.target, 5*time.Second)
	if err != nil {
		return // the client sees its connection close, as if the target were down
	}
	defer server.Close()
	if !p.track(client, server) {
		return // Cut came while dialling
	}
	defer p.untrack(client, server)

	var both sync.WaitGroup
	both.Add(2)
	go func() { defer both.Done(); pipe(server, client) }()
	go func() { defer both.Done(); pipe(client, server) }()
	both.Wait()
}

// track registers a live relay, unless the proxy was cut meanwhile.
func (p *TCPProxy) track(conns ...net.Conn) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cut {
		return false
	}
	for _, c := range conns {
		p.conns[c] = struct{}{}
	}
	return true
}

func (p *TCPProxy) untrack(conns ...net.Conn) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, c := range conns {
		delete(p.conns, c)
	}
}

// pipe copies src to dst. At src's clean end it half-closes dst, so a peer
// waiting for end of input gets it; on any error it closes both, which ends
// the other direction too.
func pipe(dst, src net.Conn) {
	_, err := io.Copy(dst, src)
	if err == nil {
		if tc, ok := dst.(*net.TCPConn); ok {
			if tc.CloseWrite() == nil {
				return
			}
		}
	}
	dst.Close()
	src.Close()
}

// close stops the proxy and waits for its goroutines.
func (p *TCPProxy) close() {
	p.ln.Close()
	p.Cut()
	p.wg.Wait()
}
