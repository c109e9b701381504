package testenv

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"log/slog"
	"os"
	"sync"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/travluk/ecom/dev/mongoembed"
	"github.com/travluk/ecom/dev/redisembed"
)

// The embedded servers are shared by every test of a test binary and live as
// long as it does: starting one per test would cost more than the tests.
var (
	embeddedMongo struct {
		once sync.Once
		uri  string
		err  error
	}
	embeddedRedis struct {
		once sync.Once
		url  string
		err  error
	}
)

// Mongo returns a MongoDB connection string: MONGODB_URI when set, else the
// URI of an embedded FerretDB (see package mongoembed) in a temporary
// directory, started by the first call in the test binary. It fails t if the
// embedded server cannot start. Tests share the server: give each its own
// database with Database.
func Mongo(t testing.TB) string {
	t.Helper()
	if uri := os.Getenv("MONGODB_URI"); uri != "" {
		return uri
	}
	embeddedMongo.once.Do(func() {
		dir, err := os.MkdirTemp("", "testenv-mongo-")
		if err != nil {
			embeddedMongo.err = err
			return
		}
		// Only errors: FerretDB's warnings are about what tests do on
		// purpose, and this server outlives any one test's log.
		log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelError}))
		s, err := mongoembed.Start(context.Background(), mongoembed.Options{Dir: dir, Logger: log})
		if err != nil {
			embeddedMongo.err = err
			return
		}
		embeddedMongo.uri = s.URI()
	})
	if embeddedMongo.err != nil {
		t.Fatalf("testenv: embedded MongoDB: %v", embeddedMongo.err)
	}
	return embeddedMongo.uri
}

// Database returns a database name no other test uses, such as
// "t_1f9c04ab2e7d", and drops that database when t ends. A failed drop is
// logged, not failed: the test already said what it had to.
func Database(t testing.TB) string {
	t.Helper()
	uri := Mongo(t)
	b := make([]byte, 6)
	_, _ = rand.Read(b) // never fails (crypto/rand)
	name := "t_" + hex.EncodeToString(b)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		c, err := mongo.Connect(options.Client().ApplyURI(uri))
		if err != nil {
			t.Logf("testenv: drop %s: %v", name, err)
			return
		}
		defer c.Disconnect(ctx)
		if err := c.Database(name).Drop(ctx); err != nil {
			t.Logf("testenv: drop %s: %v", name, err)
		}
	})
	return name
}

// Redis returns a go-redis URL: REDIS_URL when set, else that of a miniredis
// started by the first call in the test binary, such as
// "redis://127.0.0.1:40123/0". Tests share the server, so keys should not
// collide between them.
func Redis(t testing.TB) string {
	t.Helper()
	if url := os.Getenv("REDIS_URL"); url != "" {
		return url
	}
	embeddedRedis.once.Do(func() {
		s, err := redisembed.Start("127.0.0.1:0")
		if err != nil {
			embeddedRedis.err = err
			return
		}
		embeddedRedis.url = s.URL()
	})
	if embeddedRedis.err != nil {
		t.Fatalf("testenv: embedded Redis: %v", embeddedRedis.err)
	}
	return embeddedRedis.url
}

// AMQP returns AMQP_URL. Without it the test is skipped, since RabbitMQ has
// no embedded stand-in, or failed when REQUIRE_SERVICES=1 says that every
// server must be there.
func AMQP(t testing.TB) string {
	t.Helper()
	if url := os.Getenv("AMQP_URL"); url != "" {
		return url
	}
	if os.Getenv("REQUIRE_SERVICES") == "1" {
		t.Fatal("testenv: AMQP_URL is not set, and REQUIRE_SERVICES=1 requires a real RabbitMQ")
	}
	t.Skip("testenv: AMQP_URL is not set; this test needs a real RabbitMQ (such as amqp://guest:guest@127.0.0.1:5672/)")
	return ""
}
