package testenv

import (
	"bufio"
	"io"
	"net"
	"testing"
	"time"
)

// echoServer answers each line with the same line, until t ends.
func echoServer(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				_, _ = io.Copy(c, c)
			}()
		}
	}()
	return ln.Addr().String()
}

type echoClient struct {
	conn net.Conn
	r    *bufio.Reader
}

func dialEcho(t *testing.T, addr string) *echoClient {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return &echoClient{conn: c, r: bufio.NewReader(c)}
}

// roundTrip sends one line and reads one back, within a second.
func (c *echoClient) roundTrip(line string) (string, error) {
	if err := c.conn.SetDeadline(time.Now().Add(time.Second)); err != nil {
		return "", err
	}
	if _, err := io.WriteString(c.conn, line+"\n"); err != nil {
		return "", err
	}
	got, err := c.r.ReadString('\n')
	if err != nil {
		return "", err
	}
	return got[:len(got)-1], nil
}

func mustEcho(t *testing.T, c *echoClient, line string) {
	t.Helper()
	got, err := c.roundTrip(line)
	if err != nil || got != line {
		t.Fatalf("echo %q = %q, %v", line, got, err)
	}
}

func mustFail(t *testing.T, c *echoClient, line string) {
	t.Helper()
	if got, err := c.roundTrip(line); err == nil {
		t.Fatalf("echo %q = %q through a cut proxy, want an error", line, got)
	} else if ne, ok := err.(net.Error); ok && ne.Timeout() {
		t.Fatalf("echo %q timed out; want the connection closed at once", line)
	}
}

func TestTCPProxyCutAndRestore(t *testing.T) {
	p := NewTCPProxy(t, echoServer(t))

	before := dialEcho(t, p.Addr())
	mustEcho(t, before, "hello")

	p.Cut()
	mustFail(t, before, "after cut")
	mustFail(t, dialEcho(t, p.Addr()), "new connection while cut")

	p.Restore()
	mustFail(t, before, "a cut connection stays cut")
	after := dialEcho(t, p.Addr())
	mustEcho(t, after, "hello again")
}

func TestTCPProxyPassesHalfClose(t *testing.T) {
	p := NewTCPProxy(t, echoServer(t))
	c := dialEcho(t, p.Addr())
	if _, err := io.WriteString(c.conn, "last words"); err != nil {
		t.Fatal(err)
	}
	// The echo server sees end of input only if the proxy passes the
	// half-close on; then it finishes echoing and closes.
	if err := c.conn.(*net.TCPConn).CloseWrite(); err != nil {
		t.Fatal(err)
	}
	_ = c.conn.SetReadDeadline(time.Now().Add(time.Second))
	got, err := io.ReadAll(c.conn)
	if err != nil || string(got) != "last words" {
		t.Fatalf("read after half-close = %q, %v; want the echo, then end of stream", got, err)
	}
}

func TestTCPProxyTargetDown(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	down := ln.Addr().String()
	ln.Close()

	p := NewTCPProxy(t, down)
	mustFail(t, dialEcho(t, p.Addr()), "nobody there")
}
