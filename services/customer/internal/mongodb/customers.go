// Package mongodb stores customers in MongoDB (or FerretDB): one document
// per customer in the "customers" collection, with a unique index on the
// normalised email. BSON shapes live only in this package.
package mongodb

import (
	"context"
	"errors"
	"fmt"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/travluk/ecom/services/customer/internal/customer"
	"github.com/travluk/ecom/services/platform/mongoconn"
)

// Customers implements customer.Repository.
type Customers struct {
	coll *mongo.Collection
}

// NewCustomers returns a repository over db's "customers" collection.
func NewCustomers(db *mongo.Database) *Customers {
	return &Customers{coll: db.Collection("customers")}
}

// EnsureIndexes creates the unique email index. It is idempotent; call it
// on start before serving.
func (r *Customers) EnsureIndexes(ctx context.Context) error {
	_, err := r.coll.Indexes().CreateOne(ctx, mongo.IndexModel{
		Keys:    bson.D{{Key: "email", Value: 1}},
		Options: options.Index().SetUnique(true).SetName("email_unique"),
	})
	if err != nil {
		return fmt.Errorf("create customers email index: %w", wrap(err))
	}
	return nil
}

type customerDoc struct {
	ID           bson.ObjectID `bson:"_id"`
	Name         string        `bson:"name"`
	Email        string        `bson:"email"`
	Address      string        `bson:"address"`
	Role         string        `bson:"role"`
	PasswordHash string        `bson:"passwordHash"`
	CreatedAt    time.Time     `bson:"createdAt"`
	UpdatedAt    time.Time     `bson:"updatedAt"`
}

func (d *customerDoc) customer() *customer.Customer {
	return &customer.Customer{
		ID:           d.ID.Hex(),
		Name:         d.Name,
		Email:        d.Email,
		Address:      d.Address,
		Role:         customer.Role(d.Role),
		PasswordHash: d.PasswordHash,
		CreatedAt:    d.CreatedAt.UTC(),
		UpdatedAt:    d.UpdatedAt.UTC(),
	}
}

// Create inserts c under a new ObjectID and sets c.ID to its hex form.
func (r *Customers) Create(ctx context.Context, c *customer.Customer) error {
	d := customerDoc{
		ID:           bson.NewObjectID(),
		Name:         c.Name,
		Email:        c.Email,
		Address:      c.Address,
		Role:         string(c.Role),
		PasswordHash: c.PasswordHash,
		CreatedAt:    c.CreatedAt,
		UpdatedAt:    c.UpdatedAt,
	}
	if _, err := r.coll.InsertOne(ctx, d); err != nil {
		return wrap(err)
	}
	c.ID = d.ID.Hex()
	return nil
}

// ByID finds a customer by id; a malformed id is simply not found.
func (r *Customers) ByID(ctx context.Context, id string) (*customer.Customer, error) {
	oid, err := bson.ObjectIDFromHex(id)
	if err != nil {
		return nil, customer.ErrNotFound
	}
	return r.findOne(ctx, bson.D{{Key: "_id", Value: oid}})
}

// ByEmail finds a customer by normalised email.
func (r *Customers) ByEmail(ctx context.Context, email string) (*customer.Customer, error) {
	return r.findOne(ctx, bson.D{{Key: "email", Value: email}})
}

func (r *Customers) findOne(ctx context.Context, filter bson.D) (*customer.Customer, error) {
	var d customerDoc
	if err := r.coll.FindOne(ctx, filter).Decode(&d); err != nil {
		return nil, wrap(err)
	}
	return d.customer(), nil
}

// Update sets the patch's non-nil fields in one findAndModify and returns
// the document after the change.
func (r *Customers) Update(ctx context.Context, id string, p customer.Patch) (*customer.Customer, error) {
	oid, err := bson.ObjectIDFromHex(id)
	if err != nil {
		return nil, customer.ErrNotFound
	}
	set := bson.D{{Key: "updatedAt", Value: p.UpdatedAt}}
	add := func(key string, v *string) {
		if v != nil {
			set = append(set, bson.E{Key: key, Value: *v})
		}
	}
	add("name", p.Name)
	add("email", p.Email)
	add("address", p.Address)
	add("passwordHash", p.PasswordHash)
	if p.Role != nil {
		set = append(set, bson.E{Key: "role", Value: string(*p.Role)})
	}
	var d customerDoc
	err = r.coll.FindOneAndUpdate(ctx,
		bson.D{{Key: "_id", Value: oid}},
		bson.D{{Key: "$set", Value: set}},
		options.FindOneAndUpdate().SetReturnDocument(options.After),
	).Decode(&d)
	if err != nil {
		return nil, wrap(err)
	}
	return d.customer(), nil
}

// wrap turns driver errors into the core's: no document is ErrNotFound, a
// duplicate key (only the email is unique besides _id) is ErrEmailTaken, and
// an unreachable server is ErrUnavailable.
func wrap(err error) error {
	switch {
	case errors.Is(err, mongo.ErrNoDocuments):
		return customer.ErrNotFound
	case mongo.IsDuplicateKeyError(err):
		return customer.ErrEmailTaken
	case mongoconn.Unavailable(err):
		return fmt.Errorf("%w: mongodb: %w", customer.ErrUnavailable, err)
	}
	return fmt.Errorf("mongodb: %w", err)
}
