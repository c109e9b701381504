package mongodb

import (
	"context"
	"fmt"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
)

// indexes keep every list query off a collection scan: one per order,
// keyed exactly like its sort (key, then _id), which MongoDB walks
// forwards or backwards, so that a page is read straight off the index;
// and one on stock for inStock. All plain ascending compound indexes,
// which FerretDB v1 supports too (no partial or TTL indexes: DESIGN §4).
func indexes() []mongo.IndexModel {
	return []mongo.IndexModel{
		{Keys: bson.D{{Key: "createdAt", Value: 1}, {Key: "_id", Value: 1}}, Options: options.Index().SetName("createdAt_id")},
		{Keys: bson.D{{Key: "priceCents", Value: 1}, {Key: "_id", Value: 1}}, Options: options.Index().SetName("priceCents_id")},
		{Keys: bson.D{{Key: "nameKey", Value: 1}, {Key: "_id", Value: 1}}, Options: options.Index().SetName("nameKey_id")},
		{Keys: bson.D{{Key: "stock", Value: 1}}, Options: options.Index().SetName("stock")},
	}
}

// EnsureIndexes creates the indexes. It is idempotent; call it on start
// before serving. Indexes are created one by one: FerretDB v1.24 drops the
// connection (a panic inside it) when one createIndexes command names
// several indexes that already exist.
func (r *Products) EnsureIndexes(ctx context.Context) error {
	for _, idx := range indexes() {
		if _, err := r.coll.Indexes().CreateOne(ctx, idx); err != nil {
			return fmt.Errorf("create products indexes: %w", wrap(err))
		}
	}
	return nil
}
