package mongodb

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/travluk/ecom/services/platform/messaging"
	"github.com/travluk/ecom/services/platform/outbox"
)

var _ outbox.AggregateStore = (*Purchases)(nil)

// Pending returns up to limit events waiting in purchases' outboxes,
// least recently written purchases first, each purchase's events by time.
func (r *Purchases) Pending(ctx context.Context, limit int) ([]outbox.Pending, error) {
	if limit <= 0 {
		return nil, nil
	}
	cur, err := r.coll.Find(ctx,
		bson.D{{Key: "outboxCount", Value: bson.D{{Key: "$gt", Value: int64(0)}}}},
		options.Find().
			SetSort(bson.D{{Key: "updatedAt", Value: 1}, {Key: "_id", Value: 1}}).
			SetLimit(int64(limit)).
			SetProjection(bson.D{{Key: "outbox", Value: 1}}))
	if err != nil {
		return nil, wrap(err)
	}
	var docs []pendingDoc
	if err := cur.All(ctx, &docs); err != nil {
		return nil, wrap(err)
	}
	return pendingEvents(docs, limit)
}

// PendingOf returns the events waiting in the outbox of the purchase
// aggregateID, by time; none when it has none or does not exist. It finds
// the purchase by _id, which every store serves from an index.
func (r *Purchases) PendingOf(ctx context.Context, aggregateID string) ([]outbox.Pending, error) {
	cur, err := r.coll.Find(ctx,
		bson.D{{Key: "_id", Value: aggregateID}},
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

// pendingDoc is what Pending and PendingOf read of a purchase.
type pendingDoc struct {
	ID     string               `bson:"_id"`
	Outbox map[string]outboxDoc `bson:"outbox"`
}

// pendingEvents returns the events of docs, each purchase's by time, up
// to limit of them (0: all).
func pendingEvents(docs []pendingDoc, limit int) ([]outbox.Pending, error) {
	var out []outbox.Pending
	for _, d := range docs {
		var events []messaging.Event
		for id, doc := range d.Outbox {
			var e messaging.Event
			if err := json.Unmarshal([]byte(doc.JSON), &e); err != nil {
				return nil, fmt.Errorf("outbox event %s of purchase %s: %w", id, d.ID, err)
			}
			events = append(events, e)
		}
		slices.SortFunc(events, func(a, b messaging.Event) int { return a.Time.Compare(b.Time) })
		for _, e := range events {
			out = append(out, outbox.Pending{AggregateID: d.ID, Event: e})
			if len(out) == limit {
				return out, nil
			}
		}
	}
	return out, nil
}

// Remove takes a published event out of its purchase's outbox. It is
// idempotent: an event already removed matches nothing, and the counter
// moves only with the event it counts.
func (r *Purchases) Remove(ctx context.Context, aggregateID, eventID string) error {
	if !validEventID(eventID) {
		return fmt.Errorf("outbox: event id %q cannot be a field name", eventID)
	}
	_, err := r.coll.UpdateOne(ctx,
		bson.D{{Key: "_id", Value: aggregateID}, {Key: "outbox." + eventID, Value: exists}},
		bson.D{
			{Key: "$unset", Value: bson.D{{Key: "outbox." + eventID, Value: ""}}},
			{Key: "$inc", Value: bson.D{{Key: "outboxCount", Value: int64(-1)}}},
		})
	if err != nil {
		return wrap(err)
	}
	return nil
}
