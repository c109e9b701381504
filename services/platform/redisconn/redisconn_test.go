package redisconn

import (
	"context"
	"io"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/travluk/ecom/services/platform/internal/redistest"
)

func TestConnectOptions(t *testing.T) {
	type timeouts struct {
		Dial, Read, Write, Pool  time.Duration
		MaxRetries, DB, Protocol int
	}
	tests := []struct {
		name string
		url  string
		want timeouts
	}{
		{
			name: "defaults",
			url:  "redis://127.0.0.1:6379/3",
			want: timeouts{Dial: 500 * time.Millisecond, Read: 500 * time.Millisecond, Write: 500 * time.Millisecond, Pool: time.Second, MaxRetries: 1, DB: 3, Protocol: 2},
		},
		{
			name: "the URL wins",
			url:  "redis://127.0.0.1:6379/0?dial_timeout=2s&read_timeout=3s&max_retries=4&protocol=3",
			want: timeouts{Dial: 2 * time.Second, Read: 3 * time.Second, Write: 500 * time.Millisecond, Pool: time.Second, MaxRetries: 4, Protocol: 3},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rdb, err := Connect(tt.url)
			if err != nil {
				t.Fatal(err)
			}
			defer rdb.Close()
			o := rdb.Options()
			got := timeouts{o.DialTimeout, o.ReadTimeout, o.WriteTimeout, o.PoolTimeout, o.MaxRetries, o.DB, o.Protocol}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("options mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestConnectBadURL(t *testing.T) {
	for _, url := range []string{"http://user:hunter2@host:6379", "redis://user:hunter2@host:notaport/0", "::"} {
		_, err := Connect(url)
		if err == nil {
			t.Errorf("Connect(%q) = nil error", url)
			continue
		}
		if strings.Contains(err.Error(), "hunter2") {
			t.Errorf("Connect(%q) error %q shows the password", url, err)
		}
	}
}

func TestCheckLive(t *testing.T) {
	rdb, err := Connect(redistest.URL(t))
	if err != nil {
		t.Fatal(err)
	}
	defer rdb.Close()
	check := Check(rdb)
	if check.Name != "redis" {
		t.Errorf("Name = %q, want redis", check.Name)
	}
	if err := check.Probe(context.Background()); err != nil {
		t.Errorf("Probe: %v", err)
	}
}

func TestFailsFastWhenAway(t *testing.T) {
	rdb, err := Connect("redis://" + redistest.ClosedAddr(t) + "/0")
	if err != nil {
		t.Fatal(err)
	}
	defer rdb.Close()
	for i := range 3 {
		began := time.Now()
		if err := rdb.Ping(context.Background()).Err(); err == nil {
			t.Fatal("Ping succeeded with nothing listening")
		}
		if took := time.Since(began); took > time.Second {
			t.Errorf("Ping %d took %v to fail, want under 1s", i, took)
		}
	}
}

// TestRecoversWhenBack cuts Redis away behind a proxy and brings it back:
// calls fail quickly meanwhile and work again without a new client.
func TestRecoversWhenBack(t *testing.T) {
	target := strings.TrimPrefix(redistest.URL(t), "redis://")
	target, db, _ := strings.Cut(target, "/")
	p := startProxy(t, "127.0.0.1:0", target)
	addr := p.addr
	rdb, err := Connect("redis://" + addr + "/" + db)
	if err != nil {
		t.Fatal(err)
	}
	defer rdb.Close()
	ctx := context.Background()
	if err := rdb.Ping(ctx).Err(); err != nil {
		t.Fatalf("Ping through proxy: %v", err)
	}

	p.stop()
	began := time.Now()
	if err := rdb.Ping(ctx).Err(); err == nil {
		t.Fatal("Ping succeeded while Redis was away")
	}
	if took := time.Since(began); took > 1500*time.Millisecond {
		t.Errorf("Ping took %v to fail while away", took)
	}

	p = startProxy(t, addr, target)
	defer p.stop()
	deadline := time.Now().Add(5 * time.Second)
	for {
		err := rdb.Ping(ctx).Err()
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("Ping still failing 5s after Redis came back: %v", err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// proxy forwards TCP connections to a target; stop closes the listener and
// every connection, as a Redis restart would.
type proxy struct {
	addr  string
	ln    net.Listener
	mu    sync.Mutex
	conns []net.Conn
	wg    sync.WaitGroup
}

func startProxy(t *testing.T, listen, target string) *proxy {
	t.Helper()
	ln, err := net.Listen("tcp", listen)
	if err != nil {
		t.Fatalf("proxy listen: %v", err)
	}
	p := &proxy{addr: ln.Addr().String(), ln: ln}
	p.wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			up, err := net.Dial("tcp", target)
			if err != nil {
				c.Close()
				continue
			}
			p.mu.Lock()
			p.conns = append(p.conns, c, up)
			p.mu.Unlock()
			p.wg.Go(func() { _, _ = io.Copy(up, c); up.Close() })
			p.wg.Go(func() { _, _ = io.Copy(c, up); c.Close() })
		}
	})
	return p
}

func (p *proxy) stop() {
	p.ln.Close()
	p.mu.Lock()
	for _, c := range p.conns {
		c.Close()
	}
	p.conns = nil
	p.mu.Unlock()
	p.wg.Wait()
}
