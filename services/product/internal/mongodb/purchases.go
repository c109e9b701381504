package mongodb

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/travluk/ecom/services/product/internal/product"
)

// Purchases implements product.Purchases on the "purchases" collection,
// one document per buy under its order id, and the outbox.Store the relay
// reads (outbox.go). Purchases are never deleted, except a rejected one
// that bought nothing whose key is being used again (Forget); so an
// idempotency key stays bound for as long as the collection keeps its
// purchase, which is what FerretDB v1 allows without TTL indexes.
//
// The unique index (customerId, idempotencyKey) of "purchases" decides
// which purchase a key is bound to. Beside it, "purchaseKeys" holds one
// document per key ever used, under an _id derived from (customer, key),
// naming the order id last written for it: ByKey reads it and then the
// purchase, two finds by _id, where a find by (customerId,
// idempotencyKey) would decode the whole collection on the embedded
// store. See ByKey for why a stale or missing pointer is never wrong.
type Purchases struct {
	coll *mongo.Collection
	keys *mongo.Collection
}

// NewPurchases returns the purchases of db.
func NewPurchases(db *mongo.Database) *Purchases {
	return &Purchases{coll: db.Collection("purchases"), keys: db.Collection("purchaseKeys")}
}

// keyDoc points an idempotency key at the order id last created under it.
type keyDoc struct {
	ID         string    `bson:"_id"`
	CustomerID string    `bson:"customerId"`
	OrderID    string    `bson:"orderId"`
	UpdatedAt  time.Time `bson:"updatedAt"`
}

// keyID is the _id of the key document of (customerID, key): a hash, so
// that neither length nor content of the client's key reaches the _id,
// over a length-prefixed pair, so that no two pairs share it.
func keyID(customerID, key string) string {
	sum := sha256.Sum256([]byte(strconv.Itoa(len(customerID)) + ":" + customerID + key))
	return hex.EncodeToString(sum[:])
}

// purchaseDoc is a purchase as stored. idempotencyKey is "k:" + the
// client's key, or "o:" + the order id when the client sent none: the
// unique index (customerId, idempotencyKey) must see a distinct value for
// every purchase without a key, and partial or sparse indexes are not an
// option on FerretDB v1.
type purchaseDoc struct {
	ID              string               `bson:"_id"`
	CustomerID      string               `bson:"customerId"`
	IdempotencyKey  string               `bson:"idempotencyKey"`
	BodyHash        string               `bson:"bodyHash"`
	Lines           []lineDoc            `bson:"lines"`
	ShippingAddress string               `bson:"shippingAddress,omitempty"`
	Status          string               `bson:"status"`
	Reason          string               `bson:"reason,omitempty"`
	ReasonProductID string               `bson:"reasonProductId,omitempty"`
	Outbox          map[string]outboxDoc `bson:"outbox,omitempty"`
	OutboxCount     int64                `bson:"outboxCount"`
	CreatedAt       time.Time            `bson:"createdAt"`
	UpdatedAt       time.Time            `bson:"updatedAt"`
	ConfirmedAt     *time.Time           `bson:"confirmedAt,omitempty"`
}

type lineDoc struct {
	ProductID      string `bson:"productId"`
	Quantity       int64  `bson:"quantity"`
	Name           string `bson:"name"`
	UnitPriceCents int64  `bson:"unitPriceCents"`
}

// outboxDoc is one pending event: its type (for operators reading the
// document) and the CloudEvent as JSON text, kept verbatim so that what the
// relay publishes is byte for byte what the writer made.
type outboxDoc struct {
	Type string `bson:"type"`
	JSON string `bson:"json"`
}

func storedKey(p *product.Purchase) string {
	if p.IdempotencyKey == "" {
		return "o:" + p.OrderID
	}
	return "k:" + p.IdempotencyKey
}

func toLineDocs(lines []product.PurchaseLine) []lineDoc {
	out := make([]lineDoc, len(lines))
	for i, l := range lines {
		out[i] = lineDoc{ProductID: l.ProductID, Quantity: l.Quantity, Name: l.Name, UnitPriceCents: int64(l.UnitPrice)}
	}
	return out
}

func (d *purchaseDoc) purchase() *product.Purchase {
	p := &product.Purchase{
		OrderID:         d.ID,
		CustomerID:      d.CustomerID,
		BodyHash:        d.BodyHash,
		Lines:           make([]product.PurchaseLine, len(d.Lines)),
		ShippingAddress: d.ShippingAddress,
		Status:          product.PurchaseStatus(d.Status),
		Reason:          product.RejectReason(d.Reason),
		ReasonProductID: d.ReasonProductID,
		CreatedAt:       d.CreatedAt.UTC(),
		UpdatedAt:       d.UpdatedAt.UTC(),
	}
	if key, ok := strings.CutPrefix(d.IdempotencyKey, "k:"); ok {
		p.IdempotencyKey = key
	}
	for i, l := range d.Lines {
		p.Lines[i] = product.PurchaseLine{ProductID: l.ProductID, Quantity: l.Quantity, Name: l.Name, UnitPrice: product.Money(l.UnitPriceCents)}
	}
	if d.ConfirmedAt != nil {
		p.ConfirmedAt = d.ConfirmedAt.UTC()
	}
	return p
}

// Create inserts p under a new order id (an ObjectID in hex) and sets
// p.OrderID. With an idempotency key it first points the key's document
// at the new order id (ByKey relies on a key document existing before any
// purchase under the key); the insert then decides, through the unique
// index, whether the key was free.
func (r *Purchases) Create(ctx context.Context, p *product.Purchase) error {
	orderID := bson.NewObjectID().Hex()
	if p.IdempotencyKey != "" {
		if err := r.point(ctx, p.CustomerID, p.IdempotencyKey, orderID, p.CreatedAt); err != nil {
			return err
		}
	}
	p.OrderID = orderID
	d := purchaseDoc{
		ID: p.OrderID, CustomerID: p.CustomerID, IdempotencyKey: storedKey(p), BodyHash: p.BodyHash,
		Lines: toLineDocs(p.Lines), ShippingAddress: p.ShippingAddress, Status: string(p.Status),
		CreatedAt: p.CreatedAt, UpdatedAt: p.UpdatedAt,
	}
	if _, err := r.coll.InsertOne(ctx, d); err != nil {
		p.OrderID = ""
		if mongo.IsDuplicateKeyError(err) {
			return product.ErrPurchaseExists
		}
		return wrap(err)
	}
	return nil
}

// ByID returns the purchase of orderID.
func (r *Purchases) ByID(ctx context.Context, orderID string) (*product.Purchase, error) {
	return r.one(ctx, bson.D{{Key: "_id", Value: orderID}})
}

// point upserts the key document of (customerID, key) to name orderID.
func (r *Purchases) point(ctx context.Context, customerID, key, orderID string, now time.Time) error {
	filter := bson.D{{Key: "_id", Value: keyID(customerID, key)}}
	update := bson.D{{Key: "$set", Value: bson.D{
		{Key: "customerId", Value: customerID},
		{Key: "orderId", Value: orderID},
		{Key: "updatedAt", Value: now},
	}}}
	_, err := r.keys.UpdateOne(ctx, filter, update, options.UpdateOne().SetUpsert(true))
	if err != nil && mongo.IsDuplicateKeyError(err) {
		// Two upserts of a new key raced (MongoDB may refuse the second
		// insert): the document exists now, so update it.
		_, err = r.keys.UpdateOne(ctx, filter, update)
	}
	if err != nil {
		return wrap(err)
	}
	return nil
}

// ByKey returns the customer's purchase under an idempotency key.
//
// Create writes the key document before inserting any purchase under the
// key, and key documents are never deleted; so no key document means no
// purchase (purchases from before key documents existed are found by the
// fallback below, once Create's insert has run into one and written the
// key document). A key document naming a purchase of this customer under
// this key names the purchase (the unique index allows one). Anything
// else (a buy racing this one, a crash between the two writes of Create,
// the loser of a race for the key, a forgotten purchase) falls back to
// the query on the unique index, and points the key document at what it
// finds.
func (r *Purchases) ByKey(ctx context.Context, customerID, key string) (*product.Purchase, error) {
	var k keyDoc
	err := r.keys.FindOne(ctx, bson.D{{Key: "_id", Value: keyID(customerID, key)}}).Decode(&k)
	if errors.Is(err, mongo.ErrNoDocuments) {
		return nil, product.ErrPurchaseNotFound
	}
	if err != nil {
		return nil, wrap(err)
	}
	p, err := r.ByID(ctx, k.OrderID)
	switch {
	case err == nil && p.CustomerID == customerID && p.IdempotencyKey == key:
		return p, nil
	case err != nil && !errors.Is(err, product.ErrPurchaseNotFound):
		return nil, err
	}
	p, err = r.one(ctx, bson.D{{Key: "customerId", Value: customerID}, {Key: "idempotencyKey", Value: "k:" + key}})
	if err != nil {
		return nil, err
	}
	// Repair the pointer unless it moved meanwhile; a failure only leaves
	// the next look-up on this fallback.
	_, _ = r.keys.UpdateOne(ctx, bson.D{{Key: "_id", Value: k.ID}, {Key: "orderId", Value: k.OrderID}},
		bson.D{{Key: "$set", Value: bson.D{{Key: "orderId", Value: p.OrderID}}}})
	return p, nil
}

func (r *Purchases) one(ctx context.Context, filter bson.D) (*product.Purchase, error) {
	var d purchaseDoc
	err := r.coll.FindOne(ctx, filter, options.FindOne().SetProjection(bson.D{{Key: "outbox", Value: 0}})).Decode(&d)
	if errors.Is(err, mongo.ErrNoDocuments) {
		return nil, product.ErrPurchaseNotFound
	}
	if err != nil {
		return nil, wrap(err)
	}
	return d.purchase(), nil
}

// Request moves a reserving purchase to requested with its priced lines
// and appends e to its outbox, in one update.
func (r *Purchases) Request(ctx context.Context, p *product.Purchase, e product.OutboxEvent, now time.Time) error {
	if !validEventID(e.ID) {
		return fmt.Errorf("mongodb: event id %q cannot be a field name", e.ID)
	}
	return r.move(ctx, p.OrderID, []product.PurchaseStatus{product.StatusReserving}, bson.D{
		{Key: "$set", Value: bson.D{
			{Key: "status", Value: string(product.StatusRequested)},
			{Key: "lines", Value: toLineDocs(p.Lines)},
			{Key: "updatedAt", Value: now},
			{Key: "outbox." + e.ID, Value: outboxDoc{Type: "order.requested", JSON: string(e.JSON)}},
		}},
		{Key: "$inc", Value: bson.D{{Key: "outboxCount", Value: int64(1)}}},
	})
}

// Reject moves a reserving purchase to rejected.
func (r *Purchases) Reject(ctx context.Context, orderID string, reason product.RejectReason, productID string, now time.Time) error {
	return r.move(ctx, orderID, []product.PurchaseStatus{product.StatusReserving}, bson.D{{Key: "$set", Value: bson.D{
		{Key: "status", Value: string(product.StatusRejected)},
		{Key: "reason", Value: string(reason)},
		{Key: "reasonProductId", Value: productID},
		{Key: "updatedAt", Value: now},
	}}})
}

// Confirm moves a requested purchase to confirmed.
func (r *Purchases) Confirm(ctx context.Context, orderID string, confirmedAt, now time.Time) error {
	return r.move(ctx, orderID, []product.PurchaseStatus{product.StatusRequested}, bson.D{{Key: "$set", Value: bson.D{
		{Key: "status", Value: string(product.StatusConfirmed)},
		{Key: "confirmedAt", Value: confirmedAt},
		{Key: "updatedAt", Value: now},
	}}})
}

// Release moves a requested or confirmed purchase to released.
func (r *Purchases) Release(ctx context.Context, orderID string, now time.Time) error {
	return r.move(ctx, orderID, []product.PurchaseStatus{product.StatusRequested, product.StatusConfirmed}, bson.D{{Key: "$set", Value: bson.D{
		{Key: "status", Value: string(product.StatusReleased)},
		{Key: "updatedAt", Value: now},
	}}})
}

// Forget deletes a purchase rejected for a failure or a timeout.
func (r *Purchases) Forget(ctx context.Context, orderID string) error {
	res, err := r.coll.DeleteOne(ctx, bson.D{
		{Key: "_id", Value: orderID},
		{Key: "status", Value: string(product.StatusRejected)},
		{Key: "reason", Value: bson.D{{Key: "$in", Value: bson.A{string(product.RejectTimeout), string(product.RejectFailed)}}}},
	})
	if err != nil {
		return wrap(err)
	}
	if res.DeletedCount == 0 {
		return product.ErrPurchaseMoved
	}
	return nil
}

// Stuck returns purchases still reserving that were created before before.
func (r *Purchases) Stuck(ctx context.Context, before time.Time, limit int) ([]*product.Purchase, error) {
	return r.list(ctx, bson.D{
		{Key: "status", Value: string(product.StatusReserving)},
		{Key: "createdAt", Value: bson.D{{Key: "$lt", Value: before}}},
	}, limit)
}

func (r *Purchases) list(ctx context.Context, filter bson.D, limit int) ([]*product.Purchase, error) {
	cur, err := r.coll.Find(ctx, filter, options.Find().
		SetSort(bson.D{{Key: "createdAt", Value: 1}}).SetLimit(int64(limit)).
		SetProjection(bson.D{{Key: "outbox", Value: 0}}))
	if err != nil {
		return nil, wrap(err)
	}
	var docs []purchaseDoc
	if err := cur.All(ctx, &docs); err != nil {
		return nil, wrap(err)
	}
	out := make([]*product.Purchase, len(docs))
	for i := range docs {
		out[i] = docs[i].purchase()
	}
	return out, nil
}

// Settled returns those of orderIDs whose purchases are neither reserving
// nor requested any more: the buys waiting for them can answer. The
// waiter polls with it.
func (r *Purchases) Settled(ctx context.Context, orderIDs []string) ([]string, error) {
	cur, err := r.coll.Find(ctx, bson.D{
		{Key: "_id", Value: bson.D{{Key: "$in", Value: orderIDs}}},
		{Key: "status", Value: bson.D{{Key: "$nin", Value: bson.A{string(product.StatusReserving), string(product.StatusRequested)}}}},
	}, options.Find().SetProjection(bson.D{{Key: "_id", Value: 1}}))
	if err != nil {
		return nil, wrap(err)
	}
	var docs []struct {
		ID string `bson:"_id"`
	}
	if err := cur.All(ctx, &docs); err != nil {
		return nil, wrap(err)
	}
	out := make([]string, len(docs))
	for i, d := range docs {
		out[i] = d.ID
	}
	return out, nil
}

// move applies update to the purchase if its status is one of from; it
// fails with ErrPurchaseMoved when the purchase is in another status, and
// ErrPurchaseNotFound when there is none.
func (r *Purchases) move(ctx context.Context, orderID string, from []product.PurchaseStatus, update bson.D) error {
	statuses := make(bson.A, len(from))
	for i, s := range from {
		statuses[i] = string(s)
	}
	res, err := r.coll.UpdateOne(ctx, bson.D{
		{Key: "_id", Value: orderID},
		{Key: "status", Value: bson.D{{Key: "$in", Value: statuses}}},
	}, update)
	if err != nil {
		return wrap(err)
	}
	if res.MatchedCount > 0 {
		return nil
	}
	n, err := r.coll.CountDocuments(ctx, bson.D{{Key: "_id", Value: orderID}}, options.Count().SetLimit(1))
	if err != nil {
		return wrap(err)
	}
	if n == 0 {
		return product.ErrPurchaseNotFound
	}
	return product.ErrPurchaseMoved
}

// EnsureIndexes creates the purchases' indexes, one by one (see
// Products.EnsureIndexes): the unique idempotency index, one for the
// sweeper and one for the relay.
func (r *Purchases) EnsureIndexes(ctx context.Context) error {
	for _, idx := range []mongo.IndexModel{
		{Keys: bson.D{{Key: "customerId", Value: 1}, {Key: "idempotencyKey", Value: 1}},
			Options: options.Index().SetName("customerId_idempotencyKey").SetUnique(true)},
		{Keys: bson.D{{Key: "status", Value: 1}, {Key: "createdAt", Value: 1}}, Options: options.Index().SetName("status_createdAt")},
		{Keys: bson.D{{Key: "outboxCount", Value: 1}}, Options: options.Index().SetName("outboxCount")},
	} {
		if _, err := r.coll.Indexes().CreateOne(ctx, idx); err != nil {
			return fmt.Errorf("create purchases indexes: %w", wrap(err))
		}
	}
	return nil
}

// validEventID accepts the ids messaging.NewEvent makes (hex) and other
// plain ids, never one that could be read as a field path or operator.
func validEventID(id string) bool {
	if id == "" || len(id) > 128 {
		return false
	}
	for _, c := range id {
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}
