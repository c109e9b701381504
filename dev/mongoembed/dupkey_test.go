package mongoembed

import (
	"context"
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"
	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
)

// TestDuplicateKey checks that every unique-index violation the services
// can meet answers MongoDB's duplicate key 11000, in the form MongoDB gives
// it, through the proxy; and that FerretDB alone does not answer so, which
// is why the proxy translates (if it ever does, dupkey.go can go).
func TestDuplicateKey(t *testing.T) {
	emailIndex := mongo.IndexModel{Keys: bson.D{{Key: "email", Value: 1}}, Options: options.Index().SetUnique(true).SetName("email_unique")}
	// taken has a unique index on email, with ada@ on _id 1 and bob@ on _id 2.
	taken := func(ctx context.Context, c *mongo.Collection) error {
		if _, err := c.Indexes().CreateOne(ctx, emailIndex); err != nil {
			return err
		}
		_, err := c.InsertMany(ctx, []any{
			bson.D{{Key: "_id", Value: 1}, {Key: "email", Value: "ada@"}},
			bson.D{{Key: "_id", Value: 2}, {Key: "email", Value: "bob@"}},
		})
		return err
	}
	setAda := bson.D{{Key: "$set", Value: bson.D{{Key: "email", Value: "ada@"}}}}
	tests := []struct {
		name string
		// writeError: MongoDB reports the violation as the write error of
		// one statement (a WriteException); otherwise as a command error.
		writeError bool
		// ferretSays11000: FerretDB alone already answers 11000 (insert).
		ferretSays11000 bool
		do              func(ctx context.Context, c *mongo.Collection) error
	}{
		{name: "insert of a taken value", writeError: true, ferretSays11000: true,
			do: func(ctx context.Context, c *mongo.Collection) error {
				_, err := c.InsertOne(ctx, bson.D{{Key: "_id", Value: 3}, {Key: "email", Value: "ada@"}})
				return err
			}},
		{name: "update to a taken value", writeError: true,
			do: func(ctx context.Context, c *mongo.Collection) error {
				_, err := c.UpdateOne(ctx, bson.D{{Key: "_id", Value: 2}}, setAda)
				return err
			}},
		{name: "conditional update to a taken value", writeError: true, // the fast path's narrowed update
			do: func(ctx context.Context, c *mongo.Collection) error {
				_, err := c.UpdateOne(ctx, bson.D{{Key: "_id", Value: 2}, {Key: "email", Value: "bob@"}}, setAda)
				return err
			}},
		{name: "findAndModify to a taken value",
			do: func(ctx context.Context, c *mongo.Collection) error {
				return c.FindOneAndUpdate(ctx, bson.D{{Key: "_id", Value: 2}}, setAda).Err()
			}},
		{name: "unique index over repeated values",
			do: func(ctx context.Context, c *mongo.Collection) error {
				if _, err := c.InsertOne(ctx, bson.D{{Key: "_id", Value: 3}, {Key: "city", Value: "Oslo"}}); err != nil {
					return err
				}
				if _, err := c.InsertOne(ctx, bson.D{{Key: "_id", Value: 4}, {Key: "city", Value: "Oslo"}}); err != nil {
					return err
				}
				_, err := c.Indexes().CreateOne(ctx, mongo.IndexModel{Keys: bson.D{{Key: "city", Value: 1}}, Options: options.Index().SetUnique(true)})
				return err
			}},
	}
	for _, config := range []struct {
		name string
		proxyConfig
	}{{"full proxy", fullProxy}, {"plain proxy", plainProxy}} {
		t.Run(config.name, func(t *testing.T) {
			s := startServer(t, t.TempDir(), config.proxyConfig)
			ctx := testContext(t)
			proxied := connect(t, s.URI()).Database("shop")
			ferret := connect(t, "mongodb://"+s.backend+"/").Database("shop")
			for i, tt := range tests {
				t.Run(tt.name, func(t *testing.T) {
					c := proxied.Collection("proxied" + string(rune('a'+i)))
					if err := taken(ctx, c); err != nil {
						t.Fatal(err)
					}
					err := tt.do(ctx, c)
					if !mongo.IsDuplicateKeyError(err) {
						t.Fatalf("through the proxy: err = %v, want duplicate key 11000", err)
					}
					var we mongo.WriteException
					if got := errors.As(err, &we); got != tt.writeError {
						t.Errorf("through the proxy: a write error = %v, want %v (err %#v)", got, tt.writeError, err)
					}

					c = ferret.Collection("ferret" + string(rune('a'+i)))
					if err := taken(ctx, c); err != nil {
						t.Fatal(err)
					}
					if err := tt.do(ctx, c); mongo.IsDuplicateKeyError(err) != tt.ferretSays11000 {
						t.Errorf("FerretDB alone: err = %v, duplicate key 11000 = %v, want %v", err, !tt.ferretSays11000, tt.ferretSays11000)
					}
				})
			}
		})
	}
}

// TestIndexConflicts checks that an index clashing with an existing one is
// not mistaken for a duplicate key: FerretDB answers MongoDB's own codes,
// IndexOptionsConflict (85) for the same keys under another name and
// IndexKeySpecsConflict (86) for another index under the same name, and the
// proxy passes them on.
func TestIndexConflicts(t *testing.T) {
	s := startServer(t, t.TempDir(), fullProxy)
	ctx := testContext(t)
	c := connect(t, s.URI()).Database("shop").Collection("c")
	if _, err := c.Indexes().CreateOne(ctx, mongo.IndexModel{Keys: bson.D{{Key: "email", Value: 1}}, Options: options.Index().SetUnique(true).SetName("email_unique")}); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name  string
		index mongo.IndexModel
		code  int32
	}{
		{"same keys, another name", mongo.IndexModel{Keys: bson.D{{Key: "email", Value: 1}}, Options: options.Index().SetUnique(true).SetName("other")}, 85},
		{"same name, other keys", mongo.IndexModel{Keys: bson.D{{Key: "x", Value: 1}}, Options: options.Index().SetName("email_unique")}, 86},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := c.Indexes().CreateOne(ctx, tt.index)
			var ce mongo.CommandError
			if !errors.As(err, &ce) || ce.Code != tt.code || mongo.IsDuplicateKeyError(err) {
				t.Errorf("CreateOne: err = %v, want code %d", err, tt.code)
			}
		})
	}
}

// TestTranslateDuplicateKeyLeavesOthers checks that replies other than
// FerretDB's InternalError for SQLite's unique violation pass unchanged.
func TestTranslateDuplicateKeyLeavesOthers(t *testing.T) {
	unique := "constraint failed: UNIQUE constraint failed: index 'c_e60c2c52_email_unique' (2067)"
	tests := []struct {
		name    string
		command string
		reply   bson.D
	}{
		{"success", "update", bson.D{{Key: "n", Value: int32(1)}, {Key: "ok", Value: float64(1)}}},
		{"other internal error", "update", bson.D{{Key: "ok", Value: float64(0)}, {Key: "errmsg", Value: "disk I/O error"}, {Key: "code", Value: int32(1)}, {Key: "codeName", Value: "InternalError"}}},
		{"other code", "findAndModify", bson.D{{Key: "ok", Value: float64(0)}, {Key: "errmsg", Value: unique}, {Key: "code", Value: int32(2)}, {Key: "codeName", Value: "BadValue"}}},
		{"other command", "delete", bson.D{{Key: "ok", Value: float64(0)}, {Key: "errmsg", Value: unique}, {Key: "code", Value: int32(1)}, {Key: "codeName", Value: "InternalError"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := buildOpMsg(7, 0, 0, mustMarshal(t, bson.D{{Key: tt.command, Value: "c"}, {Key: "$db", Value: "shop"}}), nil)
			reply := buildOpMsg(8, 7, 0, mustMarshal(t, tt.reply), nil)
			if diff := cmp.Diff(reply, translateDuplicateKey(tt.command, req, reply)); diff != "" {
				t.Errorf("reply changed (-want +got):\n%s", diff)
			}
		})
	}
}

func mustMarshal(t *testing.T, d bson.D) bson.Raw {
	t.Helper()
	b, err := bson.Marshal(d)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
