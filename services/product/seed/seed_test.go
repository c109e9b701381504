package seed

import (
	"context"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/travluk/ecom/dev/testenv"
	"github.com/travluk/ecom/services/product/internal/mongodb"
)

func TestCatalogIsDeterministicAndVaried(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	a, err := Catalog(DefaultCount, now)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := Catalog(DefaultCount, now)
	if diff := cmp.Diff(a, b); diff != "" {
		t.Fatalf("two catalogs differ:\n%s", diff)
	}
	names := map[string]bool{}
	categories := map[any]bool{}
	soldOut, withCents := 0, 0
	for _, p := range a {
		if names[p.Name] {
			t.Errorf("name %q repeats", p.Name)
		}
		names[p.Name] = true
		categories[p.Attributes["category"]] = true
		if p.Stock == 0 {
			soldOut++
		}
		if p.Price%100 != 0 {
			withCents++
		}
	}
	if len(categories) < 5 || soldOut == 0 || soldOut > len(a)/4 || withCents < len(a)/2 {
		t.Errorf("catalog not varied: %d categories, %d sold out, %d with cents", len(categories), soldOut, withCents)
	}
}

func TestLoadIsIdempotent(t *testing.T) {
	ctx := context.Background()
	client, err := mongo.Connect(options.Client().ApplyURI(testenv.Mongo(t)))
	if err != nil {
		t.Fatal(err)
	}
	defer client.Disconnect(ctx)
	db := client.Database(testenv.Database(t))
	n, err := Load(ctx, db, 40)
	if err != nil || n != 40 {
		t.Fatalf("first Load = %d, %v; want 40", n, err)
	}
	n, err = Load(ctx, db, 40)
	if err != nil || n != 0 {
		t.Fatalf("second Load = %d, %v; want 0", n, err)
	}
	if count, _ := mongodb.NewProducts(db).Count(ctx); count != 40 {
		t.Errorf("%d products after two loads, want 40", count)
	}
}
