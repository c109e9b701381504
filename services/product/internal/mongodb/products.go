// Package mongodb stores products in MongoDB (or FerretDB v1): one
// document per product in the "products" collection. BSON shapes live only
// in this package.
//
// Everything here is what MongoDB and FerretDB v1 both support (DESIGN
// §4): single-document writes, $set and $inc, $or, $regex, compound sorts
// with limit, and plain ascending compound indexes.
package mongodb

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/travluk/ecom/services/platform/mongoconn"
	"github.com/travluk/ecom/services/product/internal/product"
)

// Products implements product.Repository.
type Products struct {
	coll *mongo.Collection
}

// NewProducts returns a repository over db's "products" collection.
func NewProducts(db *mongo.Database) *Products {
	return &Products{coll: db.Collection("products")}
}

// productDoc is a product as stored. Reserved and sold are stored from
// the start so that the order flow's conditional updates find them.
// Attributes are a list of key/value pairs rather than a subdocument, so
// that keys with dots or dollar signs, which clients may use, are never
// taken for field paths or operators.
type productDoc struct {
	ID          bson.ObjectID  `bson:"_id"`
	Name        string         `bson:"name"`
	NameKey     string         `bson:"nameKey"`
	Description string         `bson:"description"`
	PriceCents  int64          `bson:"priceCents"`
	Stock       int64          `bson:"stock"`
	Reserved    int64          `bson:"reserved"`
	Sold        int64          `bson:"sold"`
	Attributes  []attributeDoc `bson:"attributes"`
	CreatedAt   time.Time      `bson:"createdAt"`
	UpdatedAt   time.Time      `bson:"updatedAt"`
	Version     int64          `bson:"version"`
}

type attributeDoc struct {
	Key   string `bson:"k"`
	Value any    `bson:"v"`
}

func toAttributeDocs(a product.Attributes) []attributeDoc {
	docs := make([]attributeDoc, 0, len(a))
	for k, v := range a {
		docs = append(docs, attributeDoc{Key: k, Value: v})
	}
	return docs
}

func (d *productDoc) product() *product.Product {
	attrs := make(product.Attributes, len(d.Attributes))
	for _, a := range d.Attributes {
		// BSON may hand back an int32 for a small whole number written by
		// someone else; the core knows int64 only.
		if n, ok := a.Value.(int32); ok {
			a.Value = int64(n)
		}
		attrs[a.Key] = a.Value
	}
	return &product.Product{
		ID:          d.ID.Hex(),
		Name:        d.Name,
		Description: d.Description,
		Price:       product.Money(d.PriceCents),
		Stock:       d.Stock,
		Reserved:    d.Reserved,
		Sold:        d.Sold,
		Attributes:  attrs,
		CreatedAt:   d.CreatedAt.UTC(),
		UpdatedAt:   d.UpdatedAt.UTC(),
		Version:     d.Version,
	}
}

// Create inserts p under a new ObjectID and sets p.ID to its hex form.
func (r *Products) Create(ctx context.Context, p *product.Product) error {
	d := productDoc{
		ID:          bson.NewObjectID(),
		Name:        p.Name,
		NameKey:     product.NameKey(p.Name),
		Description: p.Description,
		PriceCents:  int64(p.Price),
		Stock:       p.Stock,
		Reserved:    p.Reserved,
		Sold:        p.Sold,
		Attributes:  toAttributeDocs(p.Attributes),
		CreatedAt:   p.CreatedAt,
		UpdatedAt:   p.UpdatedAt,
		Version:     p.Version,
	}
	if _, err := r.coll.InsertOne(ctx, d); err != nil {
		return wrap(err)
	}
	p.ID = d.ID.Hex()
	return nil
}

// ByID finds a product; a malformed id is simply not found.
func (r *Products) ByID(ctx context.Context, id string) (*product.Product, error) {
	oid, err := bson.ObjectIDFromHex(id)
	if err != nil {
		return nil, product.ErrNotFound
	}
	var d productDoc
	if err := r.coll.FindOne(ctx, bson.D{{Key: "_id", Value: oid}}).Decode(&d); err != nil {
		return nil, wrap(err)
	}
	return d.product(), nil
}

// List runs q as one find with a filter, a sort on the order's key and
// _id, and a limit. Paging is by key, not by skip: the filter starts
// strictly after the cursor's (key, _id), so it costs the same on every
// page and is not thrown off by inserts and deletes before the cursor.
func (r *Products) List(ctx context.Context, q product.ListQuery) ([]*product.Product, error) {
	filter, err := listFilter(q)
	if err != nil {
		return nil, err
	}
	opts := options.Find().SetSort(sortSpec(q.Sort)).SetLimit(int64(q.Limit))
	cur, err := r.coll.Find(ctx, filter, opts)
	if err != nil {
		return nil, wrap(err)
	}
	var docs []productDoc
	if err := cur.All(ctx, &docs); err != nil {
		return nil, wrap(err)
	}
	out := make([]*product.Product, len(docs))
	for i := range docs {
		out[i] = docs[i].product()
	}
	return out, nil
}

// sortKey is the stored field an order sorts on.
func sortKey(f product.SortField) string {
	switch f {
	case product.FieldPrice:
		return "priceCents"
	case product.FieldName:
		return "nameKey"
	default:
		return "createdAt"
	}
}

// sortSpec is the sort document of an order: its key, then _id, in the
// same direction.
func sortSpec(s product.Sort) bson.D {
	dir := 1
	if s.Descending() {
		dir = -1
	}
	return bson.D{{Key: sortKey(s.Field()), Value: dir}, {Key: "_id", Value: dir}}
}

func listFilter(q product.ListQuery) (bson.D, error) {
	var and bson.A
	if q.Q != "" {
		// The text is matched literally: QuoteMeta escapes every regex
		// metacharacter, which PCRE (MongoDB) and Go (FerretDB) read alike.
		re := bson.Regex{Pattern: regexp.QuoteMeta(q.Q), Options: "i"}
		and = append(and, bson.D{{Key: "$or", Value: bson.A{
			bson.D{{Key: "name", Value: re}},
			bson.D{{Key: "description", Value: re}},
		}}})
	}
	if q.MinPrice != nil || q.MaxPrice != nil {
		var bounds bson.D
		if q.MinPrice != nil {
			bounds = append(bounds, bson.E{Key: "$gte", Value: int64(*q.MinPrice)})
		}
		if q.MaxPrice != nil {
			bounds = append(bounds, bson.E{Key: "$lte", Value: int64(*q.MaxPrice)})
		}
		and = append(and, bson.D{{Key: "priceCents", Value: bounds}})
	}
	if q.InStock {
		and = append(and, bson.D{{Key: "stock", Value: bson.D{{Key: "$gt", Value: int64(0)}}}})
	}
	if q.After != nil {
		after, err := afterCursor(q.Sort, q.After)
		if err != nil {
			return nil, err
		}
		and = append(and, after)
	}
	if len(and) == 0 {
		return bson.D{}, nil
	}
	return bson.D{{Key: "$and", Value: and}}, nil
}

// afterCursor is the keyset condition (key > k) OR (key == k AND _id > id),
// with < for descending orders.
func afterCursor(s product.Sort, c *product.Cursor) (bson.D, error) {
	oid, err := bson.ObjectIDFromHex(c.ID)
	if err != nil {
		return nil, product.InvalidCursor()
	}
	var value any
	switch s.Field() {
	case product.FieldPrice:
		value = int64(c.Price)
	case product.FieldName:
		value = c.NameKey
	default:
		value = c.CreatedAt
	}
	op := "$gt"
	if s.Descending() {
		op = "$lt"
	}
	key := sortKey(s.Field())
	return bson.D{{Key: "$or", Value: bson.A{
		bson.D{{Key: key, Value: bson.D{{Key: op, Value: value}}}},
		bson.D{{Key: key, Value: value}, {Key: "_id", Value: bson.D{{Key: op, Value: oid}}}},
	}}}, nil
}

// Update applies p with $set and $inc in one findAndModify, conditional
// on the version when ifVersions is set.
func (r *Products) Update(ctx context.Context, id string, p product.Patch, ifVersions []int64) (*product.Product, error) {
	oid, err := bson.ObjectIDFromHex(id)
	if err != nil {
		return nil, product.ErrNotFound
	}
	set := bson.D{{Key: "updatedAt", Value: p.UpdatedAt}}
	if p.Name != nil {
		set = append(set, bson.E{Key: "name", Value: *p.Name}, bson.E{Key: "nameKey", Value: product.NameKey(*p.Name)})
	}
	if p.Description != nil {
		set = append(set, bson.E{Key: "description", Value: *p.Description})
	}
	if p.Price != nil {
		set = append(set, bson.E{Key: "priceCents", Value: int64(*p.Price)})
	}
	if p.Stock != nil {
		set = append(set, bson.E{Key: "stock", Value: *p.Stock})
	}
	if p.Attributes != nil {
		set = append(set, bson.E{Key: "attributes", Value: toAttributeDocs(*p.Attributes)})
	}
	update := bson.D{
		{Key: "$set", Value: set},
		{Key: "$inc", Value: bson.D{{Key: "version", Value: int64(1)}}},
	}
	var d productDoc
	err = r.coll.FindOneAndUpdate(ctx, matching(oid, ifVersions), update,
		options.FindOneAndUpdate().SetReturnDocument(options.After)).Decode(&d)
	if errors.Is(err, mongo.ErrNoDocuments) {
		return nil, r.whyNoMatch(ctx, oid, ifVersions)
	}
	if err != nil {
		return nil, wrap(err)
	}
	return d.product(), nil
}

// Delete removes the product, conditional on the version when ifVersions
// is set.
func (r *Products) Delete(ctx context.Context, id string, ifVersions []int64) error {
	oid, err := bson.ObjectIDFromHex(id)
	if err != nil {
		return product.ErrNotFound
	}
	res, err := r.coll.DeleteOne(ctx, matching(oid, ifVersions))
	if err != nil {
		return wrap(err)
	}
	if res.DeletedCount == 0 {
		return r.whyNoMatch(ctx, oid, ifVersions)
	}
	return nil
}

func matching(oid bson.ObjectID, ifVersions []int64) bson.D {
	filter := bson.D{{Key: "_id", Value: oid}}
	if ifVersions != nil {
		filter = append(filter, bson.E{Key: "version", Value: bson.D{{Key: "$in", Value: ifVersions}}})
	}
	return filter
}

// whyNoMatch tells a missing product from one whose version did not match.
func (r *Products) whyNoMatch(ctx context.Context, oid bson.ObjectID, ifVersions []int64) error {
	if ifVersions == nil {
		return product.ErrNotFound
	}
	n, err := r.coll.CountDocuments(ctx, bson.D{{Key: "_id", Value: oid}}, options.Count().SetLimit(1))
	if err != nil {
		return wrap(err)
	}
	if n == 0 {
		return product.ErrNotFound
	}
	return product.ErrPreconditionFailed
}

// Count returns how many products there are; the seed uses it.
func (r *Products) Count(ctx context.Context) (int64, error) {
	n, err := r.coll.CountDocuments(ctx, bson.D{})
	if err != nil {
		return 0, wrap(err)
	}
	return n, nil
}

// wrap turns driver errors into the core's: no document is ErrNotFound,
// and an unreachable or silent server is ErrUnavailable.
func wrap(err error) error {
	switch {
	case errors.Is(err, mongo.ErrNoDocuments):
		return product.ErrNotFound
	case mongoconn.Unavailable(err):
		return fmt.Errorf("%w: mongodb: %w", product.ErrUnavailable, err)
	}
	return fmt.Errorf("mongodb: %w", err)
}
