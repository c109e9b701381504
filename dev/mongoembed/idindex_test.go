package mongoembed

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
)

// ferretPlans returns SQLite's query plans for the statements FerretDB's
// SQLite backend issues to find, update and delete by _id (collection.go
// Query, UpdateAll, DeleteAll in v1.24.2), run on collection coll of
// database db, straight on the database file.
func ferretPlans(t *testing.T, dir, db, coll string) map[string]string {
	t.Helper()
	conn, err := openFerretFile(filepath.Join(dir, db+sqliteExt))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	var table string
	if err := conn.QueryRow(`SELECT table_name FROM "`+ferretTableCollections+`" WHERE name = ?`, coll).Scan(&table); err != nil {
		t.Fatalf("table of %s.%s: %v", db, coll, err)
	}
	id := `{"$o":"000000000000000000000000"}`
	plans := map[string]string{}
	for name, q := range map[string]string{
		"find":   fmt.Sprintf(`SELECT _ferretdb_sjson FROM %q WHERE _ferretdb_sjson->'$._id' = ? LIMIT ?`, table),
		"update": fmt.Sprintf(`UPDATE %q SET _ferretdb_sjson = ? WHERE _ferretdb_sjson->'$._id' = ?`, table),
		"delete": fmt.Sprintf(`DELETE FROM %q WHERE _ferretdb_sjson->'$._id' IN (?, ?)`, table),
	} {
		args := map[string][]any{"find": {id, 1}, "update": {`{}`, id}, "delete": {id, id}}[name]
		rows, err := conn.Query(`EXPLAIN QUERY PLAN `+q, args...)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		var details []string
		for rows.Next() {
			var id, parent, notused int
			var detail string
			if err := rows.Scan(&id, &parent, &notused, &detail); err != nil {
				t.Fatal(err)
			}
			details = append(details, detail)
		}
		if err := rows.Err(); err != nil {
			t.Fatal(err)
		}
		rows.Close()
		plans[name] = strings.Join(details, "; ")
	}
	return plans
}

// explainFind returns FerretDB's own plan of a find of {_id: id}: it runs
// EXPLAIN QUERY PLAN on the very statement it would issue. It runs the find
// first: an EXPLAIN does not notice that another connection changed the
// schema (a statement that reads does, and is prepared again), so on a
// connection that has not read since the index came, it would show the plan
// of before.
func explainFind(ctx context.Context, t *testing.T, db *mongo.Database, coll string, id any) string {
	t.Helper()
	if err := db.Collection(coll).FindOne(ctx, bson.D{{Key: "_id", Value: id}}).Err(); err != nil {
		t.Fatal(err)
	}
	var res bson.M
	err := db.RunCommand(ctx, bson.D{
		{Key: "explain", Value: bson.D{{Key: "find", Value: coll}, {Key: "filter", Value: bson.D{{Key: "_id", Value: id}}}}},
	}).Decode(&res)
	if err != nil {
		t.Fatal(err)
	}
	return fmt.Sprint(res["queryPlanner"])
}

func usesIDIndex(plan string) bool {
	return strings.Contains(plan, "USING INDEX") && strings.Contains(plan, idIndexSuffix) && !strings.Contains(plan, "SCAN")
}

func TestIDLookupsUseTheIndex(t *testing.T) {
	ctx := testContext(t)
	dir := t.TempDir()

	// Without the index, the test's premise: FerretDB's lookups scan.
	s := startServer(t, dir, lockOnlyProxy)
	db := connect(t, s.URI()).Database("shop")
	old := bson.NewObjectID()
	if _, err := db.Collection("old").InsertOne(ctx, bson.D{{Key: "_id", Value: old}, {Key: "n", Value: 1}}); err != nil {
		t.Fatal(err)
	}
	for name, plan := range ferretPlans(t, dir, "shop", "old") {
		if !strings.Contains(plan, "SCAN") || usesIDIndex(plan) {
			t.Errorf("without the index, %s plan = %q, want a SCAN", name, plan)
		}
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	// Start indexes the tables it finds.
	s = startServer(t, dir, fullProxy)
	db = connect(t, s.URI()).Database("shop")
	for name, plan := range ferretPlans(t, dir, "shop", "old") {
		if !usesIDIndex(plan) {
			t.Errorf("collection from before Start: %s plan = %q, want a SEARCH using the _id index", name, plan)
		}
	}
	if plan := explainFind(ctx, t, db, "old", old); !usesIDIndex(plan) {
		t.Errorf("FerretDB's explain of find by _id = %s, want the _id index", plan)
	}

	// Collections created through the proxy, in every way, get it too.
	id := bson.NewObjectID()
	create := map[string]func(coll *mongo.Collection) error{
		"insert": func(c *mongo.Collection) error {
			_, err := c.InsertOne(ctx, bson.D{{Key: "_id", Value: id}})
			return err
		},
		"upsert": func(c *mongo.Collection) error {
			_, err := c.UpdateOne(ctx, bson.D{{Key: "_id", Value: id}}, bson.D{{Key: "$set", Value: bson.D{{Key: "n", Value: 1}}}}, options.UpdateOne().SetUpsert(true))
			return err
		},
		"create": func(c *mongo.Collection) error {
			return c.Database().CreateCollection(ctx, c.Name())
		},
		"createIndexes": func(c *mongo.Collection) error {
			_, err := c.Indexes().CreateOne(ctx, mongo.IndexModel{Keys: bson.D{{Key: "n", Value: 1}}})
			return err
		},
	}
	for how, do := range create {
		if err := do(db.Collection("by_" + how)); err != nil {
			t.Fatalf("%s: %v", how, err)
		}
		for name, plan := range ferretPlans(t, dir, "shop", "by_"+how) {
			if !usesIDIndex(plan) {
				t.Errorf("collection created by %s: %s plan = %q, want the _id index", how, name, plan)
			}
		}
	}

	// Dropped and created again, a collection has a new table, indexed
	// again; so has a dropped and recreated database, whose documents are
	// its own only.
	coll := db.Collection("by_insert")
	if err := coll.Drop(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := coll.InsertOne(ctx, bson.D{{Key: "_id", Value: "again"}}); err != nil {
		t.Fatal(err)
	}
	for name, plan := range ferretPlans(t, dir, "shop", "by_insert") {
		if !usesIDIndex(plan) {
			t.Errorf("collection created again: %s plan = %q, want the _id index", name, plan)
		}
	}
	if err := db.Drop(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Collection("old").InsertOne(ctx, bson.D{{Key: "_id", Value: "fresh"}}); err != nil {
		t.Fatal(err)
	}
	for name, plan := range ferretPlans(t, dir, "shop", "old") {
		if !usesIDIndex(plan) {
			t.Errorf("database created again: %s plan = %q, want the _id index", name, plan)
		}
	}
	if got := dump(ctx, t, db.Collection("old")); len(got) != 1 || !strings.Contains(got[0], "fresh") {
		t.Errorf("database created again holds %v, want only the fresh document", got)
	}
	names, err := db.ListCollectionNames(ctx, bson.D{})
	if err != nil || len(names) != 1 {
		t.Errorf("database created again lists %v, %v; want only old", names, err)
	}
	// FerretDB lists only its own indexes.
	specs, err := db.Collection("old").Indexes().ListSpecifications(ctx)
	if err != nil || len(specs) != 1 || specs[0].Name != "_id_" {
		t.Errorf("listIndexes = %v, %v; want only _id_", specs, err)
	}
}
