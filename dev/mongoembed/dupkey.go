package mongoembed

import (
	"strings"

	"go.mongodb.org/mongo-driver/v2/bson"
)

// MongoDB's code for a unique-index violation, and the one FerretDB gives
// an error it did not map to a MongoDB code.
const (
	codeDuplicateKey  = 11000
	codeInternalError = 1
)

// sqliteUniqueViolation is how SQLite's message for a unique-index violation
// begins; FerretDB v1 passes it on inside an InternalError.
const sqliteUniqueViolation = "UNIQUE constraint failed"

// translateDuplicateKey returns reply as MongoDB would have answered req
// when FerretDB v1 (SQLite backend) reports a unique-index violation as an
// InternalError carrying SQLite's message. FerretDB maps the violation to
// MongoDB's duplicate key 11000 on insert only; an update or findAndModify
// that sets a taken value, and a createIndexes of a unique index over
// values that are already repeated, come back as InternalError (code 1).
// MongoDB answers all three with 11000: a write error of the one update
// statement, a command error otherwise. Any other reply is returned as it
// is.
func translateDuplicateKey(name string, req, reply message) message {
	switch name {
	case "update", "findAndModify", "findandmodify", "createIndexes":
	default:
		return reply
	}
	r, err := splitOpMsg(reply)
	if err != nil || r.body.Validate() != nil || !isNumber(r.body.Lookup("ok"), 0) ||
		!isNumber(r.body.Lookup("code"), codeInternalError) {
		return reply
	}
	if msg, _ := r.body.Lookup("errmsg").StringValueOK(); !strings.Contains(msg, sqliteUniqueViolation) {
		return reply
	}
	db, coll := commandTarget(req)
	// FerretDB's own words for a duplicate insert; MongoDB adds the index
	// and key, which SQLite's message names only in its own terms.
	errmsg := "E11000 duplicate key error collection: " + db + "." + coll
	body := bson.D{
		{Key: "ok", Value: float64(0)},
		{Key: "errmsg", Value: errmsg},
		{Key: "code", Value: int32(codeDuplicateKey)},
		{Key: "codeName", Value: "DuplicateKey"},
	}
	if name == "update" && oneUpdateStatement(req) {
		// MongoDB reports a statement's failure inside a successful reply.
		// With more than one statement, which one failed (and how many
		// were applied before it) is lost, so the command error stays.
		body = bson.D{
			{Key: "n", Value: int32(0)},
			{Key: "nModified", Value: int32(0)},
			{Key: "writeErrors", Value: bson.A{bson.D{
				{Key: "index", Value: int32(0)},
				{Key: "code", Value: int32(codeDuplicateKey)},
				{Key: "errmsg", Value: errmsg},
			}}},
			{Key: "ok", Value: float64(1)},
		}
	}
	raw, err := bson.Marshal(body)
	if err != nil {
		return reply
	}
	return buildOpMsg(requestIDOf(reply), responseToOf(reply), 0, raw, nil)
}

// oneUpdateStatement reports whether the update command req carries exactly
// one statement, as the driver's UpdateOne, UpdateMany and ReplaceOne send.
func oneUpdateStatement(req message) bool {
	m, err := splitOpMsg(req)
	if err != nil {
		return false
	}
	_, _, err = singleStatement(m, "updates")
	return err == nil
}
