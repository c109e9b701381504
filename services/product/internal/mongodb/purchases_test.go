package mongodb

import (
	"context"
	"errors"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/travluk/ecom/services/product/internal/product"
)

func newKeyedPurchase(customerID, key string) *product.Purchase {
	now := time.Now().UTC().Truncate(time.Millisecond)
	return &product.Purchase{
		CustomerID: customerID, IdempotencyKey: key, BodyHash: "h",
		Lines:  []product.PurchaseLine{{ProductID: bson.NewObjectID().Hex(), Quantity: 1}},
		Status: product.StatusReserving, CreatedAt: now, UpdatedAt: now,
	}
}

// TestByKeyThroughKeyDocuments proves that the look-up by _id finds what
// the unique index binds, whatever state the key documents are in: fresh,
// absent (purchases from before them), stale after a lost race or a crash
// between Create's two writes, and after Forget.
func TestByKeyThroughKeyDocuments(t *testing.T) {
	ctx := context.Background()
	_, db := newRepo(t)
	r := NewPurchases(db)
	if err := r.EnsureIndexes(ctx); err != nil {
		t.Fatal(err)
	}
	mustByKey := func(customerID, key, wantOrderID string) {
		t.Helper()
		p, err := r.ByKey(ctx, customerID, key)
		if err != nil {
			t.Fatalf("ByKey(%s, %s): %v", customerID, key, err)
		}
		if p.OrderID != wantOrderID || p.CustomerID != customerID || p.IdempotencyKey != key {
			t.Fatalf("ByKey(%s, %s) = %s/%s/%s, want order %s", customerID, key, p.OrderID, p.CustomerID, p.IdempotencyKey, wantOrderID)
		}
	}
	mustNotFound := func(customerID, key string) {
		t.Helper()
		if _, err := r.ByKey(ctx, customerID, key); !errors.Is(err, product.ErrPurchaseNotFound) {
			t.Fatalf("ByKey(%s, %s) = %v, want ErrPurchaseNotFound", customerID, key, err)
		}
	}

	// Fresh: found; another customer's same key and a no-key purchase are
	// not.
	mustNotFound("c1", "k1")
	a := newKeyedPurchase("c1", "k1")
	if err := r.Create(ctx, a); err != nil {
		t.Fatal(err)
	}
	mustByKey("c1", "k1", a.OrderID)
	mustNotFound("c2", "k1")
	mustNotFound("c1", "k2")
	if err := r.Create(ctx, newKeyedPurchase("c1", "")); err != nil {
		t.Fatal(err)
	}

	// The loser of a race for the key points the key document at an
	// order that was never inserted: the look-up still finds the winner,
	// and repairs the pointer.
	if err := r.Create(ctx, newKeyedPurchase("c1", "k1")); !errors.Is(err, product.ErrPurchaseExists) {
		t.Fatalf("second Create under k1 = %v, want ErrPurchaseExists", err)
	}
	mustByKey("c1", "k1", a.OrderID)
	var k keyDoc
	if err := r.keys.FindOne(ctx, bson.D{{Key: "_id", Value: keyID("c1", "k1")}}).Decode(&k); err != nil {
		t.Fatal(err)
	}
	if k.OrderID != a.OrderID {
		t.Fatalf("key document names %s after the look-up, want %s", k.OrderID, a.OrderID)
	}

	// A crash between the two writes of Create: a pointer, no purchase.
	if err := r.point(ctx, "c3", "k3", bson.NewObjectID().Hex(), time.Now()); err != nil {
		t.Fatal(err)
	}
	mustNotFound("c3", "k3")
	c := newKeyedPurchase("c3", "k3")
	if err := r.Create(ctx, c); err != nil {
		t.Fatal(err)
	}
	mustByKey("c3", "k3", c.OrderID)

	// A purchase from before key documents: not found until Create runs
	// into it, found from then on.
	legacy := purchaseDoc{ID: bson.NewObjectID().Hex(), CustomerID: "c4", IdempotencyKey: "k:k4", BodyHash: "h",
		Status: string(product.StatusRequested), CreatedAt: time.Now(), UpdatedAt: time.Now()}
	if _, err := r.coll.InsertOne(ctx, legacy); err != nil {
		t.Fatal(err)
	}
	if err := r.Create(ctx, newKeyedPurchase("c4", "k4")); !errors.Is(err, product.ErrPurchaseExists) {
		t.Fatalf("Create over a legacy purchase = %v, want ErrPurchaseExists", err)
	}
	mustByKey("c4", "k4", legacy.ID)

	// Forget, then a new attempt under the same key.
	f := newKeyedPurchase("c5", "k5")
	if err := r.Create(ctx, f); err != nil {
		t.Fatal(err)
	}
	if err := r.Reject(ctx, f.OrderID, product.RejectFailed, "", time.Now()); err != nil {
		t.Fatal(err)
	}
	if err := r.Forget(ctx, f.OrderID); err != nil {
		t.Fatal(err)
	}
	mustNotFound("c5", "k5")
	g := newKeyedPurchase("c5", "k5")
	if err := r.Create(ctx, g); err != nil {
		t.Fatal(err)
	}
	if g.OrderID == f.OrderID {
		t.Fatal("a new attempt reused the forgotten order id")
	}
	mustByKey("c5", "k5", g.OrderID)

	// Length-prefixed: ("ab", "c") and ("a", "bc") are different keys.
	if keyID("ab", "c") == keyID("a", "bc") {
		t.Fatal("keyID confuses customer and key")
	}
}
