package mongoembed

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"sort"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
)

// fastPathCase is one operation run both through the proxy's fast path and
// straight to FerretDB, with the same data before it: it must answer the
// same.
type fastPathCase struct {
	name string
	fast bool // whether the fast path serves it (else the proxy forwards it unchanged)
	run  func(ctx context.Context, db *mongo.Database) (string, error)
}

var (
	productA = bson.NewObjectIDFromTimestamp(time.Unix(1000, 0))
	productB = bson.NewObjectIDFromTimestamp(time.Unix(2000, 0))
	nobody   = bson.NewObjectIDFromTimestamp(time.Unix(3000, 0))
)

func seedFastPath(ctx context.Context, t *testing.T, db *mongo.Database) {
	t.Helper()
	products := []any{
		bson.D{{Key: "_id", Value: productA}, {Key: "stock", Value: int64(5)}, {Key: "reserved", Value: int64(0)},
			{Key: "version", Value: int64(1)}, {Key: "reservations", Value: bson.D{}}},
		bson.D{{Key: "_id", Value: productB}, {Key: "stock", Value: int32(0)}, {Key: "reserved", Value: int64(0)},
			{Key: "version", Value: int64(1)}, {Key: "reservations", Value: bson.D{}}},
		bson.D{{Key: "_id", Value: "tagged"}, {Key: "tags", Value: bson.A{"a", "b"}}},
	}
	orders := []any{
		bson.D{{Key: "_id", Value: "o1"}, {Key: "status", Value: "reserving"}, {Key: "outboxCount", Value: int64(0)}, {Key: "outbox", Value: bson.D{}}},
		bson.D{{Key: "_id", Value: "o2"}, {Key: "status", Value: "confirmed"}, {Key: "outboxCount", Value: int64(0)}},
		bson.D{{Key: "_id", Value: "o3"}, {Key: "status", Value: "requested"}},
	}
	if _, err := db.Collection("products").InsertMany(ctx, products); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Collection("orders").InsertMany(ctx, orders); err != nil {
		t.Fatal(err)
	}
}

// describe renders a result or error for comparison: server errors by code,
// since their messages may vary with nothing but timing.
func describe(res any, err error) (string, error) {
	var se mongo.ServerError
	switch {
	case err == nil:
		if raw, ok := res.(bson.Raw); ok {
			return raw.String(), nil
		}
		return fmt.Sprintf("%+v", res), nil
	case errors.Is(err, mongo.ErrNoDocuments):
		return "ErrNoDocuments", nil
	case errors.As(err, &se):
		var codes []string
		for _, c := range []int{2, 9, 11000, 40} {
			if se.HasErrorCode(c) {
				codes = append(codes, fmt.Sprint(c))
			}
		}
		return fmt.Sprintf("server error, codes %v", codes), nil
	}
	return "", err
}

func filterOf(id any, rest ...bson.E) bson.D { return append(bson.D{{Key: "_id", Value: id}}, rest...) }

func cond(op string, v any) bson.D { return bson.D{{Key: op, Value: v}} }

func updateOne(coll string, filter, update bson.D) func(context.Context, *mongo.Database) (string, error) {
	return func(ctx context.Context, db *mongo.Database) (string, error) {
		return describe(db.Collection(coll).UpdateOne(ctx, filter, update))
	}
}

func findOneAndUpdate(coll string, filter, update bson.D, after bool) func(context.Context, *mongo.Database) (string, error) {
	return func(ctx context.Context, db *mongo.Database) (string, error) {
		opts := options.FindOneAndUpdate()
		if after {
			opts.SetReturnDocument(options.After)
		}
		return describe(db.Collection(coll).FindOneAndUpdate(ctx, filter, update, opts).Raw())
	}
}

// runCommand sends a command as written, with its statements in the body,
// and renders FerretDB's whole reply: the fast path's own replies must be
// FerretDB's to the byte.
func runCommand(cmd bson.D) func(context.Context, *mongo.Database) (string, error) {
	return func(ctx context.Context, db *mongo.Database) (string, error) {
		return describe(db.RunCommand(ctx, cmd).Raw())
	}
}

func fastPathCases() []fastPathCase {
	reserve := func(p bson.ObjectID, q int64, r string) bson.D {
		return filterOf(p, bson.E{Key: "stock", Value: cond("$gte", q)}, bson.E{Key: "reservations." + r, Value: cond("$exists", false)})
	}
	reservation := func(q int64, r string) bson.D {
		return bson.D{
			{Key: "$inc", Value: bson.D{{Key: "stock", Value: -q}, {Key: "reserved", Value: q}, {Key: "version", Value: int64(1)}}},
			{Key: "$set", Value: bson.D{{Key: "reservations." + r, Value: q}}},
		}
	}
	set := func(k string, v any) bson.D { return bson.D{{Key: "$set", Value: bson.D{{Key: k, Value: v}}}} }
	return []fastPathCase{
		{"update matches", true, updateOne("products", reserve(productA, 2, "r1"), reservation(2, "r1"))},
		{"update: reservation taken", true, updateOne("products", reserve(productA, 2, "r1"), reservation(2, "r1"))},
		{"update: out of stock", true, updateOne("products", reserve(productB, 1, "r2"), reservation(1, "r2"))},
		{"update: no such _id", true, updateOne("products", reserve(nobody, 1, "r2"), reservation(1, "r2"))},
		{"update: $unset a dotted map field", true, updateOne("products",
			filterOf(productA, bson.E{Key: "reservations.r1", Value: cond("$exists", true)}),
			bson.D{
				{Key: "$unset", Value: bson.D{{Key: "reservations.r1", Value: ""}}},
				{Key: "$inc", Value: bson.D{{Key: "stock", Value: int64(2)}, {Key: "reserved", Value: int64(-2)}}},
			})},
		{"update: $inc a dotted map field", true, updateOne("products",
			filterOf(productA, bson.E{Key: "counts.x", Value: cond("$exists", false)}),
			bson.D{{Key: "$inc", Value: bson.D{{Key: "counts.x", Value: int32(1)}}}})},
		{"update: $inc it again", true, updateOne("products",
			filterOf(productA, bson.E{Key: "counts.x", Value: cond("$lt", 5)}),
			bson.D{{Key: "$inc", Value: bson.D{{Key: "counts.x", Value: 1.5}}}})},
		{"update matches, modifies nothing", true, updateOne("orders", filterOf("o2", bson.E{Key: "status", Value: "confirmed"}), set("status", "confirmed"))},
		{"update by _id only: FerretDB pushes it down as it is", false, updateOne("orders", filterOf("o3"), set("note", "x"))},

		{"findAndModify after", true, findOneAndUpdate("orders",
			filterOf("o1", bson.E{Key: "status", Value: "reserving"}),
			bson.D{
				{Key: "$set", Value: bson.D{{Key: "status", Value: "reserved"}, {Key: "outbox.e1", Value: bson.D{{Key: "type", Value: "order.reserved"}}}}},
				{Key: "$inc", Value: bson.D{{Key: "outboxCount", Value: int64(1)}}},
			}, true)},
		{"findAndModify: status moved on", true, findOneAndUpdate("orders",
			filterOf("o1", bson.E{Key: "status", Value: "reserving"}), set("status", "reserved"), true)},
		{"findAndModify before", true, findOneAndUpdate("orders",
			filterOf("o1", bson.E{Key: "status", Value: cond("$in", bson.A{"reserving", "reserved"})}), set("status", "confirmed"), false)},
		{"findAndModify: no such _id", true, findOneAndUpdate("orders",
			filterOf("o9", bson.E{Key: "status", Value: "reserving"}), set("status", "reserved"), true)},
		{"findAndModify remove: no match", true, func(ctx context.Context, db *mongo.Database) (string, error) {
			return describe(db.Collection("orders").FindOneAndDelete(ctx, filterOf("o2", bson.E{Key: "status", Value: "cancelled"})).Raw())
		}},
		{"findAndModify remove", true, func(ctx context.Context, db *mongo.Database) (string, error) {
			return describe(db.Collection("orders").FindOneAndDelete(ctx, filterOf("o2", bson.E{Key: "status", Value: "confirmed"})).Raw())
		}},

		{"delete: no match", true, func(ctx context.Context, db *mongo.Database) (string, error) {
			return describe(db.Collection("orders").DeleteOne(ctx, filterOf("o1", bson.E{Key: "status", Value: "reserving"})))
		}},
		{"delete", true, func(ctx context.Context, db *mongo.Database) (string, error) {
			return describe(db.Collection("orders").DeleteOne(ctx, filterOf("o1", bson.E{Key: "outboxCount", Value: cond("$gt", int64(0))})))
		}},

		{"raw update: no match", true, runCommand(bson.D{
			{Key: "update", Value: "products"},
			{Key: "updates", Value: bson.A{bson.D{{Key: "q", Value: reserve(productB, 1, "r3")}, {Key: "u", Value: reservation(1, "r3")}}}},
		})},
		{"raw update", true, runCommand(bson.D{
			{Key: "update", Value: "products"},
			{Key: "updates", Value: bson.A{bson.D{{Key: "q", Value: reserve(productA, 1, "r3")}, {Key: "u", Value: reservation(1, "r3")}}}},
		})},
		{"raw findAndModify: no match", true, runCommand(bson.D{
			{Key: "findAndModify", Value: "products"},
			{Key: "query", Value: reserve(productB, 1, "r3")},
			{Key: "update", Value: reservation(1, "r3")},
			{Key: "new", Value: true},
		})},
		{"raw findAndModify remove: no match", true, runCommand(bson.D{
			{Key: "findAndModify", Value: "products"},
			{Key: "query", Value: reserve(productB, 1, "r3")},
			{Key: "remove", Value: true},
		})},
		{"raw delete: no match", true, runCommand(bson.D{
			{Key: "delete", Value: "products"},
			{Key: "deletes", Value: bson.A{bson.D{{Key: "q", Value: reserve(productB, 1, "r3")}, {Key: "limit", Value: int32(1)}}}},
		})},
		{"update of a missing collection", true, updateOne("ghosts", filterOf("g", bson.E{Key: "n", Value: 1}), set("n", 2))},

		// Outside the fast path, forwarded unchanged.
		{"array on the path", false, updateOne("products", filterOf("tagged", bson.E{Key: "tags", Value: "a"}), set("x", 1))},
		{"upsert", false, func(ctx context.Context, db *mongo.Database) (string, error) {
			return describe(db.Collection("orders").UpdateOne(ctx, filterOf("o4", bson.E{Key: "status", Value: "requested"}),
				set("note", "y"), options.UpdateOne().SetUpsert(true)))
		}},
		{"multi", false, func(ctx context.Context, db *mongo.Database) (string, error) {
			return describe(db.Collection("orders").UpdateMany(ctx, filterOf("o3", bson.E{Key: "status", Value: "requested"}), set("note", "z")))
		}},
		{"sort", false, func(ctx context.Context, db *mongo.Database) (string, error) {
			return describe(db.Collection("orders").FindOneAndUpdate(ctx, filterOf("o3", bson.E{Key: "status", Value: "requested"}),
				set("note", "s"), options.FindOneAndUpdate().SetSort(bson.D{{Key: "_id", Value: 1}})).Raw())
		}},
		{"int _id", false, updateOne("orders", filterOf(7, bson.E{Key: "status", Value: "requested"}), set("note", "z"))},
		{"$or", false, updateOne("orders", filterOf("o3", bson.E{Key: "$or", Value: bson.A{bson.D{{Key: "status", Value: "requested"}}}}), set("note", "w"))},
		{"conflicting update operators, no match", false, updateOne("products",
			filterOf(productB, bson.E{Key: "stock", Value: cond("$gte", 100)}),
			bson.D{{Key: "$set", Value: bson.D{{Key: "a", Value: 1}}}, {Key: "$inc", Value: bson.D{{Key: "a", Value: 1}}}})},
	}
}

// TestFastPathAnswersAsFerretDB runs the same operations on the same data
// through the proxy and straight to FerretDB, and wants the same answers,
// counting matched and modified documents and FerretDB's no-match replies
// to the byte, and the same data afterwards.
func TestFastPathAnswersAsFerretDB(t *testing.T) {
	ctx := testContext(t)
	s := startServer(t, t.TempDir(), fullProxy)
	ref := startServer(t, t.TempDir(), fullProxy)
	viaProxy := connect(t, s.URI()).Database("shop")
	direct := connect(t, "mongodb://"+ref.backend+"/").Database("shop")
	seedFastPath(ctx, t, viaProxy)
	seedFastPath(ctx, t, direct)

	for _, tc := range fastPathCases() {
		before := s.proxy.fastServed.Load()
		got, err := tc.run(ctx, viaProxy)
		if err != nil {
			t.Fatalf("%s through the proxy: %v", tc.name, err)
		}
		served := s.proxy.fastServed.Load() - before
		want, err := tc.run(ctx, direct)
		if err != nil {
			t.Fatalf("%s on FerretDB: %v", tc.name, err)
		}
		if got != want {
			t.Errorf("%s:\n through the proxy %s\n FerretDB          %s", tc.name, got, want)
		}
		if wantServed := map[bool]int64{true: 1, false: 0}[tc.fast]; served != wantServed {
			t.Errorf("%s: fast path served %d requests, want %d", tc.name, served, wantServed)
		}
	}

	for _, coll := range []string{"products", "orders"} {
		if got, want := dump(ctx, t, viaProxy.Collection(coll)), dump(ctx, t, direct.Collection(coll)); !slices.Equal(got, want) {
			t.Errorf("%s afterwards:\n through the proxy %v\n FerretDB          %v", coll, got, want)
		}
	}
	for _, db := range []*mongo.Database{viaProxy, direct} {
		names, err := db.ListCollectionNames(ctx, bson.D{{Key: "name", Value: "ghosts"}})
		if err != nil || len(names) != 1 {
			t.Errorf("collections named ghosts: %v, %v; want the one the update created", names, err)
		}
	}
}

// dump returns a collection's documents as extended JSON, in _id order.
func dump(ctx context.Context, t *testing.T, coll *mongo.Collection) []string {
	t.Helper()
	cur, err := coll.Find(ctx, bson.D{})
	if err != nil {
		t.Fatal(err)
	}
	var docs []bson.Raw
	if err := cur.All(ctx, &docs); err != nil {
		t.Fatal(err)
	}
	out := make([]string, len(docs))
	for i, d := range docs {
		out[i] = d.String()
	}
	sort.Strings(out)
	return out
}

// TestReadByIDsAnswersAsFerretDB checks the reads the fast path serves as
// one lookup per _id, such as the buy waiter's poll, against FerretDB.
func TestReadByIDsAnswersAsFerretDB(t *testing.T) {
	ctx := testContext(t)
	s := startServer(t, t.TempDir(), fullProxy)
	viaProxy := connect(t, s.URI()).Database("shop").Collection("purchases")
	direct := connect(t, "mongodb://"+s.backend+"/").Database("shop").Collection("purchases")
	var docs []any
	statuses := []string{"requested", "reserving", "reserved", "rejected"}
	for i := range 20 {
		docs = append(docs, bson.D{{Key: "_id", Value: fmt.Sprintf("p%02d", i)}, {Key: "status", Value: statuses[i%4]}, {Key: "n", Value: int32(i)}})
	}
	docs = append(docs, bson.D{{Key: "_id", Value: productA}, {Key: "status", Value: "reserved"}, {Key: "tags", Value: bson.A{"x"}}})
	if _, err := viaProxy.InsertMany(ctx, docs); err != nil {
		t.Fatal(err)
	}

	settled := bson.E{Key: "status", Value: cond("$nin", bson.A{"reserving", "requested"})}
	tests := []struct {
		name   string
		filter bson.D
		opts   *options.FindOptionsBuilder
		fast   bool
	}{
		{"the waiter's poll", bson.D{{Key: "_id", Value: cond("$in", bson.A{"p01", "p02", "p03", "p07", "p99"})}, settled},
			options.Find().SetProjection(bson.D{{Key: "_id", Value: 1}}), true},
		{"whole documents", bson.D{{Key: "_id", Value: cond("$in", bson.A{"p04", "p05", productA, "nope"})}}, options.Find(), true},
		{"_id listed twice", bson.D{{Key: "_id", Value: cond("$in", bson.A{"p06", "p06"})}}, options.Find(), true},
		{"a filter on a field too", bson.D{{Key: "_id", Value: cond("$in", bson.A{"p08", "p09", "p10"})}, {Key: "n", Value: cond("$gte", 9)}}, options.Find(), true},
		{"array on the path", bson.D{{Key: "_id", Value: cond("$in", bson.A{productA})}, {Key: "tags", Value: "x"}}, options.Find(), false},
		{"sorted", bson.D{{Key: "_id", Value: cond("$in", bson.A{"p01", "p02"})}}, options.Find().SetSort(bson.D{{Key: "n", Value: -1}}), false},
		{"other projection", bson.D{{Key: "_id", Value: cond("$in", bson.A{"p01"})}}, options.Find().SetProjection(bson.D{{Key: "n", Value: 1}}), false},
		{"small batches", bson.D{{Key: "_id", Value: cond("$in", bson.A{"p01", "p02", "p03"})}}, options.Find().SetBatchSize(2), false},
		{"limit", bson.D{{Key: "_id", Value: cond("$in", bson.A{"p01", "p02", "p03"})}}, options.Find().SetLimit(2), false},
		{"int _ids", bson.D{{Key: "_id", Value: cond("$in", bson.A{1, 2})}}, options.Find(), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := s.proxy.fastServed.Load()
			got := findAll(ctx, t, viaProxy, tt.filter, tt.opts)
			fast := s.proxy.fastServed.Load() > before
			want := findAll(ctx, t, direct, tt.filter, tt.opts)
			if !slices.Equal(got, want) {
				t.Errorf("through the proxy %v\nFerretDB          %v", got, want)
			}
			if fast != tt.fast {
				t.Errorf("served by the fast path: %v, want %v", fast, tt.fast)
			}
		})
	}
}

// findAll returns what a find returns, as extended JSON, sorted: without a
// sort, order is not part of a find's answer.
func findAll(ctx context.Context, t *testing.T, coll *mongo.Collection, filter bson.D, opts *options.FindOptionsBuilder) []string {
	t.Helper()
	cur, err := coll.Find(ctx, filter, opts)
	if err != nil {
		t.Fatal(err)
	}
	var docs []bson.Raw
	if err := cur.All(ctx, &docs); err != nil {
		t.Fatal(err)
	}
	out := make([]string, len(docs))
	for i, d := range docs {
		out[i] = d.String()
	}
	sort.Strings(out)
	return out
}

// TestRewrittenMessages checks the OP_MSG surgery: a write's filter is
// replaced wherever the driver put its statement, and every other byte of
// the command (lsid, txnNumber, $db...) stays as it was.
func TestRewrittenMessages(t *testing.T) {
	lsid := bson.D{{Key: "id", Value: bson.Binary{Subtype: 4, Data: bytes.Repeat([]byte{7}, 16)}}}
	stmt := bson.D{{Key: "q", Value: filterOf("o1", bson.E{Key: "status", Value: "reserving"})}, {Key: "u", Value: bson.D{{Key: "$set", Value: bson.D{{Key: "status", Value: "reserved"}}}}}}
	narrowedStmt := bson.D{{Key: "q", Value: filterOf("o1")}, stmt[1]}
	head := bson.D{{Key: "update", Value: "orders"}, {Key: "ordered", Value: true}}
	tail := bson.D{{Key: "lsid", Value: lsid}, {Key: "txnNumber", Value: int64(3)}, {Key: "maxTimeMS", Value: int64(999)}, {Key: "$db", Value: "shop"}}
	body := func(d ...bson.E) bson.D { return append(append(append(bson.D{}, head...), d...), tail...) }

	tests := []struct {
		name      string
		req, want message
	}{
		{"statement in a sequence",
			opMsgBytes(0, bodySection(t, body()), sequenceSection(t, "updates", stmt)),
			opMsgBytes(0, bodySection(t, body()), sequenceSection(t, "updates", narrowedStmt))},
		{"statement in the body",
			opMsgBytes(0, bodySection(t, body(bson.E{Key: "updates", Value: bson.A{stmt}}))),
			opMsgBytes(0, bodySection(t, body(bson.E{Key: "updates", Value: bson.A{narrowedStmt}})))},
		{"sequence before the body",
			opMsgBytes(0, sequenceSection(t, "updates", stmt), bodySection(t, body())),
			opMsgBytes(0, bodySection(t, body()), sequenceSection(t, "updates", narrowedStmt))},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			withID := func(m message, id int32) message {
				binary.LittleEndian.PutUint32(m[4:], uint32(id))
				return m
			}
			plan := planFastPath(withID(tt.req, 42), true)
			wp, ok := plan.(*writePlan)
			if !ok {
				t.Fatalf("planFastPath = %T, want a write plan", plan)
			}
			if want := withID(tt.want, 42); !bytes.Equal(wp.narrowed, want) {
				t.Errorf("narrowed request\n%x\nwant\n%x", []byte(wp.narrowed), []byte(want))
			}
			lookup, err := splitOpMsg(wp.lookup)
			if err != nil {
				t.Fatal(err)
			}
			wantLookup := `{"find": "orders","filter": {"_id": "o1"},"limit": {"$numberLong":"1"},"singleBatch": true,"$db": "shop"}`
			if lookup.body.String() != wantLookup {
				t.Errorf("lookup %s, want %s", lookup.body, wantLookup)
			}
		})
	}

	// What falls back before any lookup.
	for name, req := range map[string]message{
		"two statements": opMsgBytes(0, bodySection(t, body()), sequenceSection(t, "updates", stmt, stmt)),
		"checksum":       opMsgBytes(flagChecksumPresent, bodySection(t, body()), sequenceSection(t, "updates", stmt)),
		"unacknowledged": opMsgBytes(flagMoreToCome, bodySection(t, body()), sequenceSection(t, "updates", stmt)),
		"let":            opMsgBytes(0, bodySection(t, body(bson.E{Key: "let", Value: bson.D{}})), sequenceSection(t, "updates", stmt)),
		"both places":    opMsgBytes(0, bodySection(t, body(bson.E{Key: "updates", Value: bson.A{stmt}})), sequenceSection(t, "updates", stmt)),
		"arrayFilters":   opMsgBytes(0, bodySection(t, body()), sequenceSection(t, "updates", append(stmt, bson.E{Key: "arrayFilters", Value: bson.A{}}))),
		"negative maxTimeMS": opMsgBytes(0, bodySection(t, append(head, bson.E{Key: "maxTimeMS", Value: int64(-1)}, bson.E{Key: "$db", Value: "shop"})),
			sequenceSection(t, "updates", stmt)),
	} {
		if plan := planFastPath(req, true); plan != nil {
			t.Errorf("%s: planned %T, want a fallback", name, plan)
		}
	}
	if plan := planFastPath(tests[0].req, false); plan != nil {
		t.Errorf("write planned without the lock: %T", plan)
	}
}

// BenchmarkConditionalUpdateInLargeCollection measures what the fast path
// is for: conditional updates of one document in a collection of 2,000,
// which FerretDB scans whole for every one without it.
func BenchmarkConditionalUpdateInLargeCollection(b *testing.B) {
	for _, bc := range []struct {
		name   string
		config proxyConfig
	}{
		{"fast path", fullProxy},
		{"fast path without _id index", proxyConfig{lockWrites: true, fastPath: true}},
		{"lock only", lockOnlyProxy},
	} {
		b.Run(bc.name, func(b *testing.B) {
			s := startServer(b, b.TempDir(), bc.config)
			coll := connect(b, s.URI()).Database("bench").Collection("products")
			ctx := testContext(b)
			docs := make([]any, 2000)
			ids := make([]bson.ObjectID, len(docs))
			for i := range docs {
				ids[i] = bson.NewObjectID()
				docs[i] = bson.D{{Key: "_id", Value: ids[i]}, {Key: "stock", Value: int64(1 << 40)}, {Key: "reservations", Value: bson.D{}}}
			}
			if _, err := coll.InsertMany(ctx, docs); err != nil {
				b.Fatal(err)
			}
			i := 0
			for b.Loop() {
				i++
				filter := filterOf(ids[i%len(ids)], bson.E{Key: "stock", Value: cond("$gte", int64(1))},
					bson.E{Key: "reservations.x", Value: cond("$exists", false)})
				res, err := coll.UpdateOne(ctx, filter, bson.D{{Key: "$inc", Value: bson.D{{Key: "stock", Value: int64(-1)}}}})
				if err != nil || res.ModifiedCount != 1 {
					b.Fatalf("UpdateOne = %+v, %v", res, err)
				}
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "updates/s")
		})
	}
}
