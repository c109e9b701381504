// Package mongoembed runs an embedded MongoDB-compatible store for `make run`
// and tests: FerretDB v1 with its SQLite backend in a directory, behind a thin
// MongoDB wire-protocol proxy.
//
// The proxy exists for one rule: MongoDB applies every single-document write
// atomically, and FerretDB v1 does not (it reads, then writes, without a lock:
// FerretDB issue 3040), so two racing conditional updates of one document can
// both succeed. The proxy lets one insert, update, delete or findAndModify
// command through at a time, from the moment it is forwarded until FerretDB's
// reply is back. Reads are not serialised.
//
// Holding that lock also lets the proxy make conditional single-document
// writes cheap (fastpath.go): FerretDB decodes a whole collection for any
// filter but a bare {_id: X}, so the proxy looks the document up by _id,
// evaluates the rest of the filter itself, and forwards the write cut down
// to {_id: X} or answers "no match" as FerretDB would. And it gives every
// collection table an index on the expression FerretDB's lookups by _id
// compare, which FerretDB's own _id index is not (idindex.go).
//
// The proxy also says a unique-index violation as MongoDB says it,
// duplicate key 11000, where FerretDB's SQLite backend reports an internal
// error instead (dupkey.go): the services recognise duplicates by code only.
package mongoembed
