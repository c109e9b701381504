package mongoconn

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/mongo"

	"github.com/travluk/ecom/dev/testenv"
)

func closedAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

func TestConnectFailsFastOnAWrongURI(t *testing.T) {
	began := time.Now()
	client, err := Connect(context.Background(), "postgres://nope")
	if err == nil {
		_ = client.Disconnect(context.Background())
		t.Fatal("Connect succeeded, want an error")
	}
	if took := time.Since(began); took > time.Second {
		t.Errorf("Connect took %v to fail, want at once", took)
	}
}

func TestConnectGivesUpOnAnUnreachableServerAfterItsWait(t *testing.T) {
	tests := []struct {
		name    string
		wait    time.Duration
		ctxWait time.Duration
	}{
		{"its own wait", 3 * time.Second, time.Minute},
		{"the caller's context, if sooner", time.Minute, 3 * time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), tt.ctxWait)
			defer cancel()
			began := time.Now()
			client, err := connect(ctx, "mongodb://"+closedAddr(t)+"/?directConnection=true", tt.wait)
			if err == nil {
				_ = client.Disconnect(context.Background())
				t.Fatal("connect succeeded, want an error")
			}
			// A ping that has begun runs to its server-selection timeout.
			if took := time.Since(began); took < 3*time.Second || took > 3*time.Second+serverSelectionTimeout+time.Second {
				t.Errorf("connect took %v to fail, want 3s to 3s plus one ping", took)
			}
		})
	}
}

// A server that does not answer for longer than one ping (here a proxy that
// drops every connection for 3 s, like a pod whose first packets a
// NetworkPolicy controller drops) is waited for.
func TestConnectWaitsForAServerThatAnswersLate(t *testing.T) {
	target, err := url.Parse(testenv.Mongo(t))
	if err != nil {
		t.Fatal(err)
	}
	proxy := testenv.NewTCPProxy(t, target.Host)
	proxy.Cut()
	restored := time.AfterFunc(3*time.Second, proxy.Restore)
	defer restored.Stop()
	began := time.Now()
	client, err := connect(context.Background(), "mongodb://"+proxy.Addr()+"/?directConnection=true", 15*time.Second)
	if err != nil {
		t.Fatalf("connect: %v (after %v)", err, time.Since(began))
	}
	defer client.Disconnect(context.Background())
	if took := time.Since(began); took < 3*time.Second {
		t.Errorf("connect answered after %v, before the server did", took)
	}
}

// TestConnectLive connects to a MongoDB-compatible server: MONGODB_URI
// when set, else the embedded FerretDB the other tests use. It never
// skips: testenv.Mongo fails the test when the embedded server cannot
// start.
func TestConnectLive(t *testing.T) {
	uri := testenv.Mongo(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	client, err := Connect(ctx, uri)
	if err != nil {
		t.Fatalf("Connect: %v", err)
	}
	defer client.Disconnect(ctx)
	check := Check(client)
	if check.Name != "mongodb" {
		t.Errorf("check name = %q", check.Name)
	}
	if err := check.Probe(ctx); err != nil {
		t.Errorf("Probe: %v", err)
	}
}

func TestUnavailable(t *testing.T) {
	tests := []struct {
		name string
		err  error
		want bool
	}{
		{"deadline", fmt.Errorf("find: %w", context.DeadlineExceeded), true},
		{"client disconnected", mongo.ErrClientDisconnected, true},
		{"network label", mongo.CommandError{Labels: []string{"NetworkError"}}, true},
		{"duplicate key", mongo.CommandError{Code: 11000, Message: "E11000 duplicate key"}, false},
		{"a refusal", mongo.CommandError{Code: 2, Message: "BadValue"}, false},
		{"no document", mongo.ErrNoDocuments, false},
		{"anything else", errors.New("boom"), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Unavailable(tt.err); got != tt.want {
				t.Errorf("Unavailable(%v) = %v, want %v", tt.err, got, tt.want)
			}
		})
	}
}
