package mongoembed

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
	"go.mongodb.org/mongo-driver/v2/mongo/writeconcern"
)

// Sizes of the race DESIGN §4 measured: 32 goroutines, 30 attempts each, on
// a stock of 500.
const (
	racers       = 32
	raceAttempts = 30
	raceStock    = 500
)

// Proxy configurations of the tests and benchmarks: what Start runs, and
// less.
var (
	fullProxy     = proxyConfig{lockWrites: true, fastPath: true, idIndex: true}
	lockOnlyProxy = proxyConfig{lockWrites: true}
	plainProxy    = proxyConfig{}
)

func startServer(t testing.TB, dir string, config proxyConfig) *Server {
	t.Helper()
	begin := time.Now()
	s, err := start(context.Background(), Options{Dir: dir, Logger: testLogger(t)}, config)
	if err != nil {
		t.Fatalf("start: %v", err)
	}
	t.Logf("embedded store up in %v", time.Since(begin).Round(time.Millisecond))
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return s
}

// testLogger sends FerretDB's warnings to the test log, where a failing test
// shows them.
func testLogger(t testing.TB) *slog.Logger {
	return slog.New(slog.NewTextHandler(tWriter{t}, nil))
}

type tWriter struct{ t testing.TB }

func (w tWriter) Write(p []byte) (int, error) {
	w.t.Log(string(p))
	return len(p), nil
}

func connect(t testing.TB, uri string, opts ...*options.ClientOptions) *mongo.Client {
	t.Helper()
	c, err := mongo.Connect(append([]*options.ClientOptions{options.Client().ApplyURI(uri)}, opts...)...)
	if err != nil {
		t.Fatalf("connect %s: %v", uri, err)
	}
	t.Cleanup(func() { _ = c.Disconnect(context.Background()) })
	return c
}

func testContext(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	t.Cleanup(cancel)
	return ctx
}

// raceResult is what one race of conditional decrements left behind.
type raceResult struct {
	modified   int64 // updates the server reported as applied
	stock      int64
	sold       int64
	operations int64
	elapsed    time.Duration
}

// raceDecrements seeds one document with raceStock and lets racers goroutines
// each try raceAttempts conditional decrements of it, the way a buy reserves
// stock.
func raceDecrements(t testing.TB, coll *mongo.Collection) raceResult {
	t.Helper()
	ctx := testContext(t)
	id := bson.NewObjectID()
	if _, err := coll.InsertOne(ctx, bson.D{{Key: "_id", Value: id}, {Key: "stock", Value: int64(raceStock)}, {Key: "sold", Value: int64(0)}}); err != nil {
		t.Fatalf("seed: %v", err)
	}
	filter := bson.D{{Key: "_id", Value: id}, {Key: "stock", Value: bson.D{{Key: "$gte", Value: 1}}}}
	update := bson.D{{Key: "$inc", Value: bson.D{{Key: "stock", Value: -1}, {Key: "sold", Value: 1}}}}

	var modified atomic.Int64
	errs := make(chan error, racers)
	var wg sync.WaitGroup
	begin := time.Now()
	for range racers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range raceAttempts {
				res, err := coll.UpdateOne(ctx, filter, update)
				if err != nil {
					errs <- err
					return
				}
				modified.Add(res.ModifiedCount)
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(begin)
	close(errs)
	for err := range errs {
		t.Fatalf("conditional update: %v", err)
	}

	var doc struct{ Stock, Sold int64 }
	if err := coll.FindOne(ctx, bson.D{{Key: "_id", Value: id}}).Decode(&doc); err != nil {
		t.Fatalf("read back: %v", err)
	}
	return raceResult{
		modified:   modified.Load(),
		stock:      doc.Stock,
		sold:       doc.Sold,
		operations: racers * raceAttempts,
		elapsed:    elapsed,
	}
}

// TestConditionalUpdatesAreAtomic is the guarantee the proxy exists for:
// racing conditional updates of one document never oversell and never lose an
// update, as on MongoDB. It runs both through the fast path (the filter is
// {_id, stock: {$gte: 1}}) and without it.
func TestConditionalUpdatesAreAtomic(t *testing.T) {
	for name, config := range map[string]proxyConfig{"fast path": fullProxy, "lock only": lockOnlyProxy} {
		t.Run(name, func(t *testing.T) {
			s := startServer(t, t.TempDir(), config)
			coll := connect(t, s.URI()).Database("race").Collection("products")

			r := raceDecrements(t, coll)
			t.Logf("%d conditional updates in %v: %.0f ops/s", r.operations, r.elapsed.Round(time.Millisecond), float64(r.operations)/r.elapsed.Seconds())
			if r.modified != raceStock || r.stock != 0 || r.sold != raceStock {
				t.Errorf("modified %d, stock %d, sold %d; want %d, 0, %d", r.modified, r.stock, r.sold, raceStock, raceStock)
			}
			// Each update is one fast-path write, and the read back one more.
			if config.fastPath && s.proxy.fastServed.Load() < r.operations {
				t.Errorf("fast path served %d requests, want at least the %d updates", s.proxy.fastServed.Load(), r.operations)
			}
		})
	}
}

// TestProxyServesWhatTheServicesUse runs, through the proxy, each kind of
// command the services rely on.
func TestProxyServesWhatTheServicesUse(t *testing.T) {
	s := startServer(t, t.TempDir(), fullProxy)
	client := connect(t, s.URI())
	db := client.Database("shop")
	ctx := testContext(t)

	t.Run("insert and read", func(t *testing.T) {
		coll := db.Collection("reads")
		docs := []any{bson.D{{Key: "_id", Value: "a"}, {Key: "n", Value: 1}}, bson.D{{Key: "_id", Value: "b"}, {Key: "n", Value: 2}}}
		if _, err := coll.InsertMany(ctx, docs); err != nil {
			t.Fatal(err)
		}
		n, err := coll.CountDocuments(ctx, bson.D{{Key: "n", Value: bson.D{{Key: "$gte", Value: 1}}}})
		if err != nil || n != 2 {
			t.Fatalf("CountDocuments = %d, %v; want 2", n, err)
		}
		// A batch size of 1 makes the driver page with getMore.
		cur, err := coll.Find(ctx, bson.D{}, options.Find().SetSort(bson.D{{Key: "n", Value: 1}}).SetBatchSize(1))
		if err != nil {
			t.Fatal(err)
		}
		var got []struct {
			ID string `bson:"_id"`
		}
		if err := cur.All(ctx, &got); err != nil {
			t.Fatal(err)
		}
		if len(got) != 2 || got[0].ID != "a" || got[1].ID != "b" {
			t.Errorf("Find = %+v, want a then b", got)
		}
	})

	t.Run("findAndModify", func(t *testing.T) {
		coll := db.Collection("counters")
		var got struct{ Value int64 }
		err := coll.FindOneAndUpdate(ctx,
			bson.D{{Key: "_id", Value: "orders"}},
			bson.D{{Key: "$inc", Value: bson.D{{Key: "value", Value: int64(1)}}}},
			options.FindOneAndUpdate().SetUpsert(true).SetReturnDocument(options.After),
		).Decode(&got)
		if err != nil || got.Value != 1 {
			t.Fatalf("FindOneAndUpdate = %+v, %v; want value 1", got, err)
		}
		if err := coll.FindOneAndDelete(ctx, bson.D{{Key: "_id", Value: "orders"}}).Err(); err != nil {
			t.Fatalf("FindOneAndDelete: %v", err)
		}
	})

	t.Run("unique index refuses a duplicate", func(t *testing.T) {
		coll := db.Collection("accounts")
		name, err := coll.Indexes().CreateOne(ctx, mongo.IndexModel{
			Keys:    bson.D{{Key: "email", Value: 1}},
			Options: options.Index().SetUnique(true),
		})
		if err != nil {
			t.Fatalf("CreateOne: %v", err)
		}
		if name != "email_1" {
			t.Errorf("index name = %q, want email_1", name)
		}
		if _, err := coll.InsertOne(ctx, bson.D{{Key: "email", Value: "ada@example.com"}}); err != nil {
			t.Fatal(err)
		}
		_, err = coll.InsertOne(ctx, bson.D{{Key: "email", Value: "ada@example.com"}})
		if !mongo.IsDuplicateKeyError(err) {
			t.Errorf("second insert: %v, want a duplicate key error", err)
		}
		var we mongo.WriteException
		if errors.As(err, &we) && (len(we.WriteErrors) != 1 || we.WriteErrors[0].Code != 11000) {
			t.Errorf("write errors = %+v, want one E11000", we.WriteErrors)
		}
	})

	t.Run("outbox map fields", func(t *testing.T) {
		coll := db.Collection("aggregates")
		if _, err := coll.InsertOne(ctx, bson.D{{Key: "_id", Value: "p1"}, {Key: "outbox", Value: bson.D{}}}); err != nil {
			t.Fatal(err)
		}
		set := bson.D{{Key: "$set", Value: bson.D{
			{Key: "outbox.e1", Value: bson.D{{Key: "type", Value: "thing.happened"}}},
			{Key: "outbox.e2", Value: bson.D{{Key: "type", Value: "thing.changed"}}},
		}}}
		if _, err := coll.UpdateByID(ctx, "p1", set); err != nil {
			t.Fatalf("$set: %v", err)
		}
		unset := bson.D{{Key: "$unset", Value: bson.D{{Key: "outbox.e1", Value: ""}}}}
		if _, err := coll.UpdateByID(ctx, "p1", unset); err != nil {
			t.Fatalf("$unset: %v", err)
		}
		var got struct {
			Outbox map[string]struct{ Type string }
		}
		if err := coll.FindOne(ctx, bson.D{{Key: "_id", Value: "p1"}}).Decode(&got); err != nil {
			t.Fatal(err)
		}
		if len(got.Outbox) != 1 || got.Outbox["e2"].Type != "thing.changed" {
			t.Errorf("outbox = %+v, want only e2", got.Outbox)
		}
		// Finding aggregates with pending events is how a relay polls.
		n, err := coll.CountDocuments(ctx, bson.D{{Key: "outbox.e2", Value: bson.D{{Key: "$exists", Value: true}}}})
		if err != nil || n != 1 {
			t.Errorf("count with outbox.e2 = %d, %v; want 1", n, err)
		}
	})

	t.Run("delete", func(t *testing.T) {
		coll := db.Collection("reads")
		res, err := coll.DeleteMany(ctx, bson.D{})
		if err != nil || res.DeletedCount != 2 {
			t.Fatalf("DeleteMany = %+v, %v; want 2 deleted", res, err)
		}
	})

	t.Run("unacknowledged write keeps the connection in step", func(t *testing.T) {
		// w:0 makes the driver set moreToCome and read no reply; FerretDB
		// answers anyway, and the proxy must swallow that answer. One
		// connection makes the next command use the very same socket.
		c := connect(t, s.URI(), options.Client().SetMaxPoolSize(1))
		coll := c.Database("shop").Collection("fireandforget",
			options.Collection().SetWriteConcern(writeconcern.Unacknowledged()))
		if _, err := coll.InsertOne(ctx, bson.D{{Key: "_id", Value: 1}}); err != nil {
			t.Fatal(err)
		}
		var got bson.M
		if err := coll.FindOne(ctx, bson.D{{Key: "_id", Value: 1}}).Decode(&got); err != nil {
			t.Fatalf("read after unacknowledged insert: %v", err)
		}
	})
}

// TestDataSurvivesRestart checks that Dir is the database: what was written
// before Close is there after a new Start on the same Dir.
func TestDataSurvivesRestart(t *testing.T) {
	dir := t.TempDir()
	ctx := testContext(t)

	first, err := Start(ctx, Options{Dir: dir, Logger: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	c := connect(t, first.URI())
	if _, err := c.Database("keep").Collection("things").InsertOne(ctx, bson.D{{Key: "_id", Value: "x"}, {Key: "v", Value: 42}}); err != nil {
		t.Fatal(err)
	}
	_ = c.Disconnect(ctx)
	if err := first.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if err := first.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}

	second := startServer(t, dir, fullProxy)
	var got struct{ V int }
	err = connect(t, second.URI()).Database("keep").Collection("things").FindOne(ctx, bson.D{{Key: "_id", Value: "x"}}).Decode(&got)
	if err != nil || got.V != 42 {
		t.Fatalf("after restart: %+v, %v; want v 42", got, err)
	}
}

func TestStartRefusesABusyAddress(t *testing.T) {
	s := startServer(t, t.TempDir(), fullProxy)
	addr := s.proxy.ln.Addr().String()
	if other, err := Start(context.Background(), Options{Dir: t.TempDir(), Addr: addr}); err == nil {
		other.Close()
		t.Fatalf("Start on %s succeeded, want an error", addr)
	}
}

// BenchmarkConditionalUpdateRace measures the race of
// TestConditionalUpdatesAreAtomic through the proxy with its write lock and
// fast path, with the lock only, with neither, and straight to FerretDB. Without the lock the counts are
// wrong; that is the point, and it is reported, not asserted.
func BenchmarkConditionalUpdateRace(b *testing.B) {
	for _, bc := range []struct {
		name   string
		config proxyConfig
		direct bool
	}{
		{"proxy with lock and fast path", fullProxy, false},
		{"proxy with lock", lockOnlyProxy, false},
		{"proxy without lock", plainProxy, false},
		{"FerretDB direct", plainProxy, true},
	} {
		b.Run(bc.name, func(b *testing.B) {
			s := startServer(b, b.TempDir(), bc.config)
			uri := s.URI()
			if bc.direct {
				uri = "mongodb://" + s.backend + "/"
			}
			coll := connect(b, uri).Database("bench").Collection("products")
			var ops, modified, stock, lostOrOversold int64
			var elapsed time.Duration
			for b.Loop() {
				r := raceDecrements(b, coll)
				ops += r.operations
				modified += r.modified
				stock += r.stock
				elapsed += r.elapsed
				if r.modified != raceStock || r.stock != 0 || r.sold != raceStock {
					lostOrOversold++
				}
			}
			b.ReportMetric(float64(ops)/elapsed.Seconds(), "ops/s")
			b.ReportMetric(float64(modified)/float64(b.N), "modified/race")
			b.ReportMetric(float64(stock)/float64(b.N), "stock-left/race")
			b.ReportMetric(float64(lostOrOversold)/float64(b.N), "wrong/race")
		})
	}
}
