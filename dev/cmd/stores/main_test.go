package main

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/travluk/ecom/dev/testenv"
	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
)

// startStores runs run with args until the test ends, and returns the
// variables it printed once the line naming last is out.
func startStores(t *testing.T, last string, args ...string) map[string]string {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	out := &testenv.LogBuffer{}
	done := make(chan error, 1)
	go func() { done <- run(ctx, args, out) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("run: %v", err)
		}
	})
	deadline := time.Now().Add(30 * time.Second)
	for !strings.Contains(out.String(), last+"=") {
		select {
		case err := <-done:
			t.Fatalf("run returned early: %v\n%s", err, out)
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("no %s after 30 s:\n%s", last, out)
		}
	}
	time.Sleep(50 * time.Millisecond) // let a line that would follow come out
	vars := map[string]string{}
	for _, line := range strings.Split(out.String(), "\n") {
		if k, v, ok := strings.Cut(line, "="); ok && !strings.Contains(k, " ") {
			vars[k] = v
		}
	}
	return vars
}

func ping(t *testing.T, uri string) {
	t.Helper()
	client, err := mongo.Connect(options.Client().ApplyURI(uri).SetTimeout(10 * time.Second))
	if err != nil {
		t.Fatalf("connect %s: %v", uri, err)
	}
	defer client.Disconnect(context.Background())
	coll := client.Database("stores_test").Collection("c")
	if _, err := coll.InsertOne(context.Background(), bson.D{{Key: "_id", Value: 1}}); err != nil {
		t.Fatalf("insert: %v", err)
	}
	if n, err := coll.CountDocuments(context.Background(), bson.D{}); err != nil || n != 1 {
		t.Fatalf("count: %d, %v", n, err)
	}
}

func TestWithoutRedisOnlyMongoRuns(t *testing.T) {
	vars := startStores(t, "MONGODB_URI", "-data", t.TempDir(), "-mongo", "127.0.0.1:0", "-redis", "")
	if url, ok := vars["REDIS_URL"]; ok {
		t.Errorf("REDIS_URL=%s printed with -redis \"\"", url)
	}
	ping(t, vars["MONGODB_URI"])
}

func TestBothStoresRun(t *testing.T) {
	vars := startStores(t, "REDIS_URL", "-data", t.TempDir(), "-mongo", "127.0.0.1:0", "-redis", "127.0.0.1:0")
	if !strings.HasPrefix(vars["REDIS_URL"], "redis://") {
		t.Errorf("REDIS_URL=%q", vars["REDIS_URL"])
	}
	ping(t, vars["MONGODB_URI"])
}
