package mongoembed

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	_ "modernc.org/sqlite" // FerretDB's own SQLite driver, registered as "sqlite"
)

// The _id index.
//
// FerretDB v1's SQLite backend finds a document by _id with
// `WHERE _ferretdb_sjson->'$._id' = ?` (its metadata.IDColumn), in finds,
// updates and deletes alike, but the unique index it creates for _id is on
// _ferretdb_sjson->"_id": the same value, a different expression, so SQLite
// cannot use it and scans the table. The proxy gives every collection table
// an index on exactly the expression the queries compare, through a
// connection of its own to the database file, and SQLite's planner then
// searches it.
//
// The index is an optimisation only: FerretDB knows nothing of it (it lists,
// counts and drops only the indexes in its own metadata), nothing depends on
// it, and anything unexpected (a metadata table of another shape, an error
// from SQLite) is logged once and leaves that table without it. It goes
// when FerretDB drops its table, with the table.
//
// Tables are indexed when Start finds them, and after the first write
// command for a collection (an insert, update, findAndModify, create or
// createIndexes: everything that creates a collection) has passed through
// the proxy, under the write lock. The proxy also takes the lock for drop,
// dropDatabase and renameCollection, so that its connection is never open
// while FerretDB removes a database file: FerretDB removes the file alone,
// and a write-ahead log kept alive by another connection would outlive it
// and be replayed into a new database of the same name.

const (
	// ferretTableCollections is FerretDB's metadata table in each database
	// file: one row per collection, name and table_name.
	ferretTableCollections = "_ferretdb_collections"
	// ferretIDExpr is FerretDB's metadata.IDColumn, the expression its
	// queries compare with the _id wanted; the index must be on exactly it.
	ferretIDExpr = `_ferretdb_sjson->'$._id'`
	// idIndexSuffix names our index "<table>_travluk_id". FerretDB names its
	// own "<table>_<index name>", so only an index that a client names
	// "travluk_id" could collide with it.
	idIndexSuffix = "_travluk_id"
	// sqliteExt is the extension of FerretDB's database files.
	sqliteExt = ".sqlite"
)

// idIndexer creates the _id index on FerretDB's collection tables.
type idIndexer struct {
	dir string
	log *slog.Logger

	mu     sync.Mutex
	done   map[collKey]bool // collections seen indexed, or given up on
	warned bool
}

type collKey struct{ db, coll string }

func newIDIndexer(dir string, log *slog.Logger) *idIndexer {
	return &idIndexer{dir: dir, log: log, done: make(map[collKey]bool)}
}

// indexAll indexes every collection of every database in the directory.
func (x *idIndexer) indexAll(ctx context.Context) {
	files, err := filepath.Glob(filepath.Join(globEscape(x.dir), "*"+sqliteExt))
	if err != nil {
		x.warn("list database files", err)
		return
	}
	x.mu.Lock()
	defer x.mu.Unlock()
	for _, f := range files {
		x.index(ctx, strings.TrimSuffix(filepath.Base(f), sqliteExt), "")
	}
}

// afterCommand keeps the index in step with a command that FerretDB has
// just answered, in database db, naming collection coll (the value of the
// command's first field). The caller holds the proxy's write lock.
func (x *idIndexer) afterCommand(ctx context.Context, name, db, coll string) {
	x.mu.Lock()
	defer x.mu.Unlock()
	switch name {
	case "insert", "update", "findAndModify", "findandmodify", "create", "createIndexes":
		if db == "" || coll == "" || x.done[collKey{db, coll}] {
			return
		}
		x.index(ctx, db, coll)
	case "drop", "dropDatabase", "renameCollection":
		// Forget more than needed (a rename names its collections in other
		// fields): indexing again costs a look-up and a no-op CREATE INDEX
		// IF NOT EXISTS.
		clear(x.done)
	}
}

// index creates the index on the table of collection coll of database db,
// or of every collection if coll is "", and records them as done. A
// collection not in the metadata is left to a later command.
func (x *idIndexer) index(ctx context.Context, db, coll string) {
	file := filepath.Join(x.dir, db+sqliteExt)
	if _, err := os.Stat(file); err != nil {
		if !errors.Is(err, os.ErrNotExist) {
			x.warn("find database "+db, err)
		}
		return
	}
	conn, err := openFerretFile(file)
	if err != nil {
		x.warn("open database "+db, err)
		x.markDone(db, coll)
		return
	}
	defer conn.Close() // never kept open: see above

	q := `SELECT name, table_name FROM "` + ferretTableCollections + `"`
	var args []any
	if coll != "" {
		q += ` WHERE name = ?`
		args = append(args, coll)
	}
	rows, err := conn.QueryContext(ctx, q, args...)
	if err != nil {
		x.warn("read collections of "+db, err)
		x.markDone(db, coll)
		return
	}
	tables := map[string]string{}
	for rows.Next() {
		var name, table string
		if err := rows.Scan(&name, &table); err != nil {
			rows.Close()
			x.warn("read collections of "+db, err)
			x.markDone(db, coll)
			return
		}
		tables[name] = table
	}
	if err := errors.Join(rows.Err(), rows.Close()); err != nil {
		x.warn("read collections of "+db, err)
		x.markDone(db, coll)
		return
	}
	for name, table := range tables {
		if table == "" || strings.ContainsRune(table, '"') {
			x.warn("index "+db+"."+name, fmt.Errorf("unexpected table name %q", table))
		} else if _, err := conn.ExecContext(ctx, idIndexSQL(table)); err != nil {
			x.warn("index "+db+"."+name, err)
		}
		x.done[collKey{db, name}] = true
	}
}

// markDone records coll as done after a failure, so that every later write
// does not try again. With coll "" there is nothing to record.
func (x *idIndexer) markDone(db, coll string) {
	if coll != "" {
		x.done[collKey{db, coll}] = true
	}
}

// warn logs the first failure at warning level and later ones at debug:
// the store works without the index, only slower.
func (x *idIndexer) warn(what string, err error) {
	level := slog.LevelDebug
	if !x.warned {
		x.warned = true
		level = slog.LevelWarn
	}
	x.log.Log(context.Background(), level, "mongoembed: no _id index, _id lookups will scan", "op", what, "err", err)
}

// idIndexSQL is the statement that creates the index on table.
func idIndexSQL(table string) string {
	return fmt.Sprintf(`CREATE INDEX IF NOT EXISTS "%s" ON "%s" (%s)`, table+idIndexSuffix, table, ferretIDExpr)
}

// openFerretFile opens one of FerretDB's database files, which must exist,
// with one connection that waits a little for FerretDB's locks. The file's
// WAL journal mode is FerretDB's and persists in the file.
func openFerretFile(file string) (*sql.DB, error) {
	q := url.Values{}
	q.Set("mode", "rw")
	q.Add("_pragma", "busy_timeout(2000)")
	u := url.URL{Scheme: "file", Path: file, RawQuery: q.Encode()}
	db, err := sql.Open("sqlite", u.String())
	if err != nil {
		return nil, err
	}
	db.SetMaxOpenConns(1)
	db.SetConnMaxIdleTime(time.Minute)
	return db, nil
}

// globEscape escapes the characters filepath.Glob treats specially.
func globEscape(s string) string {
	var b strings.Builder
	for _, r := range s {
		if strings.ContainsRune(`*?[\`, r) {
			b.WriteRune('\\')
		}
		b.WriteRune(r)
	}
	return b.String()
}
