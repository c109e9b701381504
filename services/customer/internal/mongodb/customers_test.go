package mongodb_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/travluk/ecom/dev/testenv"
	"github.com/travluk/ecom/services/customer/internal/customer"
	"github.com/travluk/ecom/services/customer/internal/mongodb"
)

func repo(t *testing.T) *mongodb.Customers {
	t.Helper()
	client, err := mongo.Connect(options.Client().ApplyURI(testenv.Mongo(t)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { client.Disconnect(context.Background()) })
	r := mongodb.NewCustomers(client.Database(testenv.Database(t)))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for range 2 { // idempotent
		if err := r.EnsureIndexes(ctx); err != nil {
			t.Fatal(err)
		}
	}
	return r
}

func TestCustomers(t *testing.T) {
	ctx := context.Background()
	r := repo(t)
	now := time.Date(2026, 1, 2, 3, 4, 5, 6_000_000, time.UTC)
	ada := &customer.Customer{Name: "Ada", Email: "ada@example.com", Address: "1 Loop St", Role: customer.RoleCustomer,
		PasswordHash: "$argon2id$x", CreatedAt: now, UpdatedAt: now}
	if err := r.Create(ctx, ada); err != nil {
		t.Fatal(err)
	}
	if len(ada.ID) != 24 {
		t.Fatalf("id %q is not an ObjectID hex", ada.ID)
	}

	t.Run("read back by id and email", func(t *testing.T) {
		for _, get := range []func() (*customer.Customer, error){
			func() (*customer.Customer, error) { return r.ByID(ctx, ada.ID) },
			func() (*customer.Customer, error) { return r.ByEmail(ctx, "ada@example.com") },
		} {
			got, err := get()
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(ada, got); diff != "" {
				t.Errorf("(-stored +read):\n%s", diff)
			}
		}
	})
	t.Run("not found", func(t *testing.T) {
		for _, id := range []string{"000000000000000000000000", "not-an-id", "", "../x"} {
			if _, err := r.ByID(ctx, id); !errors.Is(err, customer.ErrNotFound) {
				t.Errorf("ByID(%q) err = %v, want ErrNotFound", id, err)
			}
			if _, err := r.Update(ctx, id, customer.Patch{UpdatedAt: now}); !errors.Is(err, customer.ErrNotFound) {
				t.Errorf("Update(%q) err = %v, want ErrNotFound", id, err)
			}
		}
		if _, err := r.ByEmail(ctx, "nobody@example.com"); !errors.Is(err, customer.ErrNotFound) {
			t.Errorf("ByEmail err = %v", err)
		}
	})
	t.Run("email is unique", func(t *testing.T) {
		dup := &customer.Customer{Name: "Eve", Email: "ada@example.com", Role: customer.RoleCustomer, CreatedAt: now, UpdatedAt: now}
		if err := r.Create(ctx, dup); !errors.Is(err, customer.ErrEmailTaken) {
			t.Errorf("Create duplicate: err = %v, want ErrEmailTaken", err)
		}
		bob := &customer.Customer{Name: "Bob", Email: "bob@example.com", Role: customer.RoleCustomer, CreatedAt: now, UpdatedAt: now}
		if err := r.Create(ctx, bob); err != nil {
			t.Fatal(err)
		}
		taken := "ada@example.com"
		if _, err := r.Update(ctx, bob.ID, customer.Patch{Email: &taken, UpdatedAt: now}); !errors.Is(err, customer.ErrEmailTaken) {
			t.Errorf("Update to a taken email: err = %v, want ErrEmailTaken", err)
		}
	})
	t.Run("partial update", func(t *testing.T) {
		later := now.Add(time.Hour)
		name, role := "Ada Lovelace", customer.RoleAdmin
		got, err := r.Update(ctx, ada.ID, customer.Patch{Name: &name, Role: &role, UpdatedAt: later})
		if err != nil {
			t.Fatal(err)
		}
		want := *ada
		want.Name, want.Role, want.UpdatedAt = name, role, later
		if diff := cmp.Diff(&want, got); diff != "" {
			t.Errorf("(-want +got):\n%s", diff)
		}
	})
}
