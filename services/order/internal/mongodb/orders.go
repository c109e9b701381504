// Package mongodb stores orders in MongoDB (or FerretDB v1): one document
// per order in the "orders" collection, under the order id as its _id, with
// the order's outbox inside it. BSON shapes live only in this package.
//
// Every write is one single-document command, so that a state change and
// the event announcing it are stored together or not at all, without
// multi-document transactions. Everything here is what MongoDB and
// FerretDB v1 both support (DESIGN §4): insert, findAndModify with $set,
// $inc, $unset and a plain one-element $push, filters with $exists, $in,
// $or and $gt, compound sorts with limit, and plain ascending compound
// indexes.
package mongodb

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/travluk/ecom/services/order/internal/order"
	"github.com/travluk/ecom/services/platform/messaging"
	"github.com/travluk/ecom/services/platform/mongoconn"
	"github.com/travluk/ecom/services/platform/outbox"
)

// EventSource is the CloudEvents source of every event the order service
// publishes.
const EventSource = "/order"

// Orders implements order.Repository, and outbox.AggregateStore for the relay.
type Orders struct {
	coll *mongo.Collection
}

var _ outbox.AggregateStore = (*Orders)(nil)

// NewOrders returns a repository over db's "orders" collection.
func NewOrders(db *mongo.Database) *Orders {
	return &Orders{coll: db.Collection("orders")}
}

// orderDoc is an order as stored. Money is in integer cents. Outbox maps
// event ids (hex, so never a dotted path) to the pending events, and
// OutboxCount counts them, so that the relay finds pending events through
// an index on it.
type orderDoc struct {
	ID              bson.ObjectID        `bson:"_id"`
	CustomerID      string               `bson:"customerId"`
	Items           []itemDoc            `bson:"items"`
	Quantity        int64                `bson:"quantity"`
	TotalCents      int64                `bson:"totalCents"`
	Currency        string               `bson:"currency"`
	Status          string               `bson:"status"`
	History         []historyDoc         `bson:"statusHistory"`
	ShippingAddress string               `bson:"shippingAddress"`
	Notes           string               `bson:"notes"`
	CreatedAt       time.Time            `bson:"createdAt"`
	UpdatedAt       time.Time            `bson:"updatedAt"`
	Outbox          map[string]outboxDoc `bson:"outbox,omitempty"`
	OutboxCount     int64                `bson:"outboxCount"`
}

type itemDoc struct {
	ProductID      string `bson:"productId"`
	Name           string `bson:"name"`
	UnitPriceCents int64  `bson:"unitPriceCents"`
	Quantity       int64  `bson:"quantity"`
	LineTotalCents int64  `bson:"lineTotalCents"`
}

type historyDoc struct {
	Status string    `bson:"status"`
	At     time.Time `bson:"at"`
	Note   string    `bson:"note,omitempty"`
}

// outboxDoc is one pending event: the CloudEvent's JSON, kept as text so
// that it is published byte for byte as it was made, and its place among
// the order's events.
type outboxDoc struct {
	Seq  int    `bson:"seq"`
	JSON string `bson:"json"`
}

// withoutOutbox is the projection of reads that serve clients. Writes
// return the whole document: FerretDB v1 does not implement a projection
// on findAndModify.
func withoutOutbox() bson.D { return bson.D{{Key: "outbox", Value: 0}} }

func (d *orderDoc) order() *order.Order {
	o := &order.Order{
		ID:              d.ID.Hex(),
		CustomerID:      d.CustomerID,
		Items:           make([]order.Item, len(d.Items)),
		Quantity:        d.Quantity,
		Total:           order.Money(d.TotalCents),
		Currency:        d.Currency,
		Status:          order.Status(d.Status),
		History:         make([]order.HistoryEntry, len(d.History)),
		ShippingAddress: d.ShippingAddress,
		Notes:           d.Notes,
		CreatedAt:       d.CreatedAt.UTC(),
		UpdatedAt:       d.UpdatedAt.UTC(),
	}
	for i, it := range d.Items {
		o.Items[i] = order.Item{ProductID: it.ProductID, Name: it.Name, UnitPrice: order.Money(it.UnitPriceCents),
			Quantity: it.Quantity, LineTotal: order.Money(it.LineTotalCents)}
	}
	for i, h := range d.History {
		o.History[i] = order.HistoryEntry{Status: order.Status(h.Status), At: h.At.UTC(), Note: h.Note}
	}
	return o
}

// outboxEntry turns a domain event of order id into the stored CloudEvent.
// ctx carries the trace the event continues.
func outboxEntry(ctx context.Context, id string, e order.Event) (eventID string, doc outboxDoc, err error) {
	ce, err := messaging.NewEvent(ctx, EventSource, e.Type, id, e.Data)
	if err != nil {
		return "", outboxDoc{}, fmt.Errorf("make %s event: %w", e.Type, err)
	}
	data, err := json.Marshal(ce)
	if err != nil {
		return "", outboxDoc{}, fmt.Errorf("encode %s event: %w", e.Type, err)
	}
	return ce.ID, outboxDoc{Seq: e.Seq, JSON: string(data)}, nil
}

// Insert stores o with events in its outbox in one insert; the order id is
// the _id, so a second insert of the same order is a duplicate key:
// order.ErrAlreadyExists, and nothing changes.
func (r *Orders) Insert(ctx context.Context, o *order.Order, events []order.Event) error {
	oid, err := bson.ObjectIDFromHex(o.ID)
	if err != nil {
		return fmt.Errorf("order id %q is not an ObjectID", o.ID)
	}
	d := orderDoc{
		ID:              oid,
		CustomerID:      o.CustomerID,
		Items:           make([]itemDoc, len(o.Items)),
		Quantity:        o.Quantity,
		TotalCents:      int64(o.Total),
		Currency:        o.Currency,
		Status:          string(o.Status),
		History:         make([]historyDoc, len(o.History)),
		ShippingAddress: o.ShippingAddress,
		Notes:           o.Notes,
		CreatedAt:       o.CreatedAt,
		UpdatedAt:       o.UpdatedAt,
		Outbox:          make(map[string]outboxDoc, len(events)),
		OutboxCount:     int64(len(events)),
	}
	for i, it := range o.Items {
		d.Items[i] = itemDoc{ProductID: it.ProductID, Name: it.Name, UnitPriceCents: int64(it.UnitPrice),
			Quantity: it.Quantity, LineTotalCents: int64(it.LineTotal)}
	}
	for i, h := range o.History {
		d.History[i] = historyDoc{Status: string(h.Status), At: h.At, Note: h.Note}
	}
	for _, e := range events {
		id, doc, err := outboxEntry(ctx, o.ID, e)
		if err != nil {
			return err
		}
		d.Outbox[id] = doc
	}
	if _, err := r.coll.InsertOne(ctx, d); err != nil {
		if mongo.IsDuplicateKeyError(err) {
			return order.ErrAlreadyExists
		}
		return wrap(err)
	}
	return nil
}

// ByID finds an order; a malformed id is simply not found.
func (r *Orders) ByID(ctx context.Context, id string) (*order.Order, error) {
	oid, err := bson.ObjectIDFromHex(id)
	if err != nil {
		return nil, order.ErrNotFound
	}
	var d orderDoc
	err = r.coll.FindOne(ctx, bson.D{{Key: "_id", Value: oid}}, options.FindOne().SetProjection(withoutOutbox())).Decode(&d)
	if err != nil {
		return nil, wrap(err)
	}
	return d.order(), nil
}

// List runs q as one find sorted newest first by (createdAt, _id) with a
// limit. Paging is by key: the filter starts strictly after the cursor's
// (createdAt, _id), so every page costs the same and orders created
// meanwhile never make another repeat or go missing.
func (r *Orders) List(ctx context.Context, q order.ListQuery) ([]*order.Order, error) {
	filter := bson.D{}
	if q.CustomerID != "" {
		filter = append(filter, bson.E{Key: "customerId", Value: q.CustomerID})
	}
	if q.Status != "" {
		filter = append(filter, bson.E{Key: "status", Value: string(q.Status)})
	}
	if q.After != nil {
		oid, err := bson.ObjectIDFromHex(q.After.ID)
		if err != nil {
			return nil, order.InvalidCursor()
		}
		filter = append(filter, bson.E{Key: "$or", Value: bson.A{
			bson.D{{Key: "createdAt", Value: bson.D{{Key: "$lt", Value: q.After.CreatedAt}}}},
			bson.D{{Key: "createdAt", Value: q.After.CreatedAt}, {Key: "_id", Value: bson.D{{Key: "$lt", Value: oid}}}},
		}})
	}
	opts := options.Find().
		SetSort(bson.D{{Key: "createdAt", Value: -1}, {Key: "_id", Value: -1}}).
		SetLimit(int64(q.Limit)).
		SetProjection(withoutOutbox())
	cur, err := r.coll.Find(ctx, filter, opts)
	if err != nil {
		return nil, wrap(err)
	}
	var docs []orderDoc
	if err := cur.All(ctx, &docs); err != nil {
		return nil, wrap(err)
	}
	out := make([]*order.Order, len(docs))
	for i := range docs {
		out[i] = docs[i].order()
	}
	return out, nil
}

// ChangeStatus is one findAndModify filtered on the order's current
// status: it sets the new status, pushes the history entry (a plain
// one-element $push, which FerretDB v1 supports), and adds the event to
// the outbox. Of two concurrent changes from the same status, the store
// applies one; the other matches nothing.
func (r *Orders) ChangeStatus(ctx context.Context, id string, from order.Status, entry order.HistoryEntry, event *order.Event) (*order.Order, error) {
	oid, err := bson.ObjectIDFromHex(id)
	if err != nil {
		return nil, order.ErrNotFound
	}
	set := bson.D{{Key: "status", Value: string(entry.Status)}, {Key: "updatedAt", Value: entry.At}}
	update := bson.D{
		{Key: "$push", Value: bson.D{{Key: "statusHistory", Value: historyDoc{Status: string(entry.Status), At: entry.At, Note: entry.Note}}}},
	}
	if event != nil {
		eventID, doc, err := outboxEntry(ctx, id, *event)
		if err != nil {
			return nil, err
		}
		set = append(set, bson.E{Key: "outbox." + eventID, Value: doc})
		update = append(update, bson.E{Key: "$inc", Value: bson.D{{Key: "outboxCount", Value: int64(1)}}})
	}
	update = append(update, bson.E{Key: "$set", Value: set})
	var d orderDoc
	err = r.coll.FindOneAndUpdate(ctx,
		bson.D{{Key: "_id", Value: oid}, {Key: "status", Value: string(from)}},
		update,
		options.FindOneAndUpdate().SetReturnDocument(options.After),
	).Decode(&d)
	if errors.Is(err, mongo.ErrNoDocuments) {
		if _, err := r.ByID(ctx, id); err != nil {
			return nil, err
		}
		return nil, order.ErrStatusChanged
	}
	if err != nil {
		return nil, wrap(err)
	}
	return d.order(), nil
}

// openStatuses are the statuses in which details may still change.
func openStatuses() bson.A {
	var open bson.A
	for _, s := range order.Statuses() {
		if s.BeforeShipping() {
			open = append(open, string(s))
		}
	}
	return open
}

// UpdateDetails is one findAndModify filtered on the order being before
// shipping, so that a change racing with shipping never lands after it.
func (r *Orders) UpdateDetails(ctx context.Context, id string, det order.Details, at time.Time) (*order.Order, error) {
	oid, err := bson.ObjectIDFromHex(id)
	if err != nil {
		return nil, order.ErrNotFound
	}
	set := bson.D{{Key: "updatedAt", Value: at}}
	if det.ShippingAddress != nil {
		set = append(set, bson.E{Key: "shippingAddress", Value: *det.ShippingAddress})
	}
	if det.Notes != nil {
		set = append(set, bson.E{Key: "notes", Value: *det.Notes})
	}
	var d orderDoc
	err = r.coll.FindOneAndUpdate(ctx,
		bson.D{{Key: "_id", Value: oid}, {Key: "status", Value: bson.D{{Key: "$in", Value: openStatuses()}}}},
		bson.D{{Key: "$set", Value: set}},
		options.FindOneAndUpdate().SetReturnDocument(options.After),
	).Decode(&d)
	if errors.Is(err, mongo.ErrNoDocuments) {
		if _, err := r.ByID(ctx, id); err != nil {
			return nil, err
		}
		return nil, order.ErrAlreadyShipped
	}
	if err != nil {
		return nil, wrap(err)
	}
	return d.order(), nil
}

// Pending returns up to limit events waiting in outboxes: orders with
// events, least recently written first, and each order's events in the
// order they were appended.
func (r *Orders) Pending(ctx context.Context, limit int) ([]outbox.Pending, error) {
	if limit <= 0 {
		return nil, nil
	}
	cur, err := r.coll.Find(ctx,
		bson.D{{Key: "outboxCount", Value: bson.D{{Key: "$gt", Value: int64(0)}}}},
		options.Find().
			SetSort(bson.D{{Key: "updatedAt", Value: 1}, {Key: "_id", Value: 1}}).
			SetLimit(int64(limit)).
			SetProjection(bson.D{{Key: "outbox", Value: 1}, {Key: "updatedAt", Value: 1}}))
	if err != nil {
		return nil, wrap(err)
	}
	var docs []pendingDoc
	if err := cur.All(ctx, &docs); err != nil {
		return nil, wrap(err)
	}
	return pendingEvents(docs, limit)
}

// PendingOf returns the events waiting in the outbox of the order
// aggregateID, in the order they were appended; none when it has none or
// does not exist. It finds the order by _id, which every store serves
// from an index.
func (r *Orders) PendingOf(ctx context.Context, aggregateID string) ([]outbox.Pending, error) {
	oid, err := bson.ObjectIDFromHex(aggregateID)
	if err != nil {
		return nil, fmt.Errorf("outbox: order id %q is not an ObjectID", aggregateID)
	}
	cur, err := r.coll.Find(ctx,
		bson.D{{Key: "_id", Value: oid}},
		options.Find().SetProjection(bson.D{{Key: "outbox", Value: 1}}))
	if err != nil {
		return nil, wrap(err)
	}
	var docs []pendingDoc
	if err := cur.All(ctx, &docs); err != nil {
		return nil, wrap(err)
	}
	return pendingEvents(docs, 0)
}

// pendingDoc is what Pending and PendingOf read of an order.
type pendingDoc struct {
	ID     bson.ObjectID        `bson:"_id"`
	Outbox map[string]outboxDoc `bson:"outbox"`
}

// pendingEvents returns the events of docs, each order's in the order
// they were appended, up to limit of them (0: all).
func pendingEvents(docs []pendingDoc, limit int) ([]outbox.Pending, error) {
	var out []outbox.Pending
	for _, d := range docs {
		type entry struct {
			id  string
			doc outboxDoc
		}
		var entries []entry
		for id, doc := range d.Outbox {
			entries = append(entries, entry{id, doc})
		}
		slices.SortFunc(entries, func(a, b entry) int { return a.doc.Seq - b.doc.Seq })
		for _, e := range entries {
			var ev messaging.Event
			if err := json.Unmarshal([]byte(e.doc.JSON), &ev); err != nil {
				return nil, fmt.Errorf("outbox event %s of order %s: %w", e.id, d.ID.Hex(), err)
			}
			out = append(out, outbox.Pending{AggregateID: d.ID.Hex(), Event: ev})
			if len(out) == limit {
				return out, nil
			}
		}
	}
	return out, nil
}

// Remove takes a published event out of its order's outbox. It is
// idempotent: an event already removed matches nothing, and the counter
// moves only with the event it counts.
func (r *Orders) Remove(ctx context.Context, aggregateID, eventID string) error {
	oid, err := bson.ObjectIDFromHex(aggregateID)
	if err != nil {
		return fmt.Errorf("outbox: order id %q is not an ObjectID", aggregateID)
	}
	_, err = r.coll.UpdateOne(ctx,
		bson.D{{Key: "_id", Value: oid}, {Key: "outbox." + eventID, Value: bson.D{{Key: "$exists", Value: true}}}},
		bson.D{
			{Key: "$unset", Value: bson.D{{Key: "outbox." + eventID, Value: ""}}},
			{Key: "$inc", Value: bson.D{{Key: "outboxCount", Value: int64(-1)}}},
		})
	return wrap(err)
}

// wrap turns driver errors into the core's: no document is ErrNotFound,
// and an unreachable or silent server is ErrUnavailable.
func wrap(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, mongo.ErrNoDocuments):
		return order.ErrNotFound
	case mongoconn.Unavailable(err):
		return fmt.Errorf("%w: mongodb: %w", order.ErrUnavailable, err)
	}
	return fmt.Errorf("mongodb: %w", err)
}
