package mongodb

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/travluk/ecom/dev/testenv"
	"github.com/travluk/ecom/services/product/internal/product"
)

// TestEverySortHasAnIndex proves that no supported order needs an
// in-memory sort or collection scan on MongoDB: each has an index whose
// keys are exactly its sort keys (key, then _id), all in the sort's
// direction or all reversed, which MongoDB walks backwards.
func TestEverySortHasAnIndex(t *testing.T) {
	for _, s := range product.Sorts() {
		t.Run(string(s), func(t *testing.T) {
			spec := sortSpec(s)
			if last := spec[len(spec)-1]; last.Key != "_id" {
				t.Fatalf("sort %v does not end with _id, so ties are not broken", spec)
			}
			for _, idx := range indexes() {
				keys := idx.Keys.(bson.D)
				if len(keys) != len(spec) {
					continue
				}
				forward, backward := true, true
				for i := range keys {
					forward = forward && keys[i].Key == spec[i].Key && keys[i].Value == spec[i].Value
					backward = backward && keys[i].Key == spec[i].Key && keys[i].Value == -spec[i].Value.(int)
				}
				if forward || backward {
					return
				}
			}
			t.Errorf("no index serves sort %v", spec)
		})
	}
}

func newRepo(t *testing.T) (*Products, *mongo.Database) {
	t.Helper()
	ctx := context.Background()
	client, err := mongo.Connect(options.Client().ApplyURI(testenv.Mongo(t)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = client.Disconnect(context.Background()) })
	db := client.Database(testenv.Database(t))
	r := NewProducts(db)
	if err := r.EnsureIndexes(ctx); err != nil {
		t.Fatalf("EnsureIndexes: %v", err)
	}
	if err := r.EnsureIndexes(ctx); err != nil {
		t.Fatalf("EnsureIndexes a second time: %v", err)
	}
	return r, db
}

func mustCreate(t *testing.T, r *Products, name string, cents int64, stock int64, created time.Time) *product.Product {
	t.Helper()
	p := &product.Product{Name: name, Description: "about " + name, Price: product.Money(cents), Stock: stock,
		Attributes: product.Attributes{"colour": "red", "weight.kg": 1.5, "count": int64(3), "$odd": true},
		CreatedAt:  created.UTC().Truncate(time.Millisecond), UpdatedAt: created.UTC().Truncate(time.Millisecond), Version: 1}
	if err := r.Create(context.Background(), p); err != nil {
		t.Fatalf("Create: %v", err)
	}
	return p
}

func TestIndexesCreated(t *testing.T) {
	r, _ := newRepo(t)
	cur, err := r.coll.Indexes().List(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	var got []struct {
		Name string `bson:"name"`
	}
	if err := cur.All(context.Background(), &got); err != nil {
		t.Fatal(err)
	}
	for _, want := range indexes() {
		name := *optionsName(want)
		if !slices.ContainsFunc(got, func(g struct {
			Name string `bson:"name"`
		}) bool {
			return g.Name == name
		}) {
			t.Errorf("index %s missing; have %v", name, got)
		}
	}
}

func optionsName(m mongo.IndexModel) *string {
	var o options.IndexOptions
	for _, set := range m.Options.List() {
		_ = set(&o)
	}
	return o.Name
}

func TestCreateAndByID(t *testing.T) {
	r, _ := newRepo(t)
	ctx := context.Background()
	p := mustCreate(t, r, "Lamp", 1999, 5, time.Now())
	got, err := r.ByID(ctx, p.ID)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(p, got); diff != "" {
		t.Errorf("read back differs (-created +read):\n%s", diff)
	}
	for _, id := range []string{"nope", bson.NewObjectID().Hex(), ""} {
		if _, err := r.ByID(ctx, id); !errors.Is(err, product.ErrNotFound) {
			t.Errorf("ByID(%q) = %v, want ErrNotFound", id, err)
		}
	}
}

func TestUpdateAndDeletePreconditions(t *testing.T) {
	r, _ := newRepo(t)
	ctx := context.Background()
	p := mustCreate(t, r, "Mug", 500, 1, time.Now())
	price := product.Money(650)
	name := "Big Mug"
	got, err := r.Update(ctx, p.ID, product.Patch{Price: &price, Name: &name, UpdatedAt: time.Now()}, []int64{1})
	if err != nil {
		t.Fatal(err)
	}
	if got.Version != 2 || got.Price != 650 || got.Name != "Big Mug" || got.Stock != 1 {
		t.Errorf("after update: %+v", got)
	}
	if _, err := r.Update(ctx, p.ID, product.Patch{Price: &price}, []int64{1}); !errors.Is(err, product.ErrPreconditionFailed) {
		t.Errorf("stale update = %v, want ErrPreconditionFailed", err)
	}
	if _, err := r.Update(ctx, bson.NewObjectID().Hex(), product.Patch{Price: &price}, []int64{1}); !errors.Is(err, product.ErrNotFound) {
		t.Errorf("update of unknown = %v, want ErrNotFound", err)
	}
	if err := r.Delete(ctx, p.ID, []int64{1}); !errors.Is(err, product.ErrPreconditionFailed) {
		t.Errorf("stale delete = %v, want ErrPreconditionFailed", err)
	}
	if err := r.Delete(ctx, p.ID, []int64{2}); err != nil {
		t.Errorf("delete: %v", err)
	}
	if err := r.Delete(ctx, p.ID, nil); !errors.Is(err, product.ErrNotFound) {
		t.Errorf("second delete = %v, want ErrNotFound", err)
	}
}

// TestCompoundSortWithLimit answers whether FerretDB v1 honours a compound
// sort with a limit, on every supported order, including ties on the key
// (broken by _id) and keyset conditions on both.
func TestCompoundSortWithLimit(t *testing.T) {
	r, _ := newRepo(t)
	ctx := context.Background()
	base := time.Now().Add(-time.Hour)
	var all []*product.Product
	for i := range 30 {
		// Few distinct prices, names and times, so that ties are common.
		all = append(all, mustCreate(t, r, fmt.Sprintf("%c item", "aBcD"[i%4]), int64(100*(i%3+1)), int64(i%2), base.Add(time.Duration(i%5)*time.Second)))
	}
	for _, s := range product.Sorts() {
		t.Run(string(s), func(t *testing.T) {
			want := slices.Clone(all)
			slices.SortFunc(want, func(a, b *product.Product) int {
				c := compareKey(s, a, b)
				if c == 0 {
					c = compareStrings(a.ID, b.ID) // hex ObjectIDs sort like the ids
				}
				if s.Descending() {
					c = -c
				}
				return c
			})
			var got []string
			q := product.ListQuery{Sort: s, Limit: 7}
			for pages := 0; pages < 10; pages++ {
				items, err := r.List(ctx, q)
				if err != nil {
					t.Fatal(err)
				}
				for _, p := range items {
					got = append(got, p.ID)
				}
				if len(items) < q.Limit {
					break
				}
				last := items[len(items)-1]
				q.After = &product.Cursor{CreatedAt: last.CreatedAt, Price: last.Price, NameKey: product.NameKey(last.Name), ID: last.ID}
			}
			wantIDs := make([]string, len(want))
			for i, p := range want {
				wantIDs[i] = p.ID
			}
			if diff := cmp.Diff(wantIDs, got); diff != "" {
				t.Errorf("order differs (-want +got):\n%s", diff)
			}
		})
	}
}

func compareKey(s product.Sort, a, b *product.Product) int {
	switch s.Field() {
	case product.FieldPrice:
		return int(a.Price - b.Price)
	case product.FieldName:
		return compareStrings(product.NameKey(a.Name), product.NameKey(b.Name))
	default:
		return a.CreatedAt.Compare(b.CreatedAt)
	}
}

func compareStrings(a, b string) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

func TestListFilters(t *testing.T) {
	r, _ := newRepo(t)
	ctx := context.Background()
	now := time.Now()
	plain := mustCreate(t, r, "Plain Mug", 1000, 0, now)
	star := mustCreate(t, r, "Star (a.k.a. *) Mug", 1999, 3, now)
	lamp := mustCreate(t, r, "Desk Lamp", 2500, 9, now)
	money := func(c int64) *product.Money { m := product.Money(c); return &m }
	tests := []struct {
		name string
		q    product.ListQuery
		want []*product.Product
	}{
		{"q matches name case-insensitively", product.ListQuery{Q: "MUG"}, []*product.Product{plain, star}},
		{"q matches description", product.ListQuery{Q: "about desk"}, []*product.Product{lamp}},
		{"q is literal, not a regex", product.ListQuery{Q: "(a.k.a. *)"}, []*product.Product{star}},
		{"q regex metacharacters match nothing else", product.ListQuery{Q: ".*"}, nil},
		{"price bounds are inclusive", product.ListQuery{MinPrice: money(1000), MaxPrice: money(1999)}, []*product.Product{plain, star}},
		{"in stock", product.ListQuery{InStock: true}, []*product.Product{star, lamp}},
		{"everything together", product.ListQuery{Q: "mug", InStock: true, MaxPrice: money(1999)}, []*product.Product{star}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.q.Sort, tt.q.Limit = product.SortPrice, 10
			got, err := r.List(ctx, tt.q)
			if err != nil {
				t.Fatal(err)
			}
			var gotNames, wantNames []string
			for _, p := range got {
				gotNames = append(gotNames, p.Name)
			}
			for _, p := range tt.want {
				wantNames = append(wantNames, p.Name)
			}
			if diff := cmp.Diff(wantNames, gotNames); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
	_, err := r.List(ctx, product.ListQuery{Sort: product.SortPrice, Limit: 1, After: &product.Cursor{ID: "zz"}})
	var invalid *product.ValidationError
	if !errors.As(err, &invalid) {
		t.Errorf("bad cursor id = %v, want a validation error", err)
	}
}
