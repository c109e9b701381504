package mongodb

import (
	"context"
	"errors"
	"fmt"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/travluk/ecom/services/product/internal/product"
)

// Reservations implements product.Reservations on the products collection.
// Each product document carries, besides stock, reserved and sold:
//
//   - "reservations.<orderId>": units held for an order, set by Reserve in
//     the same write that moves them from stock to reserved, and unset by
//     the write that sells or releases them;
//   - "releases.<orderId>": units a cancelled order gave back, the marker
//     that makes Cancel happen once.
//
// Every method is one conditional single-document update (two at most for
// Cancel, each conditional), which MongoDB applies atomically and the
// embedded FerretDB serialises (DESIGN §4). Reserve, Release and Cancel
// change the stock clients see, so they bump the version; Sell does not.
type Reservations struct {
	coll *mongo.Collection
}

// NewReservations returns the reservations over db's "products" collection.
func NewReservations(db *mongo.Database) *Reservations {
	return &Reservations{coll: db.Collection("products")}
}

func reservationKey(orderID string) string { return "reservations." + orderID }
func releaseKey(orderID string) string     { return "releases." + orderID }

// validOrderID keeps ids that could name another field (dots, dollars) out
// of field paths. Order ids are 24-hex ObjectIDs.
func validOrderID(orderID string) error {
	if _, err := bson.ObjectIDFromHex(orderID); err != nil {
		return fmt.Errorf("mongodb: malformed order id %q", orderID)
	}
	return nil
}

var exists = bson.D{{Key: "$exists", Value: true}}
var absent = bson.D{{Key: "$exists", Value: false}}

// Reserve moves q units from stock to reserved for orderID.
func (r *Reservations) Reserve(ctx context.Context, productID, orderID string, q int64) (*product.Product, error) {
	oid, err := bson.ObjectIDFromHex(productID)
	if err != nil {
		return nil, &product.UnknownProductError{ProductID: productID}
	}
	if err := validOrderID(orderID); err != nil {
		return nil, err
	}
	filter := bson.D{
		{Key: "_id", Value: oid},
		{Key: "stock", Value: bson.D{{Key: "$gte", Value: q}}},
		{Key: reservationKey(orderID), Value: absent},
	}
	update := bson.D{
		{Key: "$inc", Value: bson.D{{Key: "stock", Value: -q}, {Key: "reserved", Value: q}, {Key: "version", Value: int64(1)}}},
		{Key: "$set", Value: bson.D{{Key: reservationKey(orderID), Value: q}}},
	}
	p, err := r.findAndUpdate(ctx, filter, update)
	if err != nil || p != nil {
		return p, err
	}
	// Not applied: tell why from the product as it is now.
	var d struct {
		productDoc   `bson:",inline"`
		Reservations bson.M `bson:"reservations"`
	}
	err = r.coll.FindOne(ctx, bson.D{{Key: "_id", Value: oid}}).Decode(&d)
	if errors.Is(err, mongo.ErrNoDocuments) {
		return nil, &product.UnknownProductError{ProductID: productID}
	}
	if err != nil {
		return nil, wrap(err)
	}
	if _, held := d.Reservations[orderID]; held {
		return d.product(), nil // reserved by an earlier attempt of this order
	}
	return nil, &product.OutOfStockError{ProductID: productID, Name: d.Name, Requested: q, Available: d.Stock}
}

// Release gives orderID's reservation of q units back to stock.
func (r *Reservations) Release(ctx context.Context, productID, orderID string, q int64) (*product.Product, error) {
	oid, err := bson.ObjectIDFromHex(productID)
	if err != nil {
		return nil, nil
	}
	if err := validOrderID(orderID); err != nil {
		return nil, err
	}
	filter := bson.D{{Key: "_id", Value: oid}, {Key: reservationKey(orderID), Value: q}}
	update := bson.D{
		{Key: "$inc", Value: bson.D{{Key: "stock", Value: q}, {Key: "reserved", Value: -q}, {Key: "version", Value: int64(1)}}},
		{Key: "$unset", Value: bson.D{{Key: reservationKey(orderID), Value: ""}}},
	}
	return r.findAndUpdate(ctx, filter, update)
}

// Sell turns orderID's reservation of q units into a sale, unless the
// order was cancelled first.
func (r *Reservations) Sell(ctx context.Context, productID, orderID string, q int64) (bool, error) {
	oid, err := bson.ObjectIDFromHex(productID)
	if err != nil {
		return false, nil
	}
	if err := validOrderID(orderID); err != nil {
		return false, err
	}
	filter := bson.D{
		{Key: "_id", Value: oid},
		{Key: reservationKey(orderID), Value: q},
		{Key: releaseKey(orderID), Value: absent},
	}
	update := bson.D{
		{Key: "$inc", Value: bson.D{{Key: "reserved", Value: -q}, {Key: "sold", Value: q}}},
		{Key: "$unset", Value: bson.D{{Key: reservationKey(orderID), Value: ""}}},
	}
	res, err := r.coll.UpdateOne(ctx, filter, update)
	if err != nil {
		return false, wrap(err)
	}
	return res.MatchedCount > 0, nil
}

// Cancel gives a cancelled order's q units back once. The first write
// takes them from the reservation if it is still held; failing that, the
// second takes them from sold. Both require the release marker to be
// absent and set it, so whichever applies does so once; and the
// reservation is the only way units of an order reach sold (Sell unsets
// it), so "no reservation and no marker" for an order that was requested
// means the units were sold.
func (r *Reservations) Cancel(ctx context.Context, productID, orderID string, q int64) (*product.Product, error) {
	oid, err := bson.ObjectIDFromHex(productID)
	if err != nil {
		return nil, nil
	}
	if err := validOrderID(orderID); err != nil {
		return nil, err
	}
	mark := bson.D{{Key: releaseKey(orderID), Value: q}}
	fromReserved := bson.D{
		{Key: "$inc", Value: bson.D{{Key: "stock", Value: q}, {Key: "reserved", Value: -q}, {Key: "version", Value: int64(1)}}},
		{Key: "$unset", Value: bson.D{{Key: reservationKey(orderID), Value: ""}}},
		{Key: "$set", Value: mark},
	}
	p, err := r.findAndUpdate(ctx, bson.D{
		{Key: "_id", Value: oid},
		{Key: reservationKey(orderID), Value: q},
		{Key: releaseKey(orderID), Value: absent},
	}, fromReserved)
	if err != nil || p != nil {
		return p, err
	}
	fromSold := bson.D{
		{Key: "$inc", Value: bson.D{{Key: "stock", Value: q}, {Key: "sold", Value: -q}, {Key: "version", Value: int64(1)}}},
		{Key: "$set", Value: mark},
	}
	return r.findAndUpdate(ctx, bson.D{
		{Key: "_id", Value: oid},
		{Key: reservationKey(orderID), Value: absent},
		{Key: releaseKey(orderID), Value: absent},
		{Key: "sold", Value: bson.D{{Key: "$gte", Value: q}}},
	}, fromSold)
}

// Held lists the reservations of up to limit products holding any.
func (r *Reservations) Held(ctx context.Context, limit int) ([]product.Reservation, error) {
	cur, err := r.coll.Find(ctx, bson.D{{Key: "reserved", Value: bson.D{{Key: "$gt", Value: int64(0)}}}},
		options.Find().SetProjection(bson.D{{Key: "reservations", Value: 1}}).SetLimit(int64(limit)))
	if err != nil {
		return nil, wrap(err)
	}
	var docs []struct {
		ID           bson.ObjectID `bson:"_id"`
		Reservations bson.M        `bson:"reservations"`
	}
	if err := cur.All(ctx, &docs); err != nil {
		return nil, wrap(err)
	}
	var out []product.Reservation
	for _, d := range docs {
		for orderID, v := range d.Reservations {
			q, ok := asInt64(v)
			if !ok {
				continue
			}
			out = append(out, product.Reservation{ProductID: d.ID.Hex(), OrderID: orderID, Quantity: q})
		}
	}
	return out, nil
}

func asInt64(v any) (int64, bool) {
	switch n := v.(type) {
	case int64:
		return n, true
	case int32:
		return int64(n), true
	case float64:
		return int64(n), float64(int64(n)) == n
	}
	return 0, false
}

// findAndUpdate applies update to the document filter matches and returns
// the product as written, or nil when nothing matched.
func (r *Reservations) findAndUpdate(ctx context.Context, filter, update bson.D) (*product.Product, error) {
	var d productDoc
	err := r.coll.FindOneAndUpdate(ctx, filter, update,
		options.FindOneAndUpdate().SetReturnDocument(options.After)).Decode(&d)
	if errors.Is(err, mongo.ErrNoDocuments) {
		return nil, nil
	}
	if err != nil {
		return nil, wrap(err)
	}
	return d.product(), nil
}
