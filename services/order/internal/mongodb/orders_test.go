package mongodb_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/travluk/ecom/dev/testenv"
	"github.com/travluk/ecom/services/order/internal/mongodb"
	"github.com/travluk/ecom/services/order/internal/order"
)

func repo(t *testing.T) (*mongodb.Orders, *mongo.Database) {
	t.Helper()
	client, err := mongo.Connect(options.Client().ApplyURI(testenv.Mongo(t)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = client.Disconnect(context.Background()) })
	db := client.Database(testenv.Database(t))
	r := mongodb.NewOrders(db)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for range 2 { // idempotent
		if err := r.EnsureIndexes(ctx); err != nil {
			t.Fatal(err)
		}
	}
	return r, db
}

var t0 = time.Date(2026, 1, 2, 3, 4, 5, 6_000_000, time.UTC)

func newOrder(id, customer string, created time.Time) *order.Order {
	return &order.Order{
		ID: id, CustomerID: customer, Currency: "EUR", Status: order.Confirmed,
		Items: []order.Item{
			{ProductID: "p1", Name: "Mug", UnitPrice: 999, Quantity: 2, LineTotal: 1998},
			{ProductID: "p2", Name: "Lamp", UnitPrice: 1, Quantity: 1, LineTotal: 1},
		},
		Quantity: 3, Total: 1999,
		History:   []order.HistoryEntry{{Status: order.Confirmed, At: created}},
		CreatedAt: created, UpdatedAt: created,
	}
}

func confirmed(o *order.Order) []order.Event {
	return []order.Event{{Type: order.EventConfirmed, Data: map[string]any{"orderId": o.ID}}}
}

func oid(i int) string { return fmt.Sprintf("%024x", i) }

func TestInsertAndRead(t *testing.T) {
	ctx := context.Background()
	r, _ := repo(t)
	o := newOrder(oid(1), "ada", t0)
	if err := r.Insert(ctx, o, confirmed(o)); err != nil {
		t.Fatal(err)
	}
	got, err := r.ByID(ctx, o.ID)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(o, got); diff != "" {
		t.Errorf("(-stored +read):\n%s", diff)
	}
	// A second insert of the same order (a redelivered order.requested)
	// is ErrAlreadyExists and adds no event.
	if err := r.Insert(ctx, newOrder(oid(1), "eve", t0), confirmed(o)); !errors.Is(err, order.ErrAlreadyExists) {
		t.Errorf("second insert: err = %v, want ErrAlreadyExists", err)
	}
	if p, _ := r.Pending(ctx, 10); len(p) != 1 {
		t.Errorf("pending after a duplicate insert = %d, want 1", len(p))
	}
	for _, id := range []string{oid(99), "not-an-id", "", "../x"} {
		if _, err := r.ByID(ctx, id); !errors.Is(err, order.ErrNotFound) {
			t.Errorf("ByID(%q) err = %v", id, err)
		}
		if _, err := r.ChangeStatus(ctx, id, order.Confirmed, order.HistoryEntry{Status: order.Processing, At: t0}, nil); !errors.Is(err, order.ErrNotFound) {
			t.Errorf("ChangeStatus(%q) err = %v", id, err)
		}
		if _, err := r.UpdateDetails(ctx, id, order.Details{}, t0); !errors.Is(err, order.ErrNotFound) {
			t.Errorf("UpdateDetails(%q) err = %v", id, err)
		}
	}
}

// TestChangeStatus: the move, its history entry (a one-element $push,
// which FerretDB v1 applies) and its event land in one write, only from
// the expected status.
func TestChangeStatus(t *testing.T) {
	ctx := context.Background()
	r, _ := repo(t)
	o := newOrder(oid(1), "ada", t0)
	if err := r.Insert(ctx, o, confirmed(o)); err != nil {
		t.Fatal(err)
	}
	t1, t2 := t0.Add(time.Second), t0.Add(2*time.Second)
	got, err := r.ChangeStatus(ctx, o.ID, order.Confirmed, order.HistoryEntry{Status: order.Processing, At: t1, Note: "picking"}, nil)
	if err != nil || got.Status != order.Processing || len(got.History) != 2 {
		t.Fatalf("first move: %+v, %v", got, err)
	}
	cancel := &order.Event{Type: order.EventCancelled, Seq: 2, Data: map[string]any{"orderId": o.ID}}
	if _, err := r.ChangeStatus(ctx, o.ID, order.Confirmed, order.HistoryEntry{Status: order.Cancelled, At: t2}, cancel); !errors.Is(err, order.ErrStatusChanged) {
		t.Fatalf("move from a stale status: err = %v, want ErrStatusChanged", err)
	}
	got, err = r.ChangeStatus(ctx, o.ID, order.Processing, order.HistoryEntry{Status: order.Cancelled, At: t2, Note: "changed my mind"}, cancel)
	if err != nil {
		t.Fatal(err)
	}
	want := []order.HistoryEntry{{Status: order.Confirmed, At: t0}, {Status: order.Processing, At: t1, Note: "picking"}, {Status: order.Cancelled, At: t2, Note: "changed my mind"}}
	if diff := cmp.Diff(want, got.History); diff != "" || got.Status != order.Cancelled || !got.UpdatedAt.Equal(t2) {
		t.Errorf("after two moves: status %s, updatedAt %v, history (-want +got):\n%s", got.Status, got.UpdatedAt, diff)
	}
	read, _ := r.ByID(ctx, o.ID)
	if diff := cmp.Diff(got, read); diff != "" {
		t.Errorf("returned differs from stored:\n%s", diff)
	}
	// Both events wait in the outbox, in the order they were appended.
	pending, err := r.Pending(ctx, 10)
	if err != nil {
		t.Fatal(err)
	}
	var types []string
	for _, p := range pending {
		types = append(types, p.Event.Type)
		if p.AggregateID != o.ID || p.Event.Subject != o.ID || p.Event.Source != mongodb.EventSource || p.Event.Validate() != nil {
			t.Errorf("pending event = %+v", p)
		}
	}
	if diff := cmp.Diff([]string{order.EventConfirmed, order.EventCancelled}, types); diff != "" {
		t.Errorf("pending types (-want +got):\n%s", diff)
	}
}

// TestConcurrentStatusChanges races conflicting moves from the same
// status: exactly one wins, the history has exactly one new entry, and at
// most one event was appended.
func TestConcurrentStatusChanges(t *testing.T) {
	ctx := context.Background()
	r, _ := repo(t)
	for round := range 5 {
		o := newOrder(oid(round+1), "ada", t0)
		if err := r.Insert(ctx, o, nil); err != nil {
			t.Fatal(err)
		}
		const racers = 16
		var (
			wg   sync.WaitGroup
			mu   sync.Mutex
			wins []order.Status
		)
		for i := range racers {
			to := order.Processing
			var ev *order.Event
			if i%2 == 1 {
				to = order.Cancelled
				ev = &order.Event{Type: order.EventCancelled, Seq: 1, Data: map[string]any{"racer": i}}
			}
			wg.Go(func() {
				_, err := r.ChangeStatus(ctx, o.ID, order.Confirmed, order.HistoryEntry{Status: to, At: t0.Add(time.Second)}, ev)
				switch {
				case err == nil:
					mu.Lock()
					wins = append(wins, to)
					mu.Unlock()
				case !errors.Is(err, order.ErrStatusChanged):
					t.Errorf("racer %d: %v", i, err)
				}
			})
		}
		wg.Wait()
		got, _ := r.ByID(ctx, o.ID)
		if len(wins) != 1 || len(got.History) != 2 || got.Status != wins[0] {
			t.Fatalf("round %d: wins %v, stored status %s with %d history entries", round, wins, got.Status, len(got.History))
		}
		pending, _ := r.Pending(ctx, 100)
		want := 0
		if wins[0] == order.Cancelled {
			want = 1
		}
		if len(pending) != want {
			t.Errorf("round %d: %d events pending after %s won, want %d", round, len(pending), wins[0], want)
		}
		for _, p := range pending {
			if err := r.Remove(ctx, p.AggregateID, p.Event.ID); err != nil {
				t.Fatal(err)
			}
		}
	}
}

func TestUpdateDetails(t *testing.T) {
	ctx := context.Background()
	r, _ := repo(t)
	o := newOrder(oid(1), "ada", t0)
	if err := r.Insert(ctx, o, nil); err != nil {
		t.Fatal(err)
	}
	addr, notes := "1 Loop St", "ring twice"
	t1 := t0.Add(time.Minute)
	got, err := r.UpdateDetails(ctx, o.ID, order.Details{ShippingAddress: &addr}, t1)
	if err != nil || got.ShippingAddress != addr || got.Notes != "" || !got.UpdatedAt.Equal(t1) {
		t.Fatalf("address only: %+v, %v", got, err)
	}
	got, err = r.UpdateDetails(ctx, o.ID, order.Details{Notes: &notes}, t1)
	if err != nil || got.ShippingAddress != addr || got.Notes != notes {
		t.Fatalf("notes only: %+v, %v", got, err)
	}
	for _, s := range []order.Status{order.Processing, order.Shipped} {
		if _, err := r.ChangeStatus(ctx, o.ID, got.Status, order.HistoryEntry{Status: s, At: t1}, nil); err != nil {
			t.Fatal(err)
		}
		got.Status = s
	}
	other := "elsewhere"
	if _, err := r.UpdateDetails(ctx, o.ID, order.Details{ShippingAddress: &other}, t1); !errors.Is(err, order.ErrAlreadyShipped) {
		t.Errorf("after shipping: err = %v, want ErrAlreadyShipped", err)
	}
	if read, _ := r.ByID(ctx, o.ID); read.ShippingAddress != addr {
		t.Errorf("address changed after shipping: %q", read.ShippingAddress)
	}
}

// TestList pages through every filter newest first, with ties on
// createdAt broken by id, and never shows an order twice.
func TestList(t *testing.T) {
	ctx := context.Background()
	r, _ := repo(t)
	var all []*order.Order
	for i := range 25 {
		customer := []string{"ada", "bob"}[i%2]
		// Three orders per millisecond: ties are common.
		o := newOrder(oid(i+1), customer, t0.Add(time.Duration(i/3)*time.Millisecond))
		if err := r.Insert(ctx, o, nil); err != nil {
			t.Fatal(err)
		}
		if i%5 == 0 {
			if _, err := r.ChangeStatus(ctx, o.ID, order.Confirmed, order.HistoryEntry{Status: order.Cancelled, At: t0}, nil); err != nil {
				t.Fatal(err)
			}
			o.Status = order.Cancelled
		}
		all = append(all, o)
	}
	newestFirst := func(keep func(*order.Order) bool) []string {
		var ids []string
		for i := len(all) - 1; i >= 0; i-- {
			if keep(all[i]) {
				ids = append(ids, all[i].ID)
			}
		}
		return ids
	}
	tests := []struct {
		name string
		q    order.ListQuery
		want []string
	}{
		{"all", order.ListQuery{}, newestFirst(func(*order.Order) bool { return true })},
		{"one customer", order.ListQuery{CustomerID: "ada"}, newestFirst(func(o *order.Order) bool { return o.CustomerID == "ada" })},
		{"one status", order.ListQuery{Status: order.Cancelled}, newestFirst(func(o *order.Order) bool { return o.Status == order.Cancelled })},
		{"both", order.ListQuery{CustomerID: "bob", Status: order.Confirmed}, newestFirst(func(o *order.Order) bool {
			return o.CustomerID == "bob" && o.Status == order.Confirmed
		})},
		{"nobody", order.ListQuery{CustomerID: "zed"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got []string
			q := tt.q
			q.Limit = 4
			for pages := 0; ; pages++ {
				if pages > 20 {
					t.Fatal("paging does not end")
				}
				page, err := r.List(ctx, q)
				if err != nil {
					t.Fatal(err)
				}
				for _, o := range page {
					got = append(got, o.ID)
				}
				if len(page) < q.Limit {
					break
				}
				last := page[len(page)-1]
				q.After = &order.Cursor{CreatedAt: last.CreatedAt, ID: last.ID}
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
	if _, err := r.List(ctx, order.ListQuery{Limit: 1, After: &order.Cursor{CreatedAt: t0, ID: "zz"}}); err == nil {
		t.Error("a cursor with a malformed id was accepted")
	}
}

// TestOutbox is the relay's view: pending events oldest order first and
// in append order within an order, each a valid CloudEvent as made;
// Remove is idempotent and keeps the counter true.
func TestOutbox(t *testing.T) {
	ctx := context.Background()
	r, db := repo(t)
	var ids []string
	for i := range 3 {
		o := newOrder(oid(i+1), "ada", t0.Add(time.Duration(i)*time.Second))
		if err := r.Insert(ctx, o, confirmed(o)); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, o.ID)
	}
	first, err := r.Pending(ctx, 2)
	if err != nil {
		t.Fatal(err)
	}
	if len(first) != 2 || first[0].AggregateID != ids[0] || first[1].AggregateID != ids[1] {
		t.Fatalf("Pending(2) = %+v", first)
	}
	var data map[string]string
	if err := json.Unmarshal(first[0].Event.Data, &data); err != nil || data["orderId"] != ids[0] || first[0].Event.Type != order.EventConfirmed {
		t.Errorf("event = %+v (data %v)", first[0].Event, err)
	}
	for range 2 {
		if err := r.Remove(ctx, first[0].AggregateID, first[0].Event.ID); err != nil {
			t.Fatal(err)
		}
	}
	if err := r.Remove(ctx, ids[1], "0123456789abcdef"); err != nil {
		t.Errorf("removing an unknown event: %v", err)
	}
	var doc struct {
		Count  int64          `bson:"outboxCount"`
		Outbox map[string]any `bson:"outbox"`
	}
	objID, _ := bson.ObjectIDFromHex(ids[0])
	if err := db.Collection("orders").FindOne(ctx, bson.D{{Key: "_id", Value: objID}}).Decode(&doc); err != nil {
		t.Fatal(err)
	}
	if doc.Count != 0 || len(doc.Outbox) != 0 {
		t.Errorf("after removing twice: outboxCount %d, outbox %v", doc.Count, doc.Outbox)
	}
	rest, _ := r.Pending(ctx, 10)
	if len(rest) != 2 || rest[0].AggregateID != ids[1] || rest[1].AggregateID != ids[2] {
		t.Errorf("pending after removal = %+v", rest)
	}
	if p, err := r.Pending(ctx, 0); err != nil || len(p) != 0 {
		t.Errorf("Pending(0) = %v, %v", p, err)
	}
	if p, err := r.PendingOf(ctx, ids[1]); err != nil || len(p) != 1 || p[0].AggregateID != ids[1] || p[0].Event.ID != rest[0].Event.ID {
		t.Errorf("PendingOf(%s) = %+v, %v; want its one event", ids[1], p, err)
	}
	for _, id := range []string{ids[0], oid(9)} {
		if p, err := r.PendingOf(ctx, id); err != nil || len(p) != 0 {
			t.Errorf("PendingOf(%s) = %+v, %v; want none (emptied, or no such order)", id, p, err)
		}
	}
	if _, err := r.PendingOf(ctx, "zz"); err == nil {
		t.Error("PendingOf with a malformed id succeeded")
	}
}
