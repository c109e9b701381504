package mongoconn

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/mongo"
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

func TestConnectFailsFast(t *testing.T) {
	tests := []struct {
		name string
		uri  string
	}{
		{"unreachable server", "mongodb://" + closedAddr(t) + "/?directConnection=true"},
		{"not a URI", "postgres://nope"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			began := time.Now()
			client, err := Connect(context.Background(), tt.uri)
			if err == nil {
				_ = client.Disconnect(context.Background())
				t.Fatal("Connect succeeded, want an error")
			}
			if took := time.Since(began); took > 4*time.Second {
				t.Errorf("Connect took %v to fail, want about 2s at most", took)
			}
		})
	}
}

// TestConnectLive needs a MongoDB-compatible server: the customer
// service's tests cover this against the embedded FerretDB; here it runs
// when MONGODB_URI names one.
func TestConnectLive(t *testing.T) {
	uri := os.Getenv("MONGODB_URI")
	if uri == "" {
		t.Skip("MONGODB_URI not set; the live connection is covered by the services' tests against embedded FerretDB")
	}
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
