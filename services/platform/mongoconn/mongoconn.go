// Package mongoconn connects to MongoDB (or FerretDB) with timeouts short
// enough that an operation on an unreachable server fails in about two
// seconds rather than the driver's default thirty.
package mongoconn

import (
	"context"
	"errors"
	"fmt"
	"time"

	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
	"go.mongodb.org/mongo-driver/v2/mongo/readpref"
	"go.mongodb.org/mongo-driver/v2/x/mongo/driver"
	"go.mongodb.org/mongo-driver/v2/x/mongo/driver/topology"

	"github.com/travluk/ecom/services/platform/httpserver"
)

// Defaults applied unless the URI sets serverSelectionTimeoutMS or
// connectTimeoutMS itself.
const (
	serverSelectionTimeout = 2 * time.Second
	connectTimeout         = 2 * time.Second
)

// startupWait is how long Connect waits for the primary to answer. A pod's
// first connections can go unanswered for a second or two (a NetworkPolicy
// controller that has not yet learnt the new pod's IP drops them, a MongoDB
// that is still starting refuses them), and a service that gave up after one
// ping would restart for nothing.
const startupWait = 15 * time.Second

// Connect connects to uri and pings the primary until it answers, so that a
// wrong URI stops a service at startup with a clear error at once and an
// unreachable server within startupWait (or when ctx ends, if sooner).
// Later outages do not need a new client: the driver reconnects by itself,
// and each operation fails after the server-selection timeout meanwhile.
func Connect(ctx context.Context, uri string) (*mongo.Client, error) {
	return connect(ctx, uri, startupWait)
}

func connect(ctx context.Context, uri string, wait time.Duration) (*mongo.Client, error) {
	opts := options.Client().
		SetServerSelectionTimeout(serverSelectionTimeout).
		SetConnectTimeout(connectTimeout).
		ApplyURI(uri)
	client, err := mongo.Connect(opts)
	if err != nil {
		return nil, fmt.Errorf("mongoconn: connect: %w", err)
	}
	deadline := time.Now().Add(wait)
	for {
		err := client.Ping(ctx, readpref.Primary())
		if err == nil {
			return client, nil
		}
		if !Unavailable(err) || ctx.Err() != nil || time.Now().After(deadline) {
			// The ping already failed; a second failure while closing
			// adds nothing.
			_ = client.Disconnect(context.WithoutCancel(ctx))
			return nil, fmt.Errorf("mongoconn: ping: %w", err)
		}
		// A ping waits for server selection, so this only spaces out
		// pings that fail at once.
		select {
		case <-ctx.Done():
		case <-time.After(250 * time.Millisecond):
		}
	}
}

// Check returns the readiness check "mongodb", which pings the primary.
func Check(client *mongo.Client) httpserver.Check {
	return httpserver.Check{
		Name:  "mongodb",
		Probe: func(ctx context.Context) error { return client.Ping(ctx, readpref.Primary()) },
	}
}

// Unavailable reports whether err means the server could not be reached or
// did not answer in time, as opposed to an answer (a refusal, a duplicate
// key): the first is a 503 worth retrying, the second is not.
//
// Besides network errors and timeouts this covers a cleared connection pool:
// when one operation loses its connection the driver fails the others that
// were waiting on the same pool with an error that carries no network label.
func Unavailable(err error) bool {
	var pool driver.RetryablePoolError
	return mongo.IsNetworkError(err) || mongo.IsTimeout(err) ||
		errors.Is(err, mongo.ErrClientDisconnected) ||
		errors.As(err, new(topology.ServerSelectionError)) ||
		(errors.As(err, &pool) && pool.Retryable())
}
