package mongoembed

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"slices"
	"strings"

	"go.mongodb.org/mongo-driver/v2/bson"
)

// The fast path.
//
// FerretDB v1's SQLite backend turns a filter into SQL only when it is
// exactly {_id: <string or ObjectID>}; any other filter, {_id: X, stock:
// {$gte: 2}} included, makes it read and decode every document of the
// collection in Go. The services' conditional single-document writes all
// have such filters, so on a catalog of a thousand products each of them
// decoded a thousand documents.
//
// The proxy already holds its write lock from forwarding a write until its
// reply is back, so it can split such a write, with nothing able to come in
// between: a find of {_id: X} (done in SQL), the rest of the filter
// evaluated here against that one document, and then either the write with
// its filter cut down to {_id: X} (done in SQL again), or, if the document
// does not match, the reply FerretDB gives when nothing matches. A read of
// {_id: {$in: [...]}, ...} is served as one such find per _id.
//
// "Done in SQL" is an index lookup thanks to the _id index the proxy adds
// (idindex.go): FerretDB's own _id index is on _ferretdb_sjson->"_id" while
// its queries compare _ferretdb_sjson->'$._id', which without ours makes
// SQLite scan the table, extracting _id from each row's JSON.
//
// Anything outside the narrow shapes below goes to FerretDB unchanged.

// maxInIDs bounds the _ids of a read served as one lookup per _id: each is a
// round trip to FerretDB and an index lookup in SQL (a scan of the table, if
// the _id index is missing), and beyond a hundred one scan in Go may be as
// cheap.
const maxInIDs = 100

// backendConn is the proxy's connection to FerretDB for one client
// connection.
type backendConn struct {
	net.Conn
	r *bufio.Reader
}

// roundTrip sends req and reads its reply.
func (b backendConn) roundTrip(req message) (message, error) {
	if _, err := b.Write(req); err != nil {
		return nil, fmt.Errorf("forward request: %w", err)
	}
	reply, err := readMessage(b.r)
	if errors.Is(err, io.EOF) {
		err = io.ErrUnexpectedEOF // FerretDB hung up without answering
	}
	if err != nil {
		return nil, fmt.Errorf("read reply: %w", err)
	}
	return reply, nil
}

// fastPlan is a request the proxy serves with pushed-down lookups by _id.
type fastPlan interface {
	// run serves original, the request the plan was made from. fast is
	// false if it found it outside the fast path after all and forwarded it
	// unchanged.
	run(b backendConn, original message) (reply message, fast bool, err error)
}

// planFastPath returns how to serve req on the fast path, or nil if req is
// outside it. Writes are planned only when the caller holds the write lock
// (locked), since the plan's steps must not interleave with other writes.
func planFastPath(req message, locked bool) fastPlan {
	if req.moreToCome() {
		return nil // unacknowledged: the client reads no reply, keep it simple
	}
	m, err := splitOpMsg(req)
	if err != nil || m.flags&flagChecksumPresent != 0 || m.body.Validate() != nil {
		return nil // a checksum would have to be recomputed for a rewritten message
	}
	for _, seq := range m.sequences {
		for _, d := range seq.docs {
			if d.Validate() != nil {
				return nil
			}
		}
	}
	name, err := firstKey(m.body)
	if err != nil || !validMaxTimeMS(m.body.Lookup("maxTimeMS")) {
		return nil
	}

	var plan fastPlan
	switch {
	case name == "update" && locked:
		plan, err = planUpdate(m)
	case name == "delete" && locked:
		plan, err = planDelete(m)
	case (name == "findAndModify" || name == "findandmodify") && locked:
		plan, err = planFindAndModify(m, name)
	case name == "find":
		plan, err = planIDsRead(m)
	}
	if err != nil {
		return nil
	}
	return plan
}

// commonFields are the fields of a command FerretDB ignores or merely
// checks the type of, and the Go driver may add. A field not in a plan's
// list sends the command to FerretDB, whose errors for it (such as "let is
// not implemented") the proxy does not try to reproduce.
var commonFields = []string{"$db", "lsid", "txnNumber", "$clusterTime", "$readPreference", "writeConcern", "maxTimeMS"}

// validMaxTimeMS reports whether FerretDB accepts v as maxTimeMS, which the
// Go driver adds to every command whose context has a deadline. The
// lookups go without it: they read one row.
func validMaxTimeMS(v bson.RawValue) bool {
	if v.Type == 0 {
		return true
	}
	if v.Type != bson.TypeInt32 && v.Type != bson.TypeInt64 {
		return false
	}
	return v.AsInt64() >= 0 && v.AsInt64() <= math.MaxInt32
}

// onlyFields fails with errOutside if doc has a field outside allowed and
// common.
func onlyFields(doc bson.Raw, common []string, allowed ...string) error {
	elems, err := doc.Elements()
	if err != nil {
		return err
	}
	for _, e := range elems {
		if !slices.Contains(allowed, e.Key()) && !slices.Contains(common, e.Key()) {
			return errOutside
		}
	}
	return nil
}

// writePlan serves a single-document write whose filter is {_id: X, rest}.
type writePlan struct {
	lookup   message  // find {_id: X}, limit 1
	rest     matcher  // the filter without _id
	narrowed message  // the request with its filter cut down to {_id: X}
	noMatch  bson.Raw // FerretDB's reply body when nothing matches
}

// planUpdate plans an update of one statement, neither multi nor upsert.
func planUpdate(m msgParts) (fastPlan, error) {
	if err := onlyFields(m.body, commonFields, "update", "updates", "ordered"); err != nil {
		return nil, err
	}
	stmt, replace, err := singleStatement(m, "updates")
	if err != nil {
		return nil, err
	}
	if err := onlyFields(stmt, nil, "q", "u", "upsert", "multi"); err != nil {
		return nil, err
	}
	if !isFalseOrAbsent(stmt.Lookup("upsert")) || !isFalseOrAbsent(stmt.Lookup("multi")) {
		return nil, errOutside
	}
	if u, ok := stmt.Lookup("u").DocumentOK(); !ok || !updateParses(u) {
		return nil, errOutside
	}
	return planWrite(m, stmt.Lookup("q"), func(q bson.RawValue) (msgParts, error) {
		s, err := replaceField(stmt, "q", q)
		if err != nil {
			return msgParts{}, err
		}
		return replace(s)
	}, bson.D{
		{Key: "n", Value: int32(0)},
		{Key: "nModified", Value: int32(0)},
		{Key: "ok", Value: float64(1)},
	})
}

// planDelete plans a delete of one statement with limit 1.
func planDelete(m msgParts) (fastPlan, error) {
	if err := onlyFields(m.body, commonFields, "delete", "deletes", "ordered"); err != nil {
		return nil, err
	}
	stmt, replace, err := singleStatement(m, "deletes")
	if err != nil {
		return nil, err
	}
	if err := onlyFields(stmt, nil, "q", "limit"); err != nil {
		return nil, err
	}
	if !isNumber(stmt.Lookup("limit"), 1) {
		return nil, errOutside
	}
	return planWrite(m, stmt.Lookup("q"), func(q bson.RawValue) (msgParts, error) {
		s, err := replaceField(stmt, "q", q)
		if err != nil {
			return msgParts{}, err
		}
		return replace(s)
	}, bson.D{
		{Key: "n", Value: int32(0)},
		{Key: "ok", Value: float64(1)},
	})
}

// planFindAndModify plans a findAndModify without sort, upsert or
// projection.
func planFindAndModify(m msgParts, name string) (fastPlan, error) {
	if err := onlyFields(m.body, commonFields, name, "query", "update", "remove", "new", "upsert"); err != nil {
		return nil, err
	}
	if !isFalseOrAbsent(m.body.Lookup("upsert")) || !isBoolOrAbsent(m.body.Lookup("new")) || !isBoolOrAbsent(m.body.Lookup("remove")) {
		return nil, errOutside
	}
	// FerretDB's lastErrorObject has updatedExisting only for an update.
	lastError := bson.D{{Key: "n", Value: int32(0)}}
	update := m.body.Lookup("update")
	if remove, _ := m.body.Lookup("remove").BooleanOK(); remove {
		if update.Type != 0 || !isFalseOrAbsent(m.body.Lookup("new")) {
			return nil, errOutside // FerretDB refuses these combinations
		}
	} else {
		if u, ok := update.DocumentOK(); !ok || !updateParses(u) {
			return nil, errOutside
		}
		lastError = append(lastError, bson.E{Key: "updatedExisting", Value: false})
	}
	return planWrite(m, m.body.Lookup("query"), func(q bson.RawValue) (msgParts, error) {
		n := m
		body, err := replaceField(m.body, "query", q)
		n.body = body
		return n, err
	}, bson.D{
		{Key: "lastErrorObject", Value: lastError},
		{Key: "value", Value: nil},
		{Key: "ok", Value: float64(1)},
	})
}

// planWrite completes a write plan from the command's filter, a function
// that rebuilds the command with another filter, and FerretDB's reply when
// nothing matches.
func planWrite(m msgParts, filter bson.RawValue, withFilter func(bson.RawValue) (msgParts, error), noMatch bson.D) (fastPlan, error) {
	f, ok := filter.DocumentOK()
	if !ok {
		return nil, errOutside
	}
	id, rest, err := compileFilter(f)
	if err != nil {
		return nil, err
	}
	if !pushedDown(id) || len(rest) == 0 {
		return nil, errOutside // FerretDB pushes a bare {_id: X} down itself
	}
	byID, err := idFilter(id)
	if err != nil {
		return nil, err
	}
	narrowed, err := withFilter(byID)
	if err != nil {
		return nil, err
	}
	lookup, err := lookupByID(m, id)
	if err != nil {
		return nil, err
	}
	reply, err := bson.Marshal(noMatch)
	if err != nil {
		return nil, err
	}
	return &writePlan{
		lookup:   lookup,
		rest:     rest,
		narrowed: buildOpMsg(m.requestID, 0, m.flags, narrowed.body, narrowed.sequences),
		noMatch:  reply,
	}, nil
}

// run looks the document up by _id and decides. The caller holds the write
// lock, so the document cannot change between the lookup and the write.
func (p *writePlan) run(b backendConn, original message) (message, bool, error) {
	docs, replyID, err := lookup(b, p.lookup)
	if err != nil {
		return nil, false, err
	}
	if docs == nil {
		// FerretDB answered the lookup with an error: let it answer the command.
		return forward(b, original)
	}
	ok := false
	if len(docs) == 1 {
		ok, err = p.rest.matches(docs[0])
		switch {
		case errors.Is(err, errOutside):
			return forward(b, original)
		case err != nil:
			return nil, false, err
		}
	}
	if ok || len(docs) == 0 {
		// No such _id goes to FerretDB too: it finds that as fast from
		// {_id: X}, and its own reply covers every detail (an update
		// creates a missing collection, for one).
		reply, err := b.roundTrip(p.narrowed)
		return reply, true, err
	}
	// The reply's own requestID is that of FerretDB's reply to the lookup,
	// which no client has seen, so ids on this connection stay unique.
	return buildOpMsg(replyID, requestIDOf(original), 0, p.noMatch, nil), true, nil
}

// forward sends the original request to FerretDB, off the fast path.
func forward(b backendConn, original message) (message, bool, error) {
	reply, err := b.roundTrip(original)
	return reply, false, err
}

// idsReadPlan serves a find whose filter is {_id: {$in: [...]}, rest} with
// one find of {_id: X} per _id. Reads take no lock: the lookups see each
// document as of its own moment, which is all a MongoDB find promises too
// (it yields between documents; only readConcern "snapshot" does more, and
// the proxy leaves every readConcern to FerretDB).
type idsReadPlan struct {
	lookups []message
	rest    matcher
	idOnly  bool // projection {_id: 1}
	ns      string
}

// planIDsRead plans a find of at most maxInIDs string or ObjectID _ids,
// without sort, skip, limit, or a projection other than {_id: 1}.
func planIDsRead(m msgParts) (fastPlan, error) {
	if err := onlyFields(m.body, []string{"$db", "lsid", "$clusterTime", "$readPreference", "maxTimeMS"},
		"find", "filter", "projection", "batchSize", "singleBatch"); err != nil {
		return nil, err
	}
	f, ok := m.body.Lookup("filter").DocumentOK()
	if !ok {
		return nil, errOutside
	}
	id, rest, err := compileFilter(f)
	if err != nil {
		return nil, err
	}
	in, ok := id.DocumentOK()
	if !ok {
		return nil, errOutside
	}
	if err := onlyFields(in, nil, "$in"); err != nil {
		return nil, err
	}
	arr, ok := in.Lookup("$in").ArrayOK()
	if !ok {
		return nil, errOutside
	}
	ids, err := arr.Values()
	if err != nil || len(ids) == 0 || len(ids) > maxInIDs {
		return nil, errOutside
	}
	// FerretDB returns up to batchSize documents (101 unless told) in the
	// first batch and keeps a cursor open after a full one; answering all
	// at once is the same only when they fit in less than a batch.
	if bs := m.body.Lookup("batchSize"); bs.Type != 0 && !(isScalar(bs) && bs.IsNumber() && bs.AsFloat64() > float64(len(ids))) {
		return nil, errOutside
	}
	if !isBoolOrAbsent(m.body.Lookup("singleBatch")) {
		return nil, errOutside
	}
	idOnly, err := idOnlyProjection(m.body.Lookup("projection"))
	if err != nil {
		return nil, err
	}
	plan := &idsReadPlan{rest: rest, idOnly: idOnly}
	seen := make([]bson.RawValue, 0, len(ids))
	for _, x := range ids {
		if !pushedDown(x) {
			return nil, errOutside
		}
		if slices.ContainsFunc(seen, x.Equal) {
			continue // $in matches a document once however often it lists its _id
		}
		seen = append(seen, x)
		l, err := lookupByID(m, x)
		if err != nil {
			return nil, err
		}
		plan.lookups = append(plan.lookups, l)
	}
	db, _ := m.body.Lookup("$db").StringValueOK()
	coll, _ := m.body.Lookup("find").StringValueOK()
	plan.ns = db + "." + coll
	return plan, nil
}

func (p *idsReadPlan) run(b backendConn, original message) (message, bool, error) {
	var batch bson.A
	var replyID int32
	for _, l := range p.lookups {
		docs, id, err := lookup(b, l)
		if err != nil {
			return nil, false, err
		}
		if docs == nil {
			return forward(b, original)
		}
		replyID = id
		if len(docs) == 0 {
			continue
		}
		ok, err := p.rest.matches(docs[0])
		switch {
		case errors.Is(err, errOutside):
			return forward(b, original)
		case err != nil:
			return nil, false, err
		case !ok:
			continue
		}
		if p.idOnly {
			batch = append(batch, bson.D{{Key: "_id", Value: docs[0].Lookup("_id")}})
		} else {
			batch = append(batch, docs[0])
		}
	}
	body, err := bson.Marshal(bson.D{
		{Key: "cursor", Value: bson.D{
			{Key: "firstBatch", Value: batch},
			{Key: "id", Value: int64(0)},
			{Key: "ns", Value: p.ns},
		}},
		{Key: "ok", Value: float64(1)},
	})
	if err != nil {
		return nil, false, err
	}
	return buildOpMsg(replyID, requestIDOf(original), 0, body, nil), true, nil
}

// idOnlyProjection accepts no projection, {} and {_id: 1} (or true), and
// reports whether it is the last.
func idOnlyProjection(v bson.RawValue) (bool, error) {
	if v.Type == 0 {
		return false, nil
	}
	proj, ok := v.DocumentOK()
	if !ok {
		return false, errOutside
	}
	elems, err := proj.Elements()
	if err != nil {
		return false, err
	}
	switch {
	case len(elems) == 0:
		return false, nil
	case len(elems) > 1 || elems[0].Key() != "_id":
		return false, errOutside
	}
	incl := elems[0].Value()
	if b, ok := incl.BooleanOK(); ok && b {
		return true, nil
	}
	if isNumber(incl, 1) {
		return true, nil
	}
	return false, errOutside
}

// pushedDown reports whether FerretDB's SQLite backend looks a document up
// by this _id in SQL rather than by decoding every document: only strings
// and ObjectIDs. (An int _id would be decoded through for the lookup and
// again for the write.)
func pushedDown(id bson.RawValue) bool {
	return id.Type == bson.TypeString || id.Type == bson.TypeObjectID
}

// idFilter returns {_id: id} as a document value.
func idFilter(id bson.RawValue) (bson.RawValue, error) {
	doc, err := bson.Marshal(bson.D{{Key: "_id", Value: id}})
	return bson.RawValue{Type: bson.TypeEmbeddedDocument, Value: doc}, err
}

// lookupByID builds the find of the one document with _id id in the
// collection m names, in the one form FerretDB does in SQL.
func lookupByID(m msgParts, id bson.RawValue) (message, error) {
	db, ok := m.body.Lookup("$db").StringValueOK()
	if !ok {
		return nil, errOutside
	}
	coll, ok := m.body.Index(0).Value().StringValueOK()
	if !ok {
		return nil, errOutside
	}
	body, err := bson.Marshal(bson.D{
		{Key: "find", Value: coll},
		{Key: "filter", Value: bson.D{{Key: "_id", Value: id}}},
		{Key: "limit", Value: int64(1)},
		{Key: "singleBatch", Value: true},
		{Key: "$db", Value: db},
	})
	if err != nil {
		return nil, err
	}
	return buildOpMsg(m.requestID, 0, 0, body, nil), nil
}

// lookup runs a lookupByID find and returns the documents of its reply
// (none or one) and the reply's requestID. docs is nil, without an error,
// if FerretDB answered with anything but a plain result: the caller then
// leaves the command to FerretDB, which will answer it with its error.
func lookup(b backendConn, find message) (docs []bson.Raw, replyID int32, err error) {
	reply, err := b.roundTrip(find)
	if err != nil {
		return nil, 0, err
	}
	m, err := splitOpMsg(reply)
	if err != nil || len(m.sequences) != 0 || m.body.Validate() != nil {
		return nil, 0, nil
	}
	if !isNumber(m.body.Lookup("ok"), 1) {
		return nil, 0, nil
	}
	cursor, ok := m.body.Lookup("cursor").DocumentOK()
	if !ok {
		return nil, 0, nil
	}
	if id, ok := cursor.Lookup("id").Int64OK(); !ok || id != 0 {
		return nil, 0, nil // singleBatch closes the cursor; anything else is unexpected
	}
	batch, ok := cursor.Lookup("firstBatch").ArrayOK()
	if !ok {
		return nil, 0, nil
	}
	values, err := batch.Values()
	if err != nil || len(values) > 1 {
		return nil, 0, nil
	}
	docs = []bson.Raw{}
	for _, v := range values {
		d, ok := v.DocumentOK()
		if !ok {
			return nil, 0, nil
		}
		docs = append(docs, d)
	}
	return docs, m.requestID, nil
}

// singleStatement returns the one statement of an update or delete command,
// whether the driver sent it in the body's array field or as a kind-1
// document sequence of that name, and a function that rebuilds the command
// with the statement replaced, in the same place.
func singleStatement(m msgParts, field string) (bson.Raw, func(bson.Raw) (msgParts, error), error) {
	inBody := m.body.Lookup(field)
	switch {
	case inBody.Type == bson.TypeArray && len(m.sequences) == 0:
		values, err := inBody.Array().Values()
		if err != nil || len(values) != 1 {
			return nil, nil, errOutside
		}
		stmt, ok := values[0].DocumentOK()
		if !ok {
			return nil, nil, errOutside
		}
		return stmt, func(s bson.Raw) (msgParts, error) {
			arr, err := bson.Marshal(bson.D{{Key: "0", Value: s}}) // a BSON array is a document keyed "0", "1"...
			if err != nil {
				return msgParts{}, err
			}
			n := m
			body, err := replaceField(m.body, field, bson.RawValue{Type: bson.TypeArray, Value: arr})
			n.body = body
			return n, err
		}, nil
	case inBody.Type == 0 && len(m.sequences) == 1 && m.sequences[0].id == field && len(m.sequences[0].docs) == 1:
		return m.sequences[0].docs[0], func(s bson.Raw) (msgParts, error) {
			n := m
			n.sequences = []docSequence{{id: field, docs: []bson.Raw{s}}}
			return n, nil
		}, nil
	}
	return nil, nil, errOutside
}

// replaceField returns doc with the value of its field key replaced by v,
// every other byte as it was: $db, lsid, txnNumber and the rest pass through
// untouched.
func replaceField(doc bson.Raw, key string, v bson.RawValue) (bson.Raw, error) {
	elems, err := doc.Elements()
	if err != nil {
		return nil, err
	}
	out := make([]byte, 4, len(doc)+len(v.Value))
	replaced := false
	for _, e := range elems {
		if e.Key() != key {
			out = append(out, e...)
			continue
		}
		out = append(out, byte(v.Type))
		out = append(out, key...)
		out = append(out, 0)
		out = append(out, v.Value...)
		replaced = true
	}
	if !replaced {
		return nil, fmt.Errorf("no field %q to replace", key)
	}
	out = append(out, 0)
	binary.LittleEndian.PutUint32(out, uint32(len(out)))
	return out, nil
}

// updateParses reports whether FerretDB's checks of an update document pass.
// FerretDB runs them before it looks for documents, so a malformed update
// fails even when nothing matches; the proxy answers "no match" itself only
// for updates that pass. It accepts a replacement document, or the common
// operators (those FerretDB checks only for their shape) with non-empty,
// non-positional paths no two of which overlap.
func updateParses(u bson.Raw) bool {
	elems, err := u.Elements()
	if err != nil {
		return false
	}
	operators := 0
	for _, e := range elems {
		if strings.HasPrefix(e.Key(), "$") {
			operators++
		}
	}
	if operators == 0 {
		return true // a replacement document
	}
	if operators != len(elems) {
		return false
	}
	var paths [][]string
	for _, e := range elems {
		switch e.Key() {
		case "$set", "$unset", "$inc", "$min", "$max", "$mul", "$setOnInsert",
			"$push", "$addToSet", "$pull", "$pullAll", "$pop":
		default:
			return false // $rename, $currentDate and $bit have checks of their own
		}
		fields, ok := e.Value().DocumentOK()
		if !ok {
			return false
		}
		fieldElems, err := fields.Elements()
		if err != nil {
			return false
		}
		for _, f := range fieldElems {
			path := strings.Split(f.Key(), ".")
			if slices.ContainsFunc(path, func(p string) bool { return p == "" || strings.HasPrefix(p, "$") }) {
				return false
			}
			for _, other := range paths {
				if isPrefix(path, other) || isPrefix(other, path) {
					return false // FerretDB: "Updating the path ... would create a conflict"
				}
			}
			paths = append(paths, path)
		}
	}
	return true
}

// isPrefix reports whether path a is b or an ancestor of it.
func isPrefix(a, b []string) bool {
	return len(a) <= len(b) && slices.Equal(a, b[:len(a)])
}

// isNumber reports whether v is a number (of a type the matcher compares)
// equal to want.
func isNumber(v bson.RawValue, want float64) bool {
	return isScalar(v) && v.IsNumber() && v.AsFloat64() == want
}

func isFalseOrAbsent(v bson.RawValue) bool {
	b, ok := v.BooleanOK()
	return v.Type == 0 || (ok && !b)
}

func isBoolOrAbsent(v bson.RawValue) bool {
	return v.Type == 0 || v.Type == bson.TypeBoolean
}

func requestIDOf(m message) int32 { return int32(binary.LittleEndian.Uint32(m[4:8])) }

func responseToOf(m message) int32 { return int32(binary.LittleEndian.Uint32(m[8:12])) }
