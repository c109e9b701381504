package mongoembed

import (
	"errors"
	"fmt"
	"math"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
)

// TestMatcher checks the matcher case by case, and, for every case it
// decides, that FerretDB decides the same: the fast path must answer
// exactly as FerretDB would have.
func TestMatcher(t *testing.T) {
	oid1 := bson.NewObjectIDFromTimestamp(time.Unix(1000, 0))
	oid2 := bson.NewObjectIDFromTimestamp(time.Unix(2000, 0))
	type want int
	const (
		no want = iota
		yes
		outside // errOutside, from compiling the filter or from evaluating it
	)
	type M = bson.D
	op := func(name string, v any) M { return M{{Key: name, Value: v}} }
	tests := []struct {
		name   string
		doc    M // without _id
		filter M // without _id
		want   want
	}{
		{"no conditions", M{{Key: "a", Value: 1}}, M{}, yes},

		// Numbers compare numerically across int32, int64 and double.
		{"int32 = int64", M{{Key: "n", Value: int32(5)}}, M{{Key: "n", Value: int64(5)}}, yes},
		{"int64 = double", M{{Key: "n", Value: int64(5)}}, M{{Key: "n", Value: 5.0}}, yes},
		{"double ≠ int", M{{Key: "n", Value: 5.5}}, M{{Key: "n", Value: int32(5)}}, no},
		{"$eq", M{{Key: "n", Value: int64(5)}}, M{{Key: "n", Value: op("$eq", int32(5))}}, yes},
		{"$ne equal", M{{Key: "n", Value: int64(5)}}, M{{Key: "n", Value: op("$ne", 5.0)}}, no},
		{"$ne other", M{{Key: "n", Value: int64(5)}}, M{{Key: "n", Value: op("$ne", int32(6))}}, yes},
		{"$gte equal", M{{Key: "stock", Value: int32(2)}}, M{{Key: "stock", Value: op("$gte", int64(2))}}, yes},
		{"$gte below", M{{Key: "stock", Value: int64(1)}}, M{{Key: "stock", Value: op("$gte", int64(2))}}, no},
		{"$gte double", M{{Key: "stock", Value: int64(2)}}, M{{Key: "stock", Value: op("$gte", 2.5)}}, no},
		{"$gt", M{{Key: "n", Value: 2.5}}, M{{Key: "n", Value: op("$gt", int32(2))}}, yes},
		{"$gt equal", M{{Key: "n", Value: int32(2)}}, M{{Key: "n", Value: op("$gt", 2.0)}}, no},
		{"$lt", M{{Key: "n", Value: int64(-3)}}, M{{Key: "n", Value: op("$lt", int32(0))}}, yes},
		{"$lte", M{{Key: "n", Value: 2.0}}, M{{Key: "n", Value: op("$lte", int32(2))}}, yes},
		{"range", M{{Key: "n", Value: int32(7)}}, M{{Key: "n", Value: M{{Key: "$gt", Value: 5}, {Key: "$lt", Value: 7}}}}, no},
		{"large int64s", M{{Key: "n", Value: int64(1<<62 + 1)}}, M{{Key: "n", Value: op("$gt", int64(1<<62))}}, yes},

		// Other kinds; comparisons across kinds never match.
		{"string", M{{Key: "s", Value: "reserving"}}, M{{Key: "s", Value: "reserving"}}, yes},
		{"string other", M{{Key: "s", Value: "reserved"}}, M{{Key: "s", Value: "reserving"}}, no},
		{"string $lt bytewise", M{{Key: "s", Value: "B"}}, M{{Key: "s", Value: op("$lt", "a")}}, yes},
		{"string $gt", M{{Key: "s", Value: "abd"}}, M{{Key: "s", Value: op("$gt", "abc")}}, yes},
		{"ObjectID", M{{Key: "o", Value: oid1}}, M{{Key: "o", Value: oid1}}, yes},
		{"ObjectID $gt", M{{Key: "o", Value: oid2}}, M{{Key: "o", Value: op("$gt", oid1)}}, yes},
		{"ObjectID $lt", M{{Key: "o", Value: oid2}}, M{{Key: "o", Value: op("$lt", oid1)}}, no},
		{"bool", M{{Key: "b", Value: true}}, M{{Key: "b", Value: true}}, yes},
		{"bool $gt", M{{Key: "b", Value: true}}, M{{Key: "b", Value: op("$gt", false)}}, yes},
		{"bool ≠ 1", M{{Key: "b", Value: true}}, M{{Key: "b", Value: int32(1)}}, no},
		{"string number", M{{Key: "n", Value: "10"}}, M{{Key: "n", Value: op("$gt", int32(5))}}, no},
		{"number string", M{{Key: "n", Value: int32(10)}}, M{{Key: "n", Value: op("$lt", "z")}}, no},
		{"number ≠ string", M{{Key: "n", Value: int32(10)}}, M{{Key: "n", Value: op("$ne", "10")}}, yes},
		{"ObjectID ≠ its hex", M{{Key: "o", Value: oid1}}, M{{Key: "o", Value: oid1.Hex()}}, no},

		// Null and missing fields.
		{"null = missing", M{}, M{{Key: "f", Value: nil}}, yes},
		{"null = null", M{{Key: "f", Value: nil}}, M{{Key: "f", Value: nil}}, yes},
		{"null ≠ 0", M{{Key: "f", Value: int32(0)}}, M{{Key: "f", Value: nil}}, no},
		{"$ne null on missing", M{}, M{{Key: "f", Value: op("$ne", nil)}}, no},
		{"$ne null on value", M{{Key: "f", Value: int32(1)}}, M{{Key: "f", Value: op("$ne", nil)}}, yes},
		{"$ne on missing", M{}, M{{Key: "f", Value: op("$ne", int32(5))}}, yes},
		{"$gt on missing", M{}, M{{Key: "f", Value: op("$gt", int32(0))}}, no},
		{"$lt on missing", M{}, M{{Key: "f", Value: op("$lt", int32(0))}}, no},
		{"$gt on null", M{{Key: "f", Value: nil}}, M{{Key: "f", Value: op("$lt", int32(0))}}, no},
		{"equality on missing", M{}, M{{Key: "f", Value: int32(0)}}, no},

		// $in, $nin, $exists.
		{"$in", M{{Key: "status", Value: "reserving"}}, M{{Key: "status", Value: op("$in", bson.A{"requested", "reserving"})}}, yes},
		{"$in none", M{{Key: "status", Value: "done"}}, M{{Key: "status", Value: op("$in", bson.A{"requested", "reserving"})}}, no},
		{"$in numbers", M{{Key: "version", Value: int64(3)}}, M{{Key: "version", Value: op("$in", bson.A{int32(2), 3.0})}}, yes},
		{"$in empty", M{{Key: "v", Value: int32(1)}}, M{{Key: "v", Value: op("$in", bson.A{})}}, no},
		{"$in null on missing", M{}, M{{Key: "v", Value: op("$in", bson.A{int32(1), nil})}}, yes},
		{"$in on missing", M{}, M{{Key: "v", Value: op("$in", bson.A{int32(1)})}}, no},
		{"$nin", M{{Key: "status", Value: "done"}}, M{{Key: "status", Value: op("$nin", bson.A{"requested", "reserving"})}}, yes},
		{"$nin listed", M{{Key: "status", Value: "reserving"}}, M{{Key: "status", Value: op("$nin", bson.A{"requested", "reserving"})}}, no},
		{"$nin on missing", M{}, M{{Key: "status", Value: op("$nin", bson.A{"a"})}}, yes},
		{"$nin null on missing", M{}, M{{Key: "status", Value: op("$nin", bson.A{nil})}}, no},
		{"$exists", M{{Key: "f", Value: int32(0)}}, M{{Key: "f", Value: op("$exists", true)}}, yes},
		{"$exists on null", M{{Key: "f", Value: nil}}, M{{Key: "f", Value: op("$exists", true)}}, yes},
		{"$exists on missing", M{}, M{{Key: "f", Value: op("$exists", true)}}, no},
		{"$exists false", M{}, M{{Key: "f", Value: op("$exists", false)}}, yes},
		{"$exists false on value", M{{Key: "f", Value: "x"}}, M{{Key: "f", Value: op("$exists", false)}}, no},
		{"$exists on a document", M{{Key: "f", Value: M{{Key: "g", Value: 1}}}}, M{{Key: "f", Value: op("$exists", true)}}, yes},

		// Dotted paths into embedded documents.
		{"dotted $exists false", M{{Key: "reservations", Value: M{{Key: "o2", Value: int32(1)}}}},
			M{{Key: "reservations.o1", Value: op("$exists", false)}}, yes},
		{"dotted $exists true", M{{Key: "outbox", Value: M{{Key: "e1", Value: M{{Key: "type", Value: "x"}}}}}},
			M{{Key: "outbox.e1", Value: op("$exists", true)}}, yes},
		{"dotted under missing", M{}, M{{Key: "reservations.o1", Value: op("$exists", false)}}, yes},
		{"dotted deep", M{{Key: "a", Value: M{{Key: "b", Value: M{{Key: "c", Value: int64(4)}}}}}},
			M{{Key: "a.b.c", Value: op("$gte", int32(4))}}, yes},
		{"dotted through a scalar: missing", M{{Key: "a", Value: int32(5)}}, M{{Key: "a.b", Value: op("$exists", false)}}, yes},
		{"dotted through a scalar: null", M{{Key: "a", Value: "s"}}, M{{Key: "a.b", Value: nil}}, yes},
		{"dotted through a scalar: value", M{{Key: "a", Value: int32(5)}}, M{{Key: "a.b", Value: int32(5)}}, no},
		{"the buy's reservation", M{{Key: "stock", Value: int64(3)}, {Key: "reservations", Value: M{}}},
			M{{Key: "stock", Value: op("$gte", int64(2))}, {Key: "reservations.o1", Value: op("$exists", false)}}, yes},
		{"the buy's reservation, taken", M{{Key: "stock", Value: int64(3)}, {Key: "reservations", Value: M{{Key: "o1", Value: int64(2)}}}},
			M{{Key: "stock", Value: op("$gte", int64(2))}, {Key: "reservations.o1", Value: op("$exists", false)}}, no},

		// Arrays anywhere on a path, and values the matcher does not compare.
		{"array value", M{{Key: "tags", Value: bson.A{"a", "b"}}}, M{{Key: "tags", Value: "a"}}, outside},
		{"array $exists", M{{Key: "tags", Value: bson.A{}}}, M{{Key: "tags", Value: op("$exists", true)}}, outside},
		{"array on the path", M{{Key: "a", Value: bson.A{M{{Key: "b", Value: 1}}}}}, M{{Key: "a.b", Value: int32(1)}}, outside},
		{"array after a false condition", M{{Key: "n", Value: int32(1)}, {Key: "tags", Value: bson.A{"a"}}},
			M{{Key: "n", Value: int32(2)}, {Key: "tags", Value: "a"}}, no},
		{"date value", M{{Key: "d", Value: time.Unix(5, 0)}}, M{{Key: "d", Value: op("$gt", int32(0))}}, outside},
		{"document value", M{{Key: "d", Value: M{{Key: "x", Value: 1}}}}, M{{Key: "d", Value: op("$ne", int32(1))}}, outside},
		{"large int64 with a double", M{{Key: "n", Value: int64(1<<53 + 1)}}, M{{Key: "n", Value: op("$gt", 1.0)}}, outside},

		// Filters the matcher does not compile.
		{"$or", M{{Key: "n", Value: 1}}, M{{Key: "$or", Value: bson.A{M{{Key: "n", Value: 1}}}}}, outside},
		{"$regex", M{{Key: "s", Value: "x"}}, M{{Key: "s", Value: op("$regex", "x")}}, outside},
		{"regular expression", M{{Key: "s", Value: "x"}}, M{{Key: "s", Value: bson.Regex{Pattern: "x"}}}, outside},
		{"$not", M{{Key: "n", Value: 1}}, M{{Key: "n", Value: op("$not", op("$gt", 1))}}, outside},
		{"embedded document equality", M{{Key: "d", Value: M{{Key: "x", Value: 1}}}}, M{{Key: "d", Value: M{{Key: "x", Value: 1}}}}, outside},
		{"empty document", M{{Key: "d", Value: M{}}}, M{{Key: "d", Value: M{}}}, outside},
		{"array equality", M{{Key: "a", Value: bson.A{1}}}, M{{Key: "a", Value: bson.A{1}}}, outside},
		{"$in of an array", M{{Key: "a", Value: 1}}, M{{Key: "a", Value: op("$in", bson.A{bson.A{1}})}}, outside},
		{"$in not an array", M{{Key: "a", Value: 1}}, M{{Key: "a", Value: op("$in", int32(1))}}, outside},
		{"$exists 1", M{{Key: "a", Value: 1}}, M{{Key: "a", Value: op("$exists", int32(1))}}, outside},
		{"$gte null", M{}, M{{Key: "a", Value: op("$gte", nil)}}, outside},
		{"NaN operand", M{}, M{{Key: "a", Value: math.NaN()}}, outside}, // FerretDB v1 refuses to store NaN
		{"decimal operand", M{}, M{{Key: "a", Value: bson.NewDecimal128(0, 1)}}, outside},
		{"empty path element", M{}, M{{Key: "a..b", Value: 1}}, outside},
		{"$size", M{}, M{{Key: "a", Value: op("$size", 1)}}, outside},
		{"field twice", M{{Key: "a", Value: 1}}, M{{Key: "a", Value: 1}, {Key: "a", Value: 2}}, outside},
	}

	s := startServer(t, t.TempDir(), fullProxy)
	ctx := testContext(t)
	// FerretDB itself, not the proxy, is what the matcher must agree with.
	coll := connect(t, "mongodb://"+s.backend+"/").Database("matcher").Collection("docs")
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			id := fmt.Sprintf("doc%d", i)
			if _, err := coll.InsertOne(ctx, append(M{{Key: "_id", Value: id}}, tt.doc...)); err != nil {
				t.Fatal(err)
			}
			doc, err := coll.FindOne(ctx, M{{Key: "_id", Value: id}}).Raw()
			if err != nil {
				t.Fatal(err)
			}
			full := append(M{{Key: "_id", Value: id}}, tt.filter...)
			raw, err := bson.Marshal(full)
			if err != nil {
				t.Fatal(err)
			}

			got := outside
			gotID, m, err := compileFilter(raw)
			if err == nil {
				if gotID.StringValue() != id {
					t.Fatalf("compileFilter _id = %v, want %q", gotID, id)
				}
				var ok bool
				ok, err = m.matches(doc)
				if ok {
					got = yes
				} else if err == nil {
					got = no
				}
			}
			if err != nil && !errors.Is(err, errOutside) {
				t.Fatalf("unexpected error: %v", err)
			}
			if got != tt.want {
				t.Fatalf("matcher says %v, want %v (0 no, 1 yes, 2 outside)", got, tt.want)
			}
			if got == outside {
				return
			}
			n, err := coll.CountDocuments(ctx, full)
			if err != nil {
				t.Fatalf("FerretDB: %v", err)
			}
			if (n == 1) != (got == yes) {
				t.Errorf("FerretDB counts %d, matcher says %v", n, got)
			}
		})
	}
}
