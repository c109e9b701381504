package mongodb

import (
	"context"
	"fmt"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
)

// indexes keep every query off a collection scan. Listing sorts by
// (createdAt, _id) descending, which MongoDB walks backwards along each of
// the first three, after the equality filters of customerId and status;
// the relay finds orders with pending events by outboxCount. All plain
// ascending compound indexes, which FerretDB v1 supports too (no partial
// or TTL indexes: DESIGN §4).
func indexes() []mongo.IndexModel {
	return []mongo.IndexModel{
		{Keys: bson.D{{Key: "createdAt", Value: 1}, {Key: "_id", Value: 1}}, Options: options.Index().SetName("createdAt_id")},
		{Keys: bson.D{{Key: "customerId", Value: 1}, {Key: "createdAt", Value: 1}, {Key: "_id", Value: 1}}, Options: options.Index().SetName("customerId_createdAt_id")},
		{Keys: bson.D{{Key: "status", Value: 1}, {Key: "createdAt", Value: 1}, {Key: "_id", Value: 1}}, Options: options.Index().SetName("status_createdAt_id")},
		{Keys: bson.D{{Key: "outboxCount", Value: 1}}, Options: options.Index().SetName("outboxCount")},
	}
}

// EnsureIndexes creates the indexes. It is idempotent; call it on start
// before serving. Indexes are created one by one: FerretDB v1.24 drops the
// connection when one createIndexes command names several existing ones.
func (r *Orders) EnsureIndexes(ctx context.Context) error {
	for _, idx := range indexes() {
		if _, err := r.coll.Indexes().CreateOne(ctx, idx); err != nil {
			return fmt.Errorf("create orders indexes: %w", wrap(err))
		}
	}
	return nil
}
